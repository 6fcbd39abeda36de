"""Which API answered: the endpoint as recorded (never a credential), its labels, and the cache key it enters."""

import pytest

from mksap_assets.domain.llm.cache import request_key
from mksap_assets.domain.llm.providers.anthropic.endpoint import (
    INVALID_ENDPOINT,
    api_label,
    endpoint_name,
    endpoint_of,
    is_billed,
    sdk_endpoint,
)

# The key request_key gave this request before endpoints were keyed (commit 0aaf130): the real API's cache entries
# must stay reachable.
REQUEST = {"model": "claude-haiku-5-5", "messages": [{"role": "user", "content": "a"}], "max_tokens": 10}
KEY_BEFORE_ENDPOINTS = "2efc1da07519793fa1a2b0bcab2acad4416635b16e6ba9748c0e6d1ad9ee5813"


@pytest.mark.parametrize("url", [
    "https://api.anthropic.com", "https://api.anthropic.com/", "https://API.Anthropic.com:443",
    " https://api.anthropic.com/v1",
])
def test_anthropics_own_api_is_not_recorded(url: str):
    assert endpoint_of(url) is None
    assert is_billed(endpoint_of(url)) and endpoint_name(endpoint_of(url)) == "https://api.anthropic.com"


@pytest.mark.parametrize(("url", "recorded"), [
    ("http://127.0.0.1:8765", "http://127.0.0.1:8765"),
    ("http://sk-user:sk-secret@127.0.0.1:8765/v1?key=sk-query#frag", "http://127.0.0.1:8765"),
    ("https://proxy.example.org/anthropic?token=sk-query", "https://proxy.example.org"),
    ("http://api.anthropic.com", "http://api.anthropic.com"),  # not the API Anthropic bills through
    ("https://api.anthropic.com:8443", "https://api.anthropic.com:8443"),
    ("http://[::1]:9000/", "http://[::1]:9000"),
])
def test_another_endpoint_is_recorded_as_scheme_host_and_port_only(url: str, recorded: str):
    assert endpoint_of(url) == recorded
    assert not is_billed(endpoint_of(url))
    assert "sk-" not in recorded


@pytest.mark.parametrize("url", ["http://127.0.0.1:sk-secret/", "sk-secret-without-scheme", ""])
def test_an_unparseable_url_is_labelled_without_echoing_it(url: str):
    assert endpoint_of(url) == INVALID_ENDPOINT and "sk-" not in INVALID_ENDPOINT


def test_the_log_label_names_the_endpoint_and_says_not_billed():
    fake = api_label("http://127.0.0.1:8765")
    assert fake == "anthropic API at 127.0.0.1:8765 (not api.anthropic.com); costs are estimates, not billed"
    assert "not billed" not in api_label(None) and "api.anthropic.com" in api_label(None)


def test_the_sdk_resolves_the_endpoint_from_the_environment(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://user:sk-secret@127.0.0.1:8765/")
    assert sdk_endpoint() == "http://127.0.0.1:8765"
    monkeypatch.delenv("ANTHROPIC_BASE_URL")
    assert sdk_endpoint() is None


def test_the_real_apis_cache_key_is_unchanged_and_another_endpoint_has_its_own():
    assert request_key(REQUEST, "v1") == KEY_BEFORE_ENDPOINTS
    assert request_key(REQUEST, "v1", None) == KEY_BEFORE_ENDPOINTS
    fake = request_key(REQUEST, "v1", "http://127.0.0.1:8765")
    assert fake != KEY_BEFORE_ENDPOINTS and fake != request_key(REQUEST, "v1", "http://127.0.0.1:8766")
