"""Nothing lost under API faults or a killed run, nothing paid twice, and no secret written anywhere."""

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import dagster as dg
import orjson
import pytest

from mksap_assets.cli import instance_config
from mksap_assets.definitions import build_definitions
from mksap_assets.domain.inputs import discover_questions, load_raw_question
from mksap_assets.partitions import question_partitions, range_tags
from mksap_assets.settings import PROJECT_ROOT, LLMSettings, Settings
from mksap_assets_tests.helpers import sample_ids

API_KEY = "sk-ant-planted-secret-6f1c2b9a7d"
BIN = Path(sys.executable).parent


def _claude(settings: Settings, cache_dir: Path, **llm) -> Settings:
    defaults = {"provider": "anthropic", "cache_dir": cache_dir, "max_retries": 4, "timeout": 1.0}
    return replace(settings, llm=LLMSettings(**{**defaults, **llm}))


def _run(settings: Settings, instance: dg.DagsterInstance, keys: list[str]):
    job = build_definitions(settings).resolve_implicit_global_asset_job_def()
    return job.execute_in_process(instance=instance, tags=range_tags(keys[0], keys[-1]), raise_on_error=False)


def _statements(output_dir: Path) -> dict[str, list]:
    def texts(document):
        sections = [*document["true_statements"].values(), document["table_statements"]["statements"]]
        return [(s["statement"], s["cloze_candidates"]) for section in sections for s in section]

    return {p.stem: texts(orjson.loads(p.read_bytes())) for p in sorted(output_dir.glob("[a-z][a-z]/*.json"))}


def _expected_calls(data_dir: Path) -> int:
    raws = [load_raw_question(f) for f in discover_questions(data_dir)]
    return sum(1 + bool(r.key_points) + len(r.educational_tables) for r in raws)


def test_twenty_percent_faults_lose_nothing(settings, tmp_path, fake_api_factory, monkeypatch, capsys):
    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
    keys = sample_ids(settings.data_dir)

    clean_fake = fake_api_factory()
    monkeypatch.setenv("ANTHROPIC_BASE_URL", clean_fake.url)
    clean = replace(_claude(settings, tmp_path / "clean-cache"), output_dir=tmp_path / "clean-out",
                    store_dir=tmp_path / "clean-store")
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("question", keys)
        assert _run(clean, instance, keys).success
    expected = _statements(clean.output_dir)

    faulty = fake_api_factory(fault_rate=0.2, slow_seconds=2.0, error_retry_after_ms=10, seed=7)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", faulty.url)
    faulted = _claude(settings, tmp_path / "faulty-cache")
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("question", keys)
        attempts = 0
        while attempts < 4:  # "failed only" reruns: the cache makes the finished questions free
            attempts += 1
            statuses = instance.get_status_by_partition(
                dg.AssetKey("exported_question"), keys, question_partitions) or {}
            failed = [k for k in keys if getattr(statuses.get(k), "value", None) != "MATERIALIZED"]
            if not failed:
                break
            _run(faulted, instance, failed if attempts > 1 else keys)
        exported = instance.fetch_materializations(dg.AssetKey("exported_question"), limit=1000).records
    stats = faulty.stats
    with capsys.disabled():
        print(f"\n20% faults: {stats.total_requests} requests reached the fake for {_expected_calls(settings.data_dir)}"
              f" needed calls; faults {dict(stats.faults)}; {attempts} run(s)")
    assert sum(stats.faults.values()) > 0
    assert _statements(faulted.output_dir) == expected
    assert sorted(record.asset_materialization.partition for record in exported) == keys  # each exactly once
