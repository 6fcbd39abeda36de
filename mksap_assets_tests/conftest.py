"""Shared fixtures: the bundled sample bank, the real corpus (skipped when absent), isolated settings."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mksap_assets.domain.config import LLMConfig
from mksap_assets.settings import PROJECT_ROOT, Settings
from mksap_assets_tests.fake_api_fixtures import fake_api, fake_api_factory  # noqa: F401

SAMPLE_DIR = PROJECT_ROOT / "data" / "questions"
CORPUS_DIR = PROJECT_ROOT.parent / "shared" / "corpus"


@pytest.fixture
def corpus_dir() -> Path:
    if not CORPUS_DIR.is_dir():
        pytest.skip("the real corpus (../shared/corpus) is not present")
    return CORPUS_DIR


@pytest.fixture
def sample_bank(tmp_path: Path) -> Path:
    """A writable copy of the bundled sample questions."""
    bank = tmp_path / "questions"
    shutil.copytree(SAMPLE_DIR, bank)
    return bank


@pytest.fixture
def settings(tmp_path: Path, sample_bank: Path) -> Settings:
    return Settings(
        data_dir=sample_bank,
        output_dir=tmp_path / "output",
        store_dir=tmp_path / "store",
        dagster_home=tmp_path / "dagster_home",
        llm=LLMConfig(cache_dir=tmp_path / "llm-cache"),
        validation_workers=0,  # in-thread: no worker process to start per test (the pool has its own tests)
        engine_process=False,  # likewise (test_runner.py runs the engine process)
    )
