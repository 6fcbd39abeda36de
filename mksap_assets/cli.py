"""The `mksap` command: set-up, input checks, partition sync and one-shot runs from a shell.

It uses the same data dir (MKSAP_DATA_DIR), output dir (MKSAP_OUTPUT_DIR) and Dagster instance (DAGSTER_HOME,
default <project>/.dagster_home) as `dagster dev` and the sensor.

Module-level imports stay light: a run's engine process and validation workers are spawned, and a spawned process
re-imports the main script (`mksap`, hence this module) before it starts; heavy imports happen in the commands.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from mksap_assets.domain.errors import InputError
from mksap_assets.domain.extraction.registry import provider_names
from mksap_assets.domain.extraction.settings import CLOZE_MODES, ExtractionSettings
from mksap_assets.domain.inputs.bank import discover_questions, load_raw_question
from mksap_assets.settings import (
    PINNED_ENV,
    PROJECT_ROOT,
    ConfigError,
    Settings,
    pinned_choices_from_env,
)
from mksap_assets.storage.profiles import PROFILES

ENV_FILE = PROJECT_ROOT / ".env"
# Per-event DEBUG lines would bury the summary; the run's full event log is in the instance (and the UI).
QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def _dagster_home_line() -> str:
    # Dagster's CLI loads ./.env before it resolves DAGSTER_HOME, and python-dotenv expands ${VAR:-default}: a
    # DAGSTER_HOME the user exported wins, otherwise `dagster dev` run from the project uses the project's instance.
    return f"DAGSTER_HOME=${{DAGSTER_HOME:-{PROJECT_ROOT / '.dagster_home'}}}"


def cmd_init(settings: Settings, env_file: Path = ENV_FILE, storage: str | None = None, force: bool = False) -> int:
    """Install a storage profile's dagster.yaml in the instance folder unless it has one (`force`: replace it,
    keeping the old one), write the .env lines that point Dagster at it, and pin the extraction settings in the
    instance unless it has them. `storage`: the profile (default: MKSAP_STORAGE, else sqlite)."""
    from mksap_assets.resources import PipelineResource
    from mksap_assets.storage.postgres import PostgresUnavailable

    profile = storage or settings.storage
    installed = _write_instance_files(settings, profile, env_file, force=force)
    try:
        with _instance(settings) as instance:
            pinned = PipelineResource.from_settings(settings).pinned_settings(instance)
    except PostgresUnavailable as error:
        print(f"mksap init: {error}", file=sys.stderr)
        return 1
    asked = storage or (profile if "storage" in settings.model_fields_set else None)  # by the option or variable
    print(f"Dagster instance: {settings.dagster_home}")
    print(f"Storage:          {installed.report(asked)}")
    print(f"Extraction:       {pinned.describe()} (change with `mksap settings`)")
    return 0


def _write_instance_files(settings: Settings, profile: str | None = None, env_file: Path = ENV_FILE, *,
                          force: bool = False):
    """The instance's dagster.yaml (storage.profiles.install: never replaced unless `force`) and the .env lines."""
    # Imported here, as in _instance: most commands do not need them.
    from mksap_assets.storage.event_batches import event_batch_env_line
    from mksap_assets.storage.postgres import postgres_url_env_line
    from mksap_assets.storage.profiles import install

    installed = install(settings.dagster_home, profile or settings.storage, force=force)
    lines = env_file.read_text().splitlines() if env_file.exists() else []
    ours = [_dagster_home_line(), event_batch_env_line(), postgres_url_env_line()]
    names = tuple(line.split("=", 1)[0] + "=" for line in ours)
    lines = [line for line in lines if not line.startswith(names)] + ours
    env_file.write_text("\n".join(lines) + "\n")
    return installed


def _instance(settings: Settings):
    from mksap_assets.storage.instance import open_instance
    from mksap_assets.storage.profiles import CONFIG_FILE, DEFAULT_PROFILE, install

    if (settings.dagster_home / CONFIG_FILE).exists():
        install(settings.dagster_home, DEFAULT_PROFILE)  # kept: only an earlier mksap's event log path is updated
    else:
        _write_instance_files(settings)
    return open_instance(settings.dagster_home)


def cmd_check_inputs(directory: Path) -> int:
    ok = bad = 0
    for question_file in discover_questions(directory):
        try:
            load_raw_question(question_file)
            ok += 1
        except InputError as exc:
            bad += 1
            print(f"{exc.path}\t{exc.field}\t{exc.reason}")
    if not directory.is_dir():
        print(f"{directory}\t(data dir)\tnot a directory")
        bad += 1
    print(f"{ok} ok, {bad} bad")
    return 1 if bad else 0


def _sync(settings: Settings, instance) -> tuple[list[str], list[str]]:
    from mksap_assets.partitions import new_partition_keys, question_partitions
    from mksap_assets.resources import PipelineResource

    discovered = PipelineResource.from_settings(settings).question_ids()
    existing = list(instance.get_dynamic_partitions(question_partitions.name))
    new_keys = new_partition_keys(discovered, existing)
    if new_keys:
        instance.add_dynamic_partitions(question_partitions.name, new_keys)
    return discovered, new_keys


def cmd_sync(settings: Settings) -> int:
    with _instance(settings) as instance:
        discovered, new_keys = _sync(settings, instance)
    print(f"{len(discovered)} questions in {settings.data_dir}; {len(new_keys)} partitions added")
    return 0


def cmd_run(settings: Settings, partitions: Sequence[str], wait: float | None = None) -> int:
    """Sync, then materialize the four question assets, the deck and the report for the given (default: all)
    questions: all questions are one run; a scattered set, a run over a covering range (partitions.question_runs).
    In batch mode their first-pass requests go to message batches first: it returns once they are submitted, or,
    with `wait` (seconds between polls), polls until they have ended and then runs."""
    from mksap_assets.assets.anki import ANKI_DECK
    from mksap_assets.assets.questions import ALL_ASSET_KEYS, EXPORTED_KEY
    from mksap_assets.assets.report import PIPELINE_REPORT
    from mksap_assets.dead_runs import fail_dead_runs, process_tags
    from mksap_assets.definitions import build_definitions
    from mksap_assets.partitions import (
        QuestionRun,
        contiguous_ranges,
        question_partitions,
        question_runs,
        run_config,
        run_tags,
    )
    from mksap_assets.resources import PipelineResource

    with _instance(settings) as instance:
        pipeline = PipelineResource.from_settings(settings).pinned_to(instance)
        _warn_if_environment_ignored(pipeline.extraction_settings())
        for run_id in fail_dead_runs(instance):
            print(f"Dagster run {run_id}: its process was killed; marked failed")
        discovered, _ = _sync(settings, instance)
        ordered = list(instance.get_dynamic_partitions(question_partitions.name))
        present = set(discovered)
        wanted = list(partitions) or [key for key in ordered if key in present]
        unknown = sorted(set(wanted) - set(ordered))
        if unknown:
            print(f"unknown question ids: {', '.join(unknown)}", file=sys.stderr)
            return 2
        if not wanted:
            print(f"no questions found in {settings.data_dir}", file=sys.stderr)
            return 1
        if refusal := _run_refusal(instance, pipeline, wanted, settings.budget_usd):
            print(f"mksap run: {refusal}", file=sys.stderr)
            return 1  # before any batch is submitted: nothing over the budget is paid for
        if (stop := _submit_batches(settings, instance, wanted, wait)) is not None:
            return stop
        job = build_definitions(settings).resolve_implicit_global_asset_job_def()

        def execute(run: QuestionRun):
            return job.execute_in_process(
                instance=instance, tags={**run_tags(run), **process_tags()}, asset_selection=ALL_ASSET_KEYS,
                run_config={**QUIET_CONSOLE, **run_config(run)}, raise_on_error=False,
            )

        runs = question_runs(ordered, set(wanted), max_len=len(ordered))
        results = [execute(run) for run in runs]
        # A covering run logs a failed question instead of failing (partitions.py): run it again on its own, so
        # that Dagster marks it failed if it fails again.
        listed = {key for run in runs for key in run.questions or ()}
        exported = {event.partition for result in results for event in result.get_asset_materialization_events()
                    if event.asset_key == EXPORTED_KEY}
        results += [execute(QuestionRun(first, last)) for first, last in contiguous_ranges(ordered, listed - exported)]
    from mksap_assets.domain.exports.summary import (
        summarise_exports,  # pandas: see the module docstring
    )

    summary = summarise_exports(settings.output_dir, wanted)
    print(summary.render())
    print(f"Anki deck:          {_rollup_line(results[-1], ANKI_DECK, 'notes')}")
    deck = _materialization_metadata(results[-1], ANKI_DECK)
    if deck is not None:
        print(f"Card preview:       {deck['preview_path'].value}")
    print(f"Report:             {_rollup_line(results[-1], PIPELINE_REPORT, 'questions')}")
    for result in results:
        print(f"Dagster run {result.run_id}: {'succeeded' if result.success else 'FAILED'}")
    return 0 if all(result.success for result in results) else 1


def _submit_batches(settings: Settings, instance, wanted: list[str], wait: float | None) -> int | None:
    """None when the questions can run now: always in sync mode; in batch mode, once no first-pass request of
    theirs waits for a message batch (after submitting those not yet submitted). Else the command's exit status,
    having said why."""
    import time

    from mksap_assets.domain.extraction.batch_mode import (
        batch_mode_off_reason,
        batch_step,
    )
    from mksap_assets.resources import PipelineResource

    pipeline = PipelineResource.from_settings(settings).pinned_to(instance)
    llm = pipeline.resolved().llm
    if llm.mode != "batch":
        return None
    if off := batch_mode_off_reason(llm):
        print(f"warning: {off}", file=sys.stderr)
        return None
    if missing := pipeline.missing_requirement("this process"):
        print(f"mksap run: {missing}", file=sys.stderr)
        return 1
    chosen = set(wanted)
    files = [question for question in pipeline.question_files() if question.question_id in chosen]
    while True:
        step = batch_step(llm, settings.dagster_home, files)
        print("\n".join(step.lines()))
        if not step.waiting:
            return None
        if wait is None:
            print("Nothing run yet. `mksap batch status` shows the batches, `mksap batch cancel` cancels them. When "
                  "they have ended, the question sensor (`make dev`) runs the questions it finds stale, or run "
                  "`mksap run` again (`mksap run --wait` polls until then and runs).")
            return 0
        time.sleep(wait)


def cmd_batch(settings: Settings, action: str, batch_id: str | None) -> int:
    """`mksap batch status` / `mksap batch cancel [ID]`: the message batches of batch mode in this instance."""
    from mksap_assets.domain.extraction.batch_mode import batch_command
    from mksap_assets.resources import PipelineResource

    with _instance(settings) as instance:
        pipeline = PipelineResource.from_settings(settings).pinned_to(instance)
    llm = pipeline.resolved().llm
    if llm.provider == "offline":
        print("no message batches: the offline extractor makes no API requests")
        return 0
    if missing := pipeline.missing_requirement("this process"):
        print(f"mksap batch: {missing}", file=sys.stderr)
        return 1
    try:
        print("\n".join(batch_command(llm, settings.dagster_home, action, batch_id)))
    except ValueError as error:
        print(f"mksap batch cancel: {error}", file=sys.stderr)
        return 2
    return 0


def _run_refusal(instance, pipeline, wanted: list[str], budget: float | None) -> str | None:
    """Why running `wanted` would exceed the budget: its estimate counts the questions that would reach the API."""
    if budget is None:
        return None
    from mksap_assets.budget import launch_refusal
    from mksap_assets.domain.llm.budget import questions_to_pay_for
    from mksap_assets.sensors import current_plan, decode_attempts, sensor_cursor

    up_to_date = current_plan(instance, pipeline, decode_attempts(sensor_cursor(instance))).up_to_date
    paid = questions_to_pay_for(wanted, up_to_date, cache_enabled=pipeline.resolved().llm.cache_enabled)
    return launch_refusal(pipeline, len(paid), budget)


def _materialization_metadata(result, key):
    """The metadata of the run's materialization of `key`, None when the run did not build it."""
    events = [e for e in result.get_asset_materialization_events() if e.asset_key == key]
    return events[0].materialization.metadata if events else None


def _rollup_line(result, key, count: str) -> str:
    metadata = _materialization_metadata(result, key)
    if metadata is None:
        return "not built (see the run's log)"
    return f"{metadata[count].value} {count} in {metadata['path'].value}"


def _warn_if_environment_ignored(pinned: ExtractionSettings) -> None:
    """MKSAP_LLM_PROVIDER / _MODEL / MKSAP_CLOZE_MODE only give the values an instance pins first: say so when this
    process's environment asks for something else, rather than let the user believe it applies."""
    differing = pinned.differing(pinned_choices_from_env())
    if differing:
        asked = ", ".join(f"{PINNED_ENV[name]}={value}" for name, value in differing.items())
        kept = ", ".join(f"{name.replace('_', ' ')} {getattr(pinned, name)}" for name in differing)
        change = " ".join(f"--{name.replace('_', '-')} {value}" for name, value in differing.items())
        print(f"warning: {asked} ignored: this instance pins {kept} (to change it: mksap settings {change})",
              file=sys.stderr)


def cmd_plan(settings: Settings, verbose: bool) -> int:
    """What the sensor's next tick would run and why; launches nothing."""
    from mksap_assets.budget import cost_estimate
    from mksap_assets.domain.llm.budget import budget_line
    from mksap_assets.domain.llm.cost_plan import cost_plan_lines
    from mksap_assets.domain.llm.spend import read_spend
    from mksap_assets.resources import PipelineResource
    from mksap_assets.sensors import current_plan, decode_attempts, sensor_cursor

    with _instance(settings) as instance:
        pipeline = PipelineResource.from_settings(settings).pinned_to(instance)
        _warn_if_environment_ignored(pipeline.extraction_settings())
        plan = current_plan(instance, pipeline, decode_attempts(sensor_cursor(instance)))
    print("\n".join(plan.lines(verbose)))
    if plan.to_run:
        mode = pipeline.resolved().llm.mode
        estimate = cost_estimate(pipeline, len(plan.to_run))
        print("\n".join(cost_plan_lines(estimate, mode)))
        if verdict := budget_line(estimate, settings.budget_usd, batch=mode == "batch"):
            print(verdict)
        print(read_spend(pipeline.resolved().output_dir).line())
    return 0


def cmd_settings(settings: Settings, changes: dict[str, str]) -> int:
    """Show the extraction settings pinned in the instance, or change them (`changes`: field name -> new value)
    and say how many questions that makes stale."""
    import dataclasses

    from mksap_assets.pinned_settings import write_pin
    from mksap_assets.resources import PipelineResource
    from mksap_assets.sensors import current_plan, decode_attempts, sensor_cursor

    with _instance(settings) as instance:
        pipeline = PipelineResource.from_settings(settings).pinned_to(instance)
        pinned = pipeline.extraction_settings()
        if changes:
            try:
                wanted = dataclasses.replace(pinned, **changes)
            except ValueError as error:
                print(f"mksap settings: {error}", file=sys.stderr)
                return 2
            attempts = decode_attempts(sensor_cursor(instance))
            before = current_plan(instance, pipeline, attempts)
            write_pin(instance, wanted)
            after = current_plan(instance, pipeline.pinned_to(instance), attempts)
            pinned = wanted
    print(f"provider:   {pinned.provider}")
    print(f"model:      {pinned.model}")
    print(f"cloze mode: {pinned.cloze_mode}")
    if changes:
        made_stale = len(set(after.to_run) - set(before.to_run))
        print(f"{made_stale} questions made stale by this change; {len(after.to_run)} to run in all "
              "(the sensor's next tick or `mksap run` reruns them; `mksap plan` lists them)")
    return 0


def cmd_summary(settings: Settings) -> int:
    from mksap_assets.domain.exports.summary import summarise_exports

    print(summarise_exports(settings.output_dir).render())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mksap", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    init = commands.add_parser(
        "init", help="create the local Dagster instance folder (its dagster.yaml: once) and the .env that points at it"
    )
    init.add_argument("--storage", choices=PROFILES,
                      help="the storage profile (default: MKSAP_STORAGE, else sqlite; docs/STORAGE.md)")
    init.add_argument("--force", action="store_true",
                      help="replace an existing dagster.yaml with the profile (the old one is kept as dagster.yaml.bak)")
    check = commands.add_parser("check-inputs", help="load every question under DIR and report bad files")
    check.add_argument("directory", nargs="?", type=Path, help="data dir (default: MKSAP_DATA_DIR)")
    commands.add_parser("sync", help="register every question file as a partition in the Dagster instance")
    run = commands.add_parser("run", help="sync, then materialize all assets for all (or the given) questions")
    run.add_argument("--partition", action="append", default=[], help="question id (repeatable)")
    run.add_argument("--wait", type=float, metavar="SECONDS", nargs="?", const=30.0,
                     help="batch mode: poll the batches every SECONDS (default 30) until they end, then run")
    batch = commands.add_parser("batch", help="batch mode's message batches: their status, or cancel them")
    batch.add_argument("action", choices=("status", "cancel"))
    batch.add_argument("batch_id", nargs="?", help="cancel: the batch to cancel (default: every open one)")
    plan = commands.add_parser("plan", help="print what the sensor's next tick would run and why (launches nothing)")
    plan.add_argument("--verbose", action="store_true", help="also list the questions that are up to date")
    pin = commands.add_parser(
        "settings", help="show the extraction settings pinned in the Dagster instance, or change them"
    )
    pin.add_argument("--provider", choices=provider_names(), help="who extracts the statements")
    pin.add_argument("--model", help="the Claude model id")
    pin.add_argument("--cloze-mode", choices=CLOZE_MODES, help="folded: clozes chosen in the extraction calls; "
                     "separate: one more call per question")
    commands.add_parser("summary", help="summarise the exported questions in the output dir")
    # Development tooling, in its own package: its options are parsed there (`mksap fake-api --help`).
    fake = commands.add_parser("fake-api", help="serve a fake Anthropic Messages API on 127.0.0.1 (test tooling)",
                               add_help=False)
    fake.add_argument("options", nargs=argparse.REMAINDER, help="the fake's own (mksap fake-api --help)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["fake-api"]:  # every option, --help included, is the fake's own
        from mksap_devtools import fake_api

        return fake_api.main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"mksap: {exc}", file=sys.stderr)
        return 2
    if args.command == "init":
        return cmd_init(settings, storage=args.storage, force=args.force)
    if args.command == "check-inputs":
        return cmd_check_inputs((args.directory or settings.data_dir).resolve())
    if args.command == "sync":
        return cmd_sync(settings)
    if args.command == "run":
        return cmd_run(settings, args.partition, args.wait)
    if args.command == "batch":
        return cmd_batch(settings, args.action, args.batch_id)
    if args.command == "plan":
        return cmd_plan(settings, args.verbose)
    if args.command == "settings":
        changes = {name: getattr(args, name) for name in PINNED_ENV if getattr(args, name) is not None}
        return cmd_settings(settings, changes)
    return cmd_summary(settings)


if __name__ == "__main__":
    sys.exit(main())
