"""The pinned extraction settings as plain data: validation, the first pin, and what a process lacks."""

import pytest

from mksap_assets.domain.extraction.settings import ExtractionSettings

PINNED = ExtractionSettings("anthropic", "claude-haiku-5-5", "folded")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (("openai", "m", "folded"), "provider must be one of anthropic, offline, not 'openai'"),
        (("", "m", "folded"), "provider must be one of anthropic, offline, not ''"),
        (("offline", " ", "folded"), "model must not be empty"),
        (("offline", "m", "inline"), "cloze mode must be one of folded, separate, not 'inline'"),
    ],
)
def test_invalid_values_are_refused(fields, message):
    with pytest.raises(ValueError) as error:
        ExtractionSettings(*fields)
    assert str(error.value) == message


def test_the_first_pin_takes_the_provider_asked_for_else_follows_the_key():
    asked = ExtractionSettings.initial(provider="offline", model="m", cloze_mode="separate", has_api_key=True)
    assert asked == ExtractionSettings("offline", "m", "separate")
    for has_api_key, provider in ((True, "anthropic"), (False, "offline")):
        unset = ExtractionSettings.initial(provider="", model="m", cloze_mode="folded", has_api_key=has_api_key)
        assert unset.provider == provider


def test_stored_form_round_trips():
    assert ExtractionSettings.from_json(PINNED.to_json()) == PINNED


def test_differing_lists_only_other_values():
    assert PINNED.differing({"provider": "offline", "model": "claude-haiku-5-5"}) == {"provider": "offline"}
    assert PINNED.differing({}) == {}


def test_anthropic_without_a_key_names_the_process_and_never_falls_back():
    reason = PINNED.missing_requirement(has_variable=lambda name: False, process="the process running this sensor")
    assert reason.startswith(
        "pinned provider anthropic needs ANTHROPIC_API_KEY, which the process running this sensor does not have;"
    )
    assert "mksap settings --provider offline" in reason
    assert PINNED.missing_requirement(has_variable=lambda name: name == "ANTHROPIC_API_KEY", process="p") is None
    offline = ExtractionSettings("offline", "claude-haiku-5-5", "folded")
    assert offline.missing_requirement(has_variable=lambda name: False, process="p") is None
