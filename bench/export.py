"""Export benchmark: one million judgments over 200 thousand comparisons become a dataset snapshot.

    .venv/bin/python bench/export.py [--judgments 1000000] [--comparisons 200000] [--keep]

Prints one JSON line: rows (judgments exported), seconds (export_build alone), peak_rss_mb (peak resident
memory of the process that ran only the export: Python, Django, pandas and pyarrow included), and, for
context, cpu_seconds (that process's CPU time during the export), baseline_rss_mb (its memory before the
export), pairs, fill_seconds. Progress goes to stderr.

Everything happens in a database of its own (``bench_export`` on the PostgreSQL server the app uses),
created here, filled with COPY (never the ORM one row at a time for the big tables), and dropped at the
end. The shape: 2,000 identities × 10 prompts × 5 methods = 100k videos, 10 comparisons per case;
identity fidelity judged 3 times per comparison and prompt controllability 1.5 times on average by 50
annotators (one of them excluded), the rest study answers (visual quality) by 2,000 participants (one
withdrawn), linked to their answers like the studies app links them.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_DB = "bench_export"
METHODS = 5
PROMPTS = 10
ANNOTATORS = 50
PARTICIPANTS = 2_000
STAMP = "2026-01-01 00:00:00+00"


def say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --- the bench database -------------------------------------------------------------------------


def _server_url() -> str:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    from config import embedded

    return embedded.postgres_url(embedded.var_dir_from_environment())


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def _recreate_database(server_url: str, *, drop_only: bool = False) -> None:
    import psycopg

    with psycopg.connect(_with_database(server_url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')


def _child_environment(bench_url: str) -> dict[str, str]:
    # No DEBUG (Django would keep every query), no embedded Redis (nothing is queued).
    return {
        **os.environ,
        "DATABASE_URL": bench_url,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-" + secrets.token_hex(16),
        "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL", "memory://"),
        "LOG_LEVEL": "ERROR",
    }


def _run_child(args: list[str], env: dict[str, str]) -> str:
    """Run a step in a child process; its stderr (progress, or why it failed) is passed on."""
    done = subprocess.run(args, env=env, capture_output=True, text=True, cwd=ROOT)
    sys.stderr.write(done.stderr)
    if done.returncode:
        raise SystemExit(f"[bench] step failed: {' '.join(args[1:4])}")
    return done.stdout


def _django_setup() -> None:
    import django

    django.setup()


# --- filling ------------------------------------------------------------------------------------


def _with_model_defaults(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` plus every NOT NULL column it leaves out that has a model default or is text (Django
    keeps defaults in Python, not in the table), so that a field added to a model later does not break the
    bench."""
    from django.apps import apps
    from django.db import models

    model = next(m for m in apps.get_models(include_auto_created=True) if m._meta.db_table == table)
    missing = {}
    for field in model._meta.concrete_fields:
        if field.column in frame.columns or field.null or field.primary_key:
            continue
        if not (field.has_default() or field.empty_strings_allowed):
            continue
        value = field.get_default()  # "" for a text field without a default
        missing[field.column] = json.dumps(value) if isinstance(field, models.JSONField) else value
    return frame.assign(**missing) if missing else frame


def _copy_frame(table: str, frame: pd.DataFrame) -> None:
    """COPY a DataFrame (its columns named as the table's) in CSV, in blocks of 200k rows."""
    from django.db import connection

    frame = _with_model_defaults(table, frame)

    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(
            # \N for NULL, so that an empty string stays an empty string.
            f"COPY {table} ({', '.join(frame.columns)}) FROM STDIN WITH (FORMAT csv, NULL '\\N')"
        ) as copy,
    ):
        for start in range(0, len(frame), 200_000):
            buffer = io.StringIO()
            frame.iloc[start : start + 200_000].to_csv(buffer, header=False, index=False, na_rep="\\N")
            copy.write(buffer.getvalue())


def _reset_sequences(*tables: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 1) FROM {table}))"
            )


def _fill(judgments: int, comparisons: int) -> dict[str, Any]:
    """The synthetic world. Small tables through the ORM's bulk_create, big ones with COPY."""
    from django.contrib.auth.models import User
    from django.db import connection

    from annotate.models import Rater, Track
    from generation.models import Identity, Method, Prompt
    from studies.models import Participant, Study

    rng = np.random.default_rng(7)
    pairs_per_case = METHODS * (METHODS - 1) // 2
    identities_n = max(1, comparisons // (PROMPTS * pairs_per_case))
    identities = Identity.objects.bulk_create(
        [
            Identity(slug=f"person-{i}", name=f"Person {i}", consent_note="synthetic")
            for i in range(identities_n)
        ]
    )
    prompts = Prompt.objects.bulk_create(
        [
            Prompt(slug=f"prompt-{p}", full_text=f"A person, scene {p}.", differential_text=f"Scene {p}.")
            for p in range(PROMPTS)
        ]
    )
    methods = Method.objects.bulk_create(
        [Method(name=f"method-{m}", settings={"steps": 30, "guidance": 5.0}) for m in range(METHODS)]
    )
    identity_ids = np.array([i.pk for i in identities])
    prompt_ids = np.array([p.pk for p in prompts])
    method_ids = np.array([m.pk for m in methods])

    # Videos: one per (identity, prompt, method), ids assigned here so comparisons can name them.
    cases = identities_n * PROMPTS
    video_count = cases * METHODS
    case_of_video = np.repeat(np.arange(cases), METHODS)
    video_ids = np.arange(1, video_count + 1)
    sha = [f"{i:064x}" for i in video_ids]
    _copy_frame(
        "generation_video",
        pd.DataFrame(
            {
                "id": video_ids,
                "method_id": np.tile(method_ids, cases),
                "identity_id": identity_ids[case_of_video // PROMPTS],
                "prompt_id": prompt_ids[case_of_video % PROMPTS],
                "seed": 0,
                "file": [f"m/bx/{s[:24]}.mp4" for s in sha],
                "poster": "",
                "sha256": sha,
                "bytes": 1_000_000,
                "width": 480,
                "height": 832,
                "num_frames": 49,
                "fps": 16.0,
                "duration": 3.0625,
                "codec": "h264",
                "settings": '{"seed": 0, "scheduler": "unipc"}',
                "origin": "generated",
                "created_at": STAMP,
            }
        ),
    )
    references_per_identity = 3
    reference_count = identities_n * references_per_identity
    _copy_frame(
        "generation_reference",
        pd.DataFrame(
            {
                "id": np.arange(1, reference_count + 1),
                "identity_id": np.repeat(identity_ids, references_per_identity),
                "kind": "portrait",
                "viewpoint": "unknown",
                "in_three_view": False,
                "is_primary": np.tile([True, False, False], identities_n),
                "file": [f"m/br/{i:020x}.png" for i in range(reference_count)],
                "poster": "",
                "sha256": [f"{i:064x}" for i in range(10**9, 10**9 + reference_count)],
                "bytes": 50_000,
                "width": 512,
                "height": 512,
                "position": np.tile([0, 1, 2], identities_n),
                "note": "",
                "created_at": STAMP,
            }
        ),
    )
    # Comparisons: every pair of the five methods' videos of a case, canonical order (a < b).
    first, second = np.triu_indices(METHODS, k=1)
    case_of_pair = np.repeat(np.arange(cases), pairs_per_case)
    base = case_of_pair * METHODS + 1
    comparison_count = cases * pairs_per_case
    comparison_ids = np.arange(1, comparison_count + 1)
    _copy_frame(
        "annotate_comparison",
        pd.DataFrame(
            {
                "id": comparison_ids,
                "video_a_id": base + np.tile(first, cases),
                "video_b_id": base + np.tile(second, cases),
                "identity_id": identity_ids[case_of_pair // PROMPTS],
                "prompt_id": prompt_ids[case_of_pair % PROMPTS],
                "created_at": STAMP,
            }
        ),
    )

    users = User.objects.bulk_create(
        [User(username=f"annotator-{i}", password="!") for i in range(ANNOTATORS)]
    )
    annotators = Rater.objects.bulk_create(
        [Rater(kind=Rater.Kind.ANNOTATOR, user=u, excluded=(i == 0)) for i, u in enumerate(users)]
    )
    participants_raters = Rater.objects.bulk_create(
        [Rater(kind=Rater.Kind.PARTICIPANT, excluded=(i == 0)) for i in range(PARTICIPANTS)]
    )
    fidelity = Track.objects.create(name="fidelity", kind=Track.Kind.IDENTITY_FIDELITY, allow_tie=True)
    control = Track.objects.create(name="control", kind=Track.Kind.PROMPT_CONTROLLABILITY, allow_tie=True)
    study = Study.objects.create(name="bench study", ours=methods[0], instructions="-", consent_text="-")
    participants = Participant.objects.bulk_create(
        [
            Participant(study=study, rater=r, status="withdrawn" if i == 0 else "completed")
            for i, r in enumerate(participants_raters)
        ]
    )

    # Judgments: 3 identity-fidelity votes per comparison, then prompt controllability, then study answers.
    fidelity_n = min(judgments, 3 * comparison_count)
    study_n = min(judgments - fidelity_n, judgments // 10)
    control_n = judgments - fidelity_n - study_n
    annotator_ids = np.array([r.pk for r in annotators])
    participant_rater_ids = np.array([r.pk for r in participants_raters])
    choice = rng.choice(np.array(["A", "B", "tie", "both_bad"]), size=judgments, p=[0.45, 0.45, 0.07, 0.03])
    study_choice = rng.choice(np.array(["A", "B"]), size=study_n)
    judgment_comparisons = np.concatenate(
        [
            np.repeat(comparison_ids, 3)[:fidelity_n],
            rng.choice(comparison_ids, size=control_n),
            rng.choice(comparison_ids, size=study_n),
        ]
    )
    study_raters = np.repeat(participant_rater_ids, -(-study_n // PARTICIPANTS))[:study_n]
    frame = pd.DataFrame(
        {
            "id": np.arange(1, judgments + 1),
            "comparison_id": judgment_comparisons,
            "criterion": np.repeat(
                ["identity_fidelity", "prompt_controllability", "visual_quality"],
                [fidelity_n, control_n, study_n],
            ),
            "choice": np.concatenate([choice[: fidelity_n + control_n], study_choice]),
            "shown_left": rng.choice(np.array(["A", "B"]), size=judgments),
            "rater_id": np.concatenate(
                [rng.choice(annotator_ids, size=fidelity_n + control_n), study_raters]
            ),
            "track_id": pd.array(
                np.concatenate([np.full(fidelity_n, fidelity.pk), np.full(control_n, control.pk)]).tolist()
                + [None] * study_n,
                dtype="Int64",
            ),
            "response_ms": rng.integers(800, 20_000, size=judgments),
            "watched_a": 1.0,
            "watched_b": 1.0,
            "selection_policy": "fewest_votes_first",
            "selection_probability": np.round(rng.random(judgments), 4),
            "created_at": pd.Timestamp("2026-01-01", tz="UTC")
            + pd.to_timedelta(np.arange(judgments), unit="s"),
        }
    )
    _copy_frame("annotate_judgment", frame)
    # Study answers: one matchup and one answer per study judgment, linked as the studies app links them.
    study_ids = np.arange(fidelity_n + control_n + 1, judgments + 1)
    participant_of_rater = {p.rater_id: p.pk for p in participants}
    positions = np.arange(study_n) % -(-study_n // PARTICIPANTS)
    study_comparisons = judgment_comparisons[fidelity_n + control_n :]
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, identity_id, prompt_id, video_a_id FROM annotate_comparison")
        lookup = pd.DataFrame(cursor.fetchall(), columns=["id", "identity_id", "prompt_id", "video_a_id"])
    lookup = lookup.set_index("id").loc[study_comparisons]
    _copy_frame(
        "studies_matchup",
        pd.DataFrame(
            {
                "id": np.arange(1, study_n + 1),
                "participant_id": [participant_of_rater[r] for r in study_raters],
                "position": positions,
                "identity_id": lookup["identity_id"].to_numpy(),
                "prompt_id": lookup["prompt_id"].to_numpy(),
                "comparison_id": study_comparisons,
                "video_ids": "[]",
                "asks_element_consistency": False,
                "time_ms": 0,
            }
        ),
    )
    _copy_frame(
        "studies_answer",
        pd.DataFrame(
            {
                "id": np.arange(1, study_n + 1),
                "matchup_id": np.arange(1, study_n + 1),
                "criterion": "visual_quality",
                "picked": 0,
                "picked_video_id": lookup["video_a_id"].to_numpy(),
                "created_at": STAMP,
                "updated_at": STAMP,
            }
        ),
    )
    _copy_frame(
        "studies_answer_judgments",
        pd.DataFrame({"answer_id": np.arange(1, study_n + 1), "judgment_id": study_ids}),
    )
    _reset_sequences(
        "generation_video",
        "generation_reference",
        "annotate_comparison",
        "annotate_judgment",
        "studies_matchup",
        "studies_answer",
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"judgments": judgments, "comparisons": comparison_count, "videos": video_count}


# --- the measured export ------------------------------------------------------------------------


def _export_child(out: Path) -> None:
    """Runs in a process of its own, so its peak RSS is the export's (plus the interpreter and libraries)."""
    _django_setup()
    from exports.build import export_build
    from exports.options import ExportOptions

    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started, cpu_started = time.perf_counter(), time.process_time()
    last = [started]

    def progress(fraction: float, message: str) -> None:
        # Each step's wall time and the peak memory so far to stderr: where an export's time goes.
        now = time.perf_counter()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        say(f"  {now - started:6.1f} s (+{now - last[0]:5.1f}) {peak:5.0f} MB {fraction:4.0%} {message}")
        last[0] = now

    result = export_build(options=ExportOptions(), out_dir=out, progress=progress)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    counts = result.manifest["counts"]
    print(
        json.dumps(
            {
                "rows": counts["votes"],
                "seconds": round(seconds, 2),
                "peak_rss_mb": round(peak, 1),
                # This process's CPU time alone (PostgreSQL works in its own): less sensitive to a busy
                # machine than the wall clock.
                "cpu_seconds": round(cpu_seconds, 2),
                "baseline_rss_mb": round(baseline, 1),
                "pairs": counts["pairs"],
            }
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--judgments", type=int, default=1_000_000)
    parser.add_argument("--comparisons", type=int, default=200_000)
    parser.add_argument("--keep", action="store_true", help="Keep the bench database (for a rerun).")
    parser.add_argument("--reuse", action="store_true", help="Export a database kept by --keep; no fill.")
    parser.add_argument("--child", choices=("fill", "export"), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child == "fill":
        _django_setup()
        print(json.dumps(_fill(args.judgments, args.comparisons)))
        return 0
    if args.child == "export":
        _export_child(args.out)
        return 0

    server = _server_url()
    bench_url = _with_database(server, BENCH_DB)
    env = _child_environment(bench_url)
    python = sys.executable
    fill_seconds = 0.0
    try:
        if not args.reuse:
            say(f"creating database {BENCH_DB}")
            _recreate_database(server)
            _run_child([python, str(ROOT / "manage.py"), "migrate", "-v", "0"], env)
            say(f"filling {args.judgments} judgments over {args.comparisons} comparisons with COPY")
            started = time.perf_counter()
            fill = _run_child(
                [python, __file__, "--child", "fill", "--judgments", str(args.judgments), "--comparisons",
                 str(args.comparisons)],
                env,
            )  # fmt: skip
            fill_seconds = time.perf_counter() - started
            say(f"filled in {fill_seconds:.1f} s: {fill.strip()}")
        with tempfile.TemporaryDirectory(prefix="bench-export-") as folder:
            say("exporting")
            export = _run_child(
                [python, __file__, "--child", "export", "--out", str(Path(folder) / "snapshot")], env
            )
        result = json.loads(export.strip().splitlines()[-1])
        result["fill_seconds"] = round(fill_seconds, 1)
        print(json.dumps(result))
    finally:
        if not (args.keep or args.reuse):
            _recreate_database(server, drop_only=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
