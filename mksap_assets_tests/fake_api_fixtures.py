"""Pytest fixtures for the fake Anthropic API (import them into conftest.py).

    from mksap_assets_tests.fake_api_fixtures import fake_api, fake_api_factory  # noqa: F401

- ``fake_api``: a running `FakeAnthropic` on a free loopback port, no latency, no limits, no faults.
- ``fake_api_factory``: ``make(**kwargs) -> FakeAnthropic`` (started); every server it made is stopped at teardown.

Point the SDK at it with
``AsyncAnthropic(base_url=fake.url, api_key="sk-test-fake", _strict_response_validation=True)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mksap_devtools.fake_api import FakeAnthropic

FakeApiFactory = Callable[..., FakeAnthropic]


@pytest.fixture
def fake_api() -> Iterator[FakeAnthropic]:
    fake = FakeAnthropic(latency=0.0).start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def fake_api_factory() -> Iterator[FakeApiFactory]:
    made: list[FakeAnthropic] = []

    def make(**kwargs: Any) -> FakeAnthropic:
        kwargs.setdefault("latency", 0.0)
        fake = FakeAnthropic(**kwargs).start()
        made.append(fake)
        return fake

    try:
        yield make
    finally:
        for fake in made:
            fake.stop()
