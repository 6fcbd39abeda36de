"""The provider seam: a second provider, registered in the registry, drives the LLM extractor through a whole
question (extraction, validation, the repair turn, the export whose fingerprint the sensor expects) without the
Anthropic SDK ever being imported. The fake model answers by the rules of the fake Messages API."""

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from pydantic import ValidationError

from mksap_assets.domain.config import LLMConfig
from mksap_assets.domain.engine.changes import expected_fingerprint
from mksap_assets.domain.engine.pipeline import VALIDATED, QuestionPipeline
from mksap_assets.domain.engine.spec import build_extractor
from mksap_assets.domain.engine.store import ArtifactStore
from mksap_assets.domain.exports.document import export_path
from mksap_assets.domain.extraction import prompts, registry
from mksap_assets.domain.extraction.schemas import (
    CLOZES_TOOL,
    REPAIRS_TOOL,
    STATEMENTS_TOOL,
)
from mksap_assets.domain.inputs.bank import question_file_for
from mksap_assets.domain.llm.meter import current_usage
from mksap_assets.domain.llm.provider import (
    ExtractionError,
    LLMProvider,
    ModelT,
    ToolCall,
)
from mksap_assets.domain.statements import ValidatedStatements
from mksap_assets.settings import PROJECT_ROOT
from mksap_assets_tests.helpers import call_and_close
from mksap_devtools.fake_api import clozes_input, repairs_input, statements_input

QUESTION = "cvmcq26001"
CASE_STATEMENT = "This patient has 7 symptoms."  # case narration with a number of its own: blocked, sent to repair


class FakeProvider:
    name = "fake"
    endpoint = None

    def __init__(self, settings: LLMConfig):
        self.model = settings.model
        self.calls: list[ToolCall] = []
        self.closed = False

    async def call_tool(self, call: ToolCall[ModelT]) -> ModelT:
        self.calls.append(call)
        usage = current_usage()
        usage.calls += 1
        usage.input_tokens += len(" ".join((*call.instructions, call.user_text))) // 4
        name = call.tool["name"]
        if name == STATEMENTS_TOOL:
            answer = statements_input(call.user_text, call.tool)
            if 'kind="critique"' in call.user_text:
                answer["statements"].append({"statement": CASE_STATEMENT, "extra_field": None,
                                             "cloze_primary": "symptoms", "cloze_secondary": []})
        elif name == CLOZES_TOOL:
            answer = clozes_input(call.user_text)
        elif name == REPAIRS_TOOL:
            answer = repairs_input(call.user_text)
        else:
            raise ExtractionError(f"{name}: not a tool of this fake")
        return call.output.model_validate(answer)

    async def aclose(self) -> None:
        self.closed = True


class FakeKind:
    name = "fake"
    credential = None

    def __init__(self):
        self.built: list[FakeProvider] = []

    def build(self, settings: LLMConfig) -> LLMProvider:
        self.built.append(FakeProvider(settings))
        return self.built[-1]

    def endpoint(self) -> str | None:
        return None


SETTINGS = LLMConfig(
    model="fake-model", concurrency=4, rpm=None, itpm=None, otpm=None, timeout=5.0, max_retries=0,
    request_deadline=10.0, max_pause=1.0, cache_dir=Path("unused"), cache_enabled=False,
)


def run_one_question(data_dir: Path, work_dir: Path, kind: FakeKind) -> tuple[FakeProvider, ValidatedStatements]:
    """QUESTION through every stage, with the extractor the registry builds for `kind` (registered by the caller)."""
    extractor = registry.build_extractor(SETTINGS.replace(provider=kind.name))
    store = ArtifactStore(work_dir / "store")
    pipeline = QuestionPipeline(data_dir, work_dir / "output", store, extractor)
    outcome = call_and_close(pipeline, lambda p: p.run(QUESTION))
    assert outcome.ok, outcome.error
    [provider] = kind.built
    return provider, store.load(VALIDATED, QUESTION, ValidatedStatements)


@pytest.fixture
def fake_kind(monkeypatch) -> FakeKind:
    kind = FakeKind()
    monkeypatch.setitem(registry.LLM_PROVIDERS, kind.name, kind)
    return kind


def test_a_registered_provider_drives_the_extractor_end_to_end(settings, tmp_path, fake_kind):
    provider, validated = run_one_question(settings.data_dir, tmp_path, fake_kind)
    assert provider.closed
    tools = [call.tool["name"] for call in provider.calls]
    assert tools.count(REPAIRS_TOOL) == 1 and STATEMENTS_TOOL in tools and CLOZES_TOOL not in tools  # folded
    # The extractor asks in neutral terms: the prompt files' text, no provider's markup.
    for call in provider.calls:
        task = "repair" if call.tool["name"] == REPAIRS_TOOL else call.user_text.split('kind="')[1].split('"')[0]
        assert call.instructions == prompts.instructions(task)
    assert validated.validation.repair.statements_sent >= 1
    assert validated.validation.repair.usage.calls == 1

    document = orjson.loads(export_path(tmp_path / "output", QUESTION).read_bytes())
    provenance = document["provenance"]
    assert (provenance["extractor"], provenance["model"], provenance["endpoint"]) == ("fake", "fake-model", None)
    assert provenance["llm_usage"]["calls"] == len(tools)  # the repair turn's call included
    identity = registry.extractor_identity("fake", model="fake-model", cloze_mode="folded")
    _, expected = expected_fingerprint(question_file_for(settings.data_dir, QUESTION), identity)
    assert provenance["fingerprint"] == expected


def test_the_pipeline_spec_builds_its_extractor_from_the_registry(settings, fake_kind):
    from mksap_assets.resources import PipelineResource

    offline = settings.replace(llm=settings.llm.replace(provider="offline"))
    spec = PipelineResource.from_settings(offline).spec()
    extractor = build_extractor(spec.replace(llm=spec.llm.replace(provider="fake", model="fake-2")))
    assert (extractor.name, extractor.model) == ("fake", "fake-2") and fake_kind.built[0].model == "fake-2"


def test_an_unknown_provider_is_refused_with_the_names_it_could_be():
    with pytest.raises(ValueError, match="provider must be one of anthropic, offline, not 'nobody'"):
        registry.build_extractor(SETTINGS.model_copy(update={"provider": "nobody"}))  # past the config's check
    with pytest.raises(ValidationError, match="provider must be one of anthropic, offline"):
        SETTINGS.replace(provider="nobody")
    with pytest.raises(ValueError, match="not 'nobody'"):
        registry.extractor_identity("nobody", model="m", cloze_mode="folded")


def test_the_seam_needs_no_anthropic_import(settings, tmp_path):
    """The same question in a fresh interpreter where `import anthropic` fails."""
    script = (
        "import sys; sys.modules['anthropic'] = None\n"  # every import of the SDK now raises ImportError
        "from pathlib import Path\n"
        "from mksap_assets.domain.extraction import registry\n"
        "from mksap_assets_tests.domain.test_provider_seam import FakeKind, run_one_question\n"
        "kind = registry.LLM_PROVIDERS['fake'] = FakeKind()\n"
        f"provider, validated = run_one_question(Path({str(settings.data_dir)!r}), Path({str(tmp_path)!r}), kind)\n"
        "assert validated.validation.statements_passed > 0\n"
        "assert not [name for name in sys.modules if name.split('.')[0] == 'anthropic' and sys.modules[name]]\n"
        "print('ok', len(provider.calls))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok ")
