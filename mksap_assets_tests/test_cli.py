"""The `mksap` command and the README's shell commands, run as a user would."""

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from dotenv import dotenv_values

from mksap_assets.cli import cmd_init, main
from mksap_assets.settings import PROJECT_ROOT, Settings
from mksap_assets_tests.helpers import edit_question, question_json, sample_ids

BIN = Path(sys.executable).parent


def _environment(settings: Settings) -> dict[str, str]:
    """This process's environment pointing `mksap` at the test's bank, outputs, store and instance."""
    return {
        **os.environ,
        "MKSAP_DATA_DIR": str(settings.data_dir),
        "MKSAP_OUTPUT_DIR": str(settings.output_dir),
        "MKSAP_STORE_DIR": str(settings.store_dir),
        "DAGSTER_HOME": str(settings.dagster_home),
    }


@pytest.mark.corpus
def test_check_inputs_on_the_real_corpus(corpus_dir: Path, capsys):
    assert main(["check-inputs", str(corpus_dir)]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "42 ok, 0 bad"


def test_check_inputs_reports_each_bad_file_and_exits_1(sample_bank: Path, capsys):
    keys = sample_ids(sample_bank)
    edit_question(sample_bank, keys[0], key_points="not a list")
    question_json(sample_bank, keys[1]).write_text("[1, 2")
    assert main(["check-inputs", str(sample_bank)]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == f"{len(keys) - 2} ok, 2 bad"
    path, field, reason = lines[0].split("\t")
    assert path.endswith(f"{keys[0]}.json") and field == "key_points" and reason
    assert lines[1].split("\t")[1] == "json"


def test_check_inputs_on_a_missing_dir(tmp_path: Path, capsys):
    assert main(["check-inputs", str(tmp_path / "nowhere")]) == 1
    assert capsys.readouterr().out.strip().endswith("0 ok, 1 bad")


def test_init_points_dagster_at_the_instance_unless_the_user_chose_one(settings: Settings, tmp_path: Path):
    env_file = tmp_path / ".env"
    env_file.write_text("ANTHROPIC_MODEL=x\nDAGSTER_HOME=/old\n")
    assert cmd_init(settings, env_file=env_file) == 0
    assert (settings.dagster_home / "dagster.yaml").is_file()
    assert env_file.read_text().count("DAGSTER_HOME=") == 1 and "ANTHROPIC_MODEL=x" in env_file.read_text()
    assert cmd_init(settings, env_file=env_file) == 0  # idempotent
    assert env_file.read_text().count("DAGSTER_EVENT_BATCH_SIZE=") == 1
    os.environ.pop("DAGSTER_EVENT_BATCH_SIZE", None)
    assert dotenv_values(env_file)["DAGSTER_EVENT_BATCH_SIZE"] == "1000"
    os.environ.pop("DAGSTER_HOME", None)  # xdist workers do not share env
    assert dotenv_values(env_file)["DAGSTER_HOME"] == str(PROJECT_ROOT / ".dagster_home")
    os.environ["DAGSTER_HOME"] = "/mine"
    try:
        assert dotenv_values(env_file)["DAGSTER_HOME"] == "/mine"
    finally:
        del os.environ["DAGSTER_HOME"]


@pytest.mark.slow
def test_run_then_the_readme_single_partition_command(settings: Settings):
    """`mksap run` over a bank, then the README's `dagster asset materialize … --partition` on the same instance."""
    env = _environment(settings)
    keys = sample_ids(settings.data_dir)
    run = subprocess.run([BIN / "mksap", "run"], env=env, capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert run.returncode == 0, run.stderr[-2000:]
    assert f"questions exported: {len(keys)}" in run.stdout
    assert f"output folder:      {settings.output_dir}" in run.stdout
    exported = sorted(p.stem for p in settings.output_dir.glob("[a-z][a-z]/*.json"))
    assert exported == keys
    # The deck and the report come with every `mksap run`, and the report agrees with the exports.
    assert (settings.output_dir / "anki" / "mksap.apkg").is_file()
    preview = settings.output_dir / "anki" / "preview" / "index.html"
    assert f"Card preview:       {preview}" in run.stdout and preview.is_file()
    report_rows = (settings.output_dir / "report" / "questions.csv").read_text().strip().splitlines()
    assert len(report_rows) == 1 + len(keys)
    statements = sum(
        len(d["true_statements"]["from_critique"]) + len(d["true_statements"]["from_key_points"])
        + len(d["table_statements"]["statements"])
        for d in (orjson.loads(p.read_bytes()) for p in settings.output_dir.glob("[a-z][a-z]/*.json"))
    )
    assert f"statements:         {statements}" in run.stdout
    assert f"| statements | {statements} |" in (settings.output_dir / "report" / "summary.md").read_text()
    assert run.stdout.count("Dagster run ") == 1  # all questions, the deck and the report: one run

    # A scattered set (five ranges) is one run over a covering range that works on those five only.
    scattered = keys[1::3]
    before = {key: (settings.output_dir / key[:2] / f"{key}.json").stat().st_mtime_ns for key in keys}
    again = subprocess.run([BIN / "mksap", "run", *(f"--partition={key}" for key in scattered)], env=env,
                           capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout.count("Dagster run ") == 1 and f"questions exported: {len(scattered)}" in again.stdout
    touched = [k for k in keys if (settings.output_dir / k[:2] / f"{k}.json").stat().st_mtime_ns != before[k]]
    assert touched == scattered

    target = settings.output_dir / keys[0][:2] / f"{keys[0]}.json"
    before = orjson.loads(target.read_bytes())["provenance"]["exported_at"]
    shell = subprocess.run(
        [BIN / "dagster", "asset", "materialize", "-m", "mksap_assets.definitions", "--select", "*",
         "--partition", keys[0]],
        env=env, capture_output=True, text=True, cwd=PROJECT_ROOT,
    )
    assert shell.returncode == 0, shell.stderr[-2000:]
    assert orjson.loads(target.read_bytes())["provenance"]["exported_at"] != before
    assert (settings.dagster_home / "storage").is_dir()


def test_importing_the_cli_leaves_dagster_and_pandas_unimported():
    # A run's engine process and validation workers are spawned, and each re-imports the main script (`mksap`).
    code = "import sys, mksap_assets.cli; print(sorted({'dagster', 'pandas', 'spacy'} & set(sys.modules)))"
    imported = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert imported.strip() == "[]"


def test_plan_and_check_inputs_do_not_hang_on_a_fifo_table(settings: Settings):
    """Opening a FIFO blocks until a writer comes: these commands (and the sensor's tick) must never open one."""
    env = _environment(settings)
    table = next(settings.data_dir.glob("*/*/tables/*.html"))
    table.unlink()
    os.mkfifo(table)
    check = subprocess.run([BIN / "mksap", "check-inputs"], env=env, capture_output=True, text=True, timeout=120)
    assert check.returncode == 1
    assert f"{table}\tfile\ta FIFO, not a regular file" in check.stdout.splitlines()
    assert check.stdout.splitlines()[-1] == f"{len(sample_ids(settings.data_dir)) - 1} ok, 1 bad"
    plan = subprocess.run([BIN / "mksap", "plan"], env=env, capture_output=True, text=True, timeout=120,
                          cwd=PROJECT_ROOT)
    assert plan.returncode == 0, plan.stderr[-2000:]
    assert f"{table.parents[1].name}\tnew" in plan.stdout.splitlines()
