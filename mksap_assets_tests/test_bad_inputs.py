"""A corpus of crafted bad inputs: each gives a clear error naming the file and the field, fails only its own
partition in a multi-partition run, and nothing is written outside the pipeline's own folders."""

import shutil
from pathlib import Path

import dagster as dg
import orjson
import pytest

from mksap_assets.cli import main
from mksap_assets.definitions import build_definitions
from mksap_assets.domain.exports.document import export_path
from mksap_assets.partitions import question_partitions, range_tags
from mksap_assets_tests.helpers import sample_ids

TEMPLATE = "cvmcq26001"


def _clone(bank: Path, new_id: str, system: str | None = None) -> Path:
    """A copy of a good question under a new id (and folder); returns its JSON path."""
    system = system or new_id[:2]
    source = bank / TEMPLATE[:2] / TEMPLATE
    target = bank / system / new_id
    shutil.copytree(source, target)
    (target / f"{TEMPLATE}.json").rename(target / f"{new_id}.json")
    path = target / f"{new_id}.json"
    document = orjson.loads(path.read_bytes())
    document.update(question_id=new_id, category=new_id[:2])
    path.write_bytes(orjson.dumps(document))
    return path


def _edit(path: Path, **changes) -> None:
    document = orjson.loads(path.read_bytes())
    for name, value in changes.items():
        if value is None:
            document.pop(name)
        else:
            document[name] = value
    path.write_bytes(orjson.dumps(document))


def _write(path: Path, content: bytes) -> None:
    path.write_bytes(content)


# id -> (how to break it, the field the error must name)
CASES = {
    "cvmcq26101": (lambda p: _write(p, b'{"question_id": '), "json"),
    "cvmcq26102": (lambda p: _write(p, p.read_bytes()[: len(p.read_bytes()) // 2]), "json"),
    "cvmcq26103": (lambda p: _edit(p, key_points="one string"), "key_points"),
    "cvmcq26104": (lambda p: _edit(p, options={"A": "x"}), "options"),
    "cvmcq26105": (lambda p: _edit(p, critique=None), "critique"),
    "cvmcq26106": (lambda p: _edit(p, critique=""), "critique"),
    "cvmcq26107": (lambda p: _edit(p, critique="A long critique. " * 600_000), "critique"),
    "cvmcq26108": (lambda p: _write(p, bytes(range(256)) * 4), "json"),
    # valid JSON text, but encoded in Latin-1 ("é" as one byte, 0xE9) instead of UTF-8
    "cvmcq26109": (lambda p: _write(p, p.read_bytes().decode().replace("(Option", "(Opción").encode("latin-1", "replace")),
                   "json"),
    "cvmcq26110": (lambda p: _edit(p, question_id="cvmcq26999"), "question_id"),
    "cvmcq26111": (lambda p: _edit(p, question_id="../../etc/passwd"), "question_id"),
    "cvmcq26112": (lambda p: _edit(p, critique="Useful fact.<script>alert('x')</script> More text here."), "critique"),
    "cvmcq26113": (lambda p: _edit(p, media={"tables": ["tables/missing_table.html"], "images": []}),
                   "media.tables.0"),
    "cvmcq26114": (lambda p: [_write(t, b"<div>no table here</div>") for t in (p.parent / "tables").glob("*.html")],
                   "table"),
    "cvmcq26115": (lambda p: _edit(p, options=[{"letter": "A", "text": "x"}, {"letter": "A", "text": "y"}]),
                   "options"),
    "cvmcq26116": (lambda p: _edit(p, category="np"), "category"),
    "cvmcq26117": (lambda p: _write(p, b"[1, 2, 3]"), "(root)"),
    "cvmcq26118": (lambda p: _edit(p, media=None), "media"),
    "cvmcq26119": (lambda p: _edit(p, educational_objective=42), "educational_objective"),
    "cvmcq26120": (lambda p: [_write(t, "<table><caption>é</caption></table>".encode("latin-1"))
                              for t in (p.parent / "tables").glob("*.html")], "file"),
    "cvmcq26121": (lambda p: _edit(p, user_performance={"correct_answer": "Z1"}), "user_performance.correct_answer"),
    "cvmcq26122": (lambda p: _edit(p, key_points=["Fine text <iframe src='x'></iframe>"]), "key_points"),
    # inline formatting is allowed, but not with a script in it, nor escaped markup
    "cvmcq26124": (lambda p: _edit(p, educational_objective='Treat <i onmouseover="x()">this</i> first.'),
                   "educational_objective"),
    "cvmcq26125": (lambda p: _edit(p, critique='See <a href="javascript:x()">this link</a> for more.'), "critique"),
    "cvmcq26126": (lambda p: _edit(p, critique="Fine text &lt;script&gt;x()&lt;/script&gt; here."), "critique"),
}


@pytest.fixture
def bad_bank(sample_bank: Path) -> Path:
    for question_id, (breaker, _) in CASES.items():
        breaker(_clone(sample_bank, question_id))
    _clone(sample_bank, "cvmcq26001", system="np")  # a duplicate id filed under another system
    confusable = sample_bank / "cv" / "сvmcq26123"  # Cyrillic "с": looks like a valid id, is not
    confusable.mkdir()
    (confusable / "сvmcq26123.json").write_text("{}")
    return sample_bank


def test_check_inputs_names_file_and_field_for_every_bad_input(bad_bank: Path, capsys):
    assert main(["check-inputs", str(bad_bank)]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    reported = {}
    for line in lines[:-1]:
        path, field, reason = line.split("\t")
        reported[path] = (field, reason)
        assert reason
    for question_id, (_, field) in CASES.items():
        hits = [(p, f) for p, (f, _) in reported.items() if f"/{question_id}/" in p]
        assert hits, question_id
        assert hits[0][1] == field, (question_id, hits)
    assert any("/np/cvmcq26001/" in p and f == "question_id" for p, (f, _) in reported.items())
    assert any("сvmcq26123" in p and f == "question_id" for p, (f, _) in reported.items())
    assert lines[-1] == f"16 ok, {len(CASES) + 2} bad"


def test_bad_inputs_fail_only_their_own_partitions(bad_bank: Path, settings):
    before = {p: p.read_bytes() for p in bad_bank.rglob("*") if p.is_file()}
    keys = sorted({k for k in sample_ids(bad_bank) if k.isascii()})  # the confusable id is never a partition
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("question", keys)
        job = build_definitions(settings).resolve_implicit_global_asset_job_def()
        result = job.execute_in_process(instance=instance, tags=range_tags(keys[0], keys[-1]), raise_on_error=False)
        statuses = instance.get_status_by_partition(dg.AssetKey("exported_question"), keys, question_partitions)
    assert not result.success
    failed = {k for k, s in statuses.items() if s == dg.AssetPartitionStatus.FAILED}
    assert failed == set(CASES)
    for key in keys:
        assert export_path(settings.output_dir, key).exists() == (key not in CASES)
    after = {p: p.read_bytes() for p in bad_bank.rglob("*") if p.is_file()}
    assert after == before  # inputs untouched, nothing written into the bank
    tmp_root = Path(settings.output_dir).parent
    written = {p.relative_to(tmp_root).parts[0] for p in tmp_root.rglob("*") if p.is_file()}
    assert written <= {"questions", "output", "store"}
