"""Reads for the export: raw SQL streamed with COPY into Arrow, never ORM rows for judgments.

A million judgments as ORM objects would take minutes and gigabytes; COPY … TO STDOUT in CSV parsed by
pyarrow takes a few seconds and about a hundred bytes per judgment.
"""

from __future__ import annotations

import hashlib
import hmac
import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction

from annotate.export.options import ExportOptions, ExportOptionsError
from annotate.models import Rater, Track

# Salted ids are this many hex digits: 80 bits, no collision among any realistic number of raters.
PUBLIC_ID_LENGTH = 20


def rater_public_id(rater_pk: int) -> str:
    """The salted hash that stands for a rater in every export and API answer."""
    key = settings.IDENTITY_HASH_SALT.encode()
    return hmac.new(key, f"rater:{rater_pk}".encode(), hashlib.sha256).hexdigest()[:PUBLIC_ID_LENGTH]


def raters_resolve(tokens: Sequence[str]) -> set[int]:
    """Rater keys for ``--exclude-raters``: a primary key, a username, or a salted id from an export."""
    wanted: set[int] = set()
    hashes = [t.lower() for t in tokens if len(t) == PUBLIC_ID_LENGTH and _is_hex(t)]
    by_hash: dict[str, int] = {}
    if hashes:
        # Hashes cannot be reversed, so every rater is hashed once; raters number thousands, not millions.
        by_hash = {rater_public_id(pk): pk for pk in Rater.objects.values_list("pk", flat=True)}
    for token in tokens:
        if token.lower() in by_hash:
            wanted.add(by_hash[token.lower()])
        elif token.isdigit() and Rater.objects.filter(pk=int(token)).exists():
            wanted.add(int(token))
        else:
            user = get_user_model().objects.filter(username=token).first()
            rater = Rater.objects.filter(user=user).first() if user else None
            if rater is None:
                raise ExportOptionsError("exclude_raters", f"no rater {token!r}")
            wanted.add(rater.pk)
    return wanted


def _is_hex(text: str) -> bool:
    try:
        int(text, 16)
    except ValueError:
        return False
    return True


def _study_models() -> tuple[Any, Any] | None:
    """The studies app's Participant and Answer, found by name: annotate must not import studies."""
    try:
        return apps.get_model("studies", "Participant"), apps.get_model("studies", "Answer")
    except LookupError:
        return None


def sources_check(options: ExportOptions) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The chosen tracks and studies as the manifest lists them; an unknown id is an option error."""
    tracks = list(Track.objects.filter(pk__in=options.tracks).values("id", "name", "kind"))
    missing = sorted(set(options.tracks) - {t["id"] for t in tracks})
    if missing:
        raise ExportOptionsError("tracks", f"no track {missing[0]}")
    studies: list[dict[str, Any]] = []
    if options.studies:
        models = _study_models()
        if models is None:
            raise ExportOptionsError("studies", "the studies app is not installed")
        study_model = models[0]._meta.get_field("study").related_model
        studies = list(study_model.objects.filter(pk__in=options.studies).values("id", "name"))
        missing = sorted(set(options.studies) - {s["id"] for s in studies})
        if missing:
            raise ExportOptionsError("studies", f"no study {missing[0]}")
    return sorted(tracks, key=lambda t: t["id"]), sorted(studies, key=lambda s: s["id"])


@contextmanager
def consistent_reads() -> Iterator[None]:
    """One snapshot for every query of an export, so votes arriving meanwhile cannot tear it.

    Inside an outer transaction (tests, a caller's atomic block) the isolation level can no longer be
    set; the caller's transaction then defines what is seen.
    """
    if connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def copy_table(sql: str, params: dict[str, Any], schema: pa.Schema, *, free_text: bool = False) -> pa.Table:
    """Run ``COPY (sql) TO STDOUT`` and parse the CSV with pyarrow into ``schema``."""
    buffer = io.BytesIO()
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg 3 cursor under Django's wrapper
        with raw.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", params) as copy:
            for block in copy:
                buffer.write(block)
    if buffer.tell() == 0:
        return schema.empty_table()
    # Parsed in place from the BytesIO's memory: no second copy of the CSV text.
    return pacsv.read_csv(
        pa.BufferReader(pa.py_buffer(buffer.getbuffer())),
        read_options=pacsv.ReadOptions(column_names=schema.names, block_size=1 << 24),
        parse_options=pacsv.ParseOptions(newlines_in_values=free_text),
        # PostgreSQL writes NULL as an empty field and an empty string as "": keep them apart.
        convert_options=pacsv.ConvertOptions(
            column_types=schema,
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )


def _int_array_literal(values: np.ndarray) -> str:
    # One text parameter rather than one bound value per id: 200,000 ids stay a single cheap literal.
    return "{" + ",".join(map(str, values.tolist())) + "}"


# --- judgments ----------------------------------------------------------------------------------

VOTE_SCHEMA = pa.schema(
    [
        ("judgment_id", pa.int64()),
        ("comparison_id", pa.int64()),
        ("rater_pk", pa.int64()),
        ("track_id", pa.int64()),
        ("study_id", pa.int64()),
        ("criterion", pa.string()),
        ("choice", pa.string()),
        ("shown_left", pa.string()),
        ("created_us", pa.int64()),
        ("response_ms", pa.int64()),
        ("watched_a", pa.float64()),
        ("watched_b", pa.float64()),
        ("selection_policy", pa.string()),
        ("selection_probability", pa.float64()),
    ]
)


def votes_read(*, options: ExportOptions, excluded_raters: set[int]) -> pa.Table:
    """Selected judgments, sorted by id. Excluded raters and withdrawn participants are never read."""
    params: dict[str, Any] = {}
    study = _study_models()
    if study is not None:
        participant, answer = study
        participant_table = participant._meta.db_table
        link_table = answer.judgments.through._meta.db_table
        study_id = "p.study_id"
        study_join = f"LEFT JOIN {participant_table} AS p ON p.rater_id = j.rater_id"
        withdrawn = "AND (p.id IS NULL OR p.status <> 'withdrawn')"
        # A study judgment counts only while an answer links it: that link names its study.
        study_branch = (
            "(j.track_id IS NULL AND p.id IS NOT NULL "
            f"AND EXISTS (SELECT 1 FROM {link_table} AS aj WHERE aj.judgment_id = j.id)"
            + (" AND p.study_id = ANY(%(studies)s::bigint[])" if options.studies else "")
            + ")"
        )
    else:
        study_id, study_join, withdrawn, study_branch = "NULL::bigint", "", "", "FALSE"
    track_branch = "(j.track_id IS NOT NULL" + (
        " AND j.track_id = ANY(%(tracks)s::bigint[]))" if options.tracks else ")"
    )
    if options.tracks and not options.studies:
        source = track_branch
    elif options.studies and not options.tracks:
        source = study_branch
    else:
        source = f"({track_branch} OR {study_branch})"
    where = [source]
    if options.tracks:
        params["tracks"] = list(options.tracks)
    if options.studies:
        params["studies"] = list(options.studies)
    if options.criteria:
        where.append("j.criterion = ANY(%(criteria)s::text[])")
        params["criteria"] = list(options.criteria)
    if excluded_raters:
        where.append("NOT (j.rater_id = ANY(%(excluded)s::bigint[]))")
        params["excluded"] = sorted(excluded_raters)
    sql = f"""
        SELECT j.id, j.comparison_id, j.rater_id, j.track_id, {study_id}, j.criterion, j.choice,
               j.shown_left, (extract(epoch FROM j.created_at) * 1000000)::bigint, j.response_ms,
               j.watched_a, j.watched_b, j.selection_policy, j.selection_probability
        FROM annotate_judgment AS j
        JOIN annotate_rater AS r ON r.id = j.rater_id
        {study_join}
        WHERE NOT r.excluded {withdrawn} AND {" AND ".join(where)}
    """
    table = copy_table(sql, params, VOTE_SCHEMA)
    # Sorted here rather than by the server: Arrow sorts a million ints faster than the COPY can wait.
    return table.take(pc.sort_indices(table["judgment_id"]))


# --- the catalog around the judgments -----------------------------------------------------------

COMPARISON_SCHEMA = pa.schema(
    [
        ("comparison_id", pa.int64()),
        ("identity_id", pa.int64()),
        ("prompt_id", pa.int64()),
        ("video_a_id", pa.int64()),
        ("video_b_id", pa.int64()),
    ]
)


def comparisons_read(*, comparison_ids: np.ndarray) -> pd.DataFrame:
    sql = """
        SELECT c.id, c.identity_id, c.prompt_id, c.video_a_id, c.video_b_id
        FROM annotate_comparison AS c
        JOIN unnest(%(ids)s::bigint[]) AS wanted(id) ON wanted.id = c.id
    """
    table = copy_table(sql, {"ids": _int_array_literal(comparison_ids)}, COMPARISON_SCHEMA)
    return table.to_pandas().sort_values("comparison_id", ignore_index=True)


# Settings broken out into their own columns; each name is looked up under its common spellings.
SETTING_COLUMNS = {
    "scheduler": ("scheduler",),
    "steps": ("steps", "num_inference_steps"),
    "guidance": ("guidance", "guidance_scale"),
    "flow_shift": ("flow_shift", "shift"),
    "negative_prompt": ("negative_prompt",),
}

VIDEO_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("sha256", pa.string()),
        ("file", pa.string()),
        ("bytes", pa.int64()),
        ("width", pa.int64()),
        ("height", pa.int64()),
        ("num_frames", pa.int64()),
        ("fps", pa.float64()),
        ("duration", pa.float64()),
        ("codec", pa.string()),
        ("identity_id", pa.int64()),
        ("prompt_id", pa.int64()),
        ("method_id", pa.int64()),
        ("method", pa.string()),
        ("method_role", pa.string()),
        ("base_model", pa.string()),
        ("checkpoint", pa.string()),
        ("lora", pa.string()),
        ("lora_sha256", pa.string()),
        ("seed", pa.int64()),
        ("origin", pa.string()),
        ("scheduler", pa.string()),
        ("steps", pa.string()),
        ("guidance", pa.string()),
        ("flow_shift", pa.string()),
        ("negative_prompt", pa.string()),
        ("settings", pa.string()),
    ]
)


def videos_read(*, video_ids: np.ndarray) -> pd.DataFrame:
    """Videos with their method and merged settings (the video's own override its method's)."""
    extracted = ", ".join(
        "COALESCE(" + ", ".join(f"s.merged->>'{key}'" for key in keys) + ")"
        for keys in SETTING_COLUMNS.values()
    )
    sql = f"""
        SELECT v.id, v.sha256, v.file, v.bytes, v.width, v.height, v.num_frames, v.fps, v.duration, v.codec,
               v.identity_id, v.prompt_id, v.method_id, m.name, m.role, m.revision, m.checkpoint,
               m.lora_path, m.lora_sha256, v.seed, v.origin, {extracted}, s.merged::text
        FROM generation_video AS v
        JOIN unnest(%(ids)s::bigint[]) AS wanted(id) ON wanted.id = v.id
        JOIN generation_method AS m ON m.id = v.method_id
        CROSS JOIN LATERAL (SELECT m.settings::jsonb || v.settings::jsonb AS merged) AS s
    """
    table = copy_table(sql, {"ids": _int_array_literal(video_ids)}, VIDEO_SCHEMA, free_text=True)
    return table.to_pandas().sort_values("id", ignore_index=True)


def _fetch_frame(sql: str, params: dict[str, Any], columns: list[str]) -> pd.DataFrame:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return pd.DataFrame(rows, columns=columns)


def prompts_read(*, prompt_ids: np.ndarray) -> pd.DataFrame:
    return _fetch_frame(
        """SELECT id, slug, task, full_text, differential_text FROM generation_prompt
           WHERE id = ANY(%(ids)s::bigint[]) ORDER BY id""",
        {"ids": _int_array_literal(prompt_ids)},
        ["prompt_id", "slug", "task", "full_text", "differential_text"],
    )


def identities_read(*, identity_ids: np.ndarray) -> pd.DataFrame:
    return _fetch_frame(
        """SELECT id, slug, consent_note FROM generation_identity
           WHERE id = ANY(%(ids)s::bigint[]) ORDER BY id""",
        {"ids": _int_array_literal(identity_ids)},
        ["identity_id", "slug", "consent_note"],
    )


def references_read(*, identity_ids: np.ndarray) -> pd.DataFrame:
    """References of these identities in gallery order: primary first, then by position."""
    return _fetch_frame(
        """SELECT r.id, r.identity_id, r.kind, r.file, r.sha256, r.bytes, r.width, r.height, r.duration,
                  r.fps, r.num_frames, r.is_primary, r.position, r.note, i.consent_note
           FROM generation_reference AS r JOIN generation_identity AS i ON i.id = r.identity_id
           WHERE r.identity_id = ANY(%(ids)s::bigint[])
           ORDER BY r.identity_id, r.is_primary DESC, r.position, r.id""",
        {"ids": _int_array_literal(identity_ids)},
        [
            "id",
            "identity_id",
            "kind",
            "file",
            "sha256",
            "bytes",
            "width",
            "height",
            "duration",
            "fps",
            "num_frames",
            "is_primary",
            "position",
            "note",
            "consent_note",
        ],
    )
