"""Reads for the export: raw SQL streamed with COPY into numpy and Arrow, never ORM rows for judgments.

A million judgments as ORM objects would take minutes and gigabytes. Here the judgments come as one
fixed-width binary COPY turned into numpy columns without parsing (copy_fixed), the catalog around them
as CSV COPY parsed by pyarrow (copy_table): a few seconds and about 150 bytes per judgment.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import select
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypedDict

import numpy as np
import psycopg
import psycopg.sql
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection, transaction
from psycopg import pq
from psycopg.pq.abc import PGconn

from annotate.models import Rater, Track, TrackSeat
from exports.aggregate import CHOICES, CRITERIA
from exports.options import ExportOptions, ExportOptionsError
from lib import arrays
from lib.memory import release_freed_memory
from studies.models import Answer, Participant, Study

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


class TrackSource(TypedDict):
    id: int
    name: str
    kind: str


class StudySource(TypedDict):
    id: int
    name: str


def sources_check(options: ExportOptions) -> tuple[list[TrackSource], list[StudySource]]:
    """The chosen tracks and studies as the manifest lists them; an unknown id is an option error."""
    tracks = list(Track.objects.filter(pk__in=options.tracks).values("id", "name", "kind"))
    missing = sorted(set(options.tracks) - {t["id"] for t in tracks})
    if missing:
        raise ExportOptionsError("tracks", f"no track {missing[0]}")
    studies: list[StudySource] = []
    if options.studies:
        studies = list(Study.objects.filter(pk__in=options.studies).values("id", "name"))
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
        token = _OWN_SNAPSHOT.set(True)
        try:
            yield
        finally:
            _OWN_SNAPSHOT.reset(token)


# Whether the export's reads run in the snapshot consistent_reads began (not in a caller's transaction,
# whose rows another connection may not see): only then can a second connection read ahead in it.
_OWN_SNAPSHOT: ContextVar[bool] = ContextVar("export_own_snapshot", default=False)


@contextmanager
def read_ahead_connection() -> Iterator[psycopg.Connection[Any] | None]:
    """A second connection that sees exactly the export's snapshot (PostgreSQL's exported snapshots), for
    a thread that reads the next range while this one writes the last; None inside a caller's transaction.
    """
    if not _OWN_SNAPSHOT.get():
        yield None
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_export_snapshot()")
        (snapshot,) = cursor.fetchone()
    # Django's parameters (database, user, adapters), but not Django's get_new_connection, which would
    # reset the isolation level it keeps for its own connection.
    other = psycopg.connect(**connection.get_connection_params())
    try:
        other.autocommit = True
        other.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        other.execute(psycopg.sql.SQL("SET TRANSACTION SNAPSHOT {}").format(psycopg.sql.Literal(snapshot)))
        yield other
    finally:
        other.close()


def _copy_out(
    sql: str, params: dict[str, Any], *, format: str = "csv", on: psycopg.Connection[Any] | None = None
) -> io.BytesIO:
    """The bytes of ``COPY (sql) TO STDOUT`` in CSV or PostgreSQL's binary format.

    PostgreSQL sends one message per row. psycopg's Copy iterator spends several microseconds on each
    (a generator and a wait per message), which for a million rows is most of the export's time, so the
    messages are read straight from libpq here, as many as have arrived, then a wait for more. The
    statement is bound client-side first, as psycopg's own copy() would do. ``on``: another connection
    than Django's (read_ahead_connection).
    """
    buffer = io.BytesIO()
    if on is None:
        connection.ensure_connection()
        on = connection.connection
    # Bound here whatever cursors the connection makes (server-side binding has no mogrify): psycopg's
    # own copy() would read the rows through its generator, one message and one wait at a time.
    statement = f"COPY ({sql}) TO STDOUT WITH (FORMAT {format})"
    query = psycopg.ClientCursor(on).mogrify(statement, params).encode()
    pgconn = on.pgconn
    pgconn.send_query(query)
    while pgconn.flush():  # a non-blocking connection may hold back part of a long statement
        select.select([], [pgconn.socket], [])
    result = pgconn.get_result()
    if result is None or result.status != pq.ExecStatus.COPY_OUT:
        _drain(pgconn)
        message = result.error_message.decode(errors="replace") if result is not None else "no result"
        raise DatabaseError(f"export COPY failed: {message.strip()}")
    try:
        while True:
            # Without waiting: psycopg's libpq binding keeps the GIL through a blocking call, and a read
            # ahead thread waiting on PostgreSQL held the caller's Python still for most of the export's
            # reading. Waiting here is select's, which lets go of it.
            size, data = pgconn.get_copy_data(1)
            if size > 0:
                buffer.write(data)
            elif size == 0:
                select.select([pgconn.socket], [], [])
                pgconn.consume_input()
            else:
                break
    except BaseException:
        # Stopped mid-stream (out of memory, a signal): the connection is still in COPY state and must
        # not be handed to the next query.
        if on is connection.connection:
            connection.close()
        else:
            on.close()
        raise
    final = pgconn.get_result()
    _drain(pgconn)
    if final is not None and final.status != pq.ExecStatus.COMMAND_OK:
        raise DatabaseError(f"export COPY failed: {final.error_message.decode(errors='replace').strip()}")
    return buffer


def _drain(pgconn: PGconn) -> None:
    while pgconn.get_result() is not None:
        pass


def copy_table(sql: str, params: dict[str, Any], schema: pa.Schema, *, free_text: bool = False) -> pa.Table:
    """Run ``COPY (sql) TO STDOUT`` and parse the CSV with pyarrow into ``schema``."""
    buffer = _copy_out(sql, params)
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
            true_values=["t"],
            false_values=["f"],
        ),
    )


_BINARY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
# timestamptz travels as microseconds since 2000-01-01 UTC.
_POSTGRES_EPOCH_US = 946_684_800_000_000


def copy_fixed(sql: str, params: dict[str, Any], fields: list[tuple[str, str]]) -> dict[str, np.ndarray]:
    """Run a COPY in binary format whose every column is fixed-width and never NULL; numpy columns.

    With no NULL and no text every row has the same layout (a field count, then a length and a
    big-endian value per field), so the whole answer is one numpy structured array: no parsing at all.
    ``fields`` are (name, numpy big-endian type), e.g. ("id", ">i8"); "timestamp" reads a timestamptz
    as microseconds since the Unix epoch.
    """
    return fixed_columns(_copy_out(sql, params, format="binary"), fields)


def fixed_columns(answer: io.BytesIO, fields: list[tuple[str, str]]) -> dict[str, np.ndarray]:
    """The numpy columns of a binary COPY's bytes (see copy_fixed)."""
    layout: list[tuple[str, str]] = [("_count", ">i2")]
    for index, (name, kind) in enumerate(fields):
        layout += [(f"_length{index}", ">i4"), (name, ">i8" if kind == "timestamp" else kind)]
    row = np.dtype(layout)
    data = answer.getbuffer()
    if bytes(data[:11]) != _BINARY_SIGNATURE:
        raise DatabaseError("export COPY: not PostgreSQL's binary format")
    start = 19 + int.from_bytes(data[15:19], "big")  # signature, flags, header extension
    body = len(data) - start - 2  # the trailer is a field count of -1
    if body % row.itemsize:
        raise DatabaseError("export COPY: rows of unexpected width (a NULL or a variable-width value)")
    rows = np.frombuffer(data, dtype=row, count=body // row.itemsize, offset=start)
    widths_ok = (rows["_count"] == len(fields)).all() and all(
        (rows[f"_length{i}"] == row[name].itemsize).all() for i, (name, _) in enumerate(fields)
    )
    if not widths_ok:
        raise DatabaseError("export COPY: rows of unexpected width (a NULL or a variable-width value)")
    columns = {name: rows[name].astype(rows[name].dtype.newbyteorder("=")) for name, _ in fields}
    for name, kind in fields:
        if kind == "timestamp":
            columns[name] += _POSTGRES_EPOCH_US
    return columns


def int_array_literal(values: np.ndarray) -> str:
    # One text parameter rather than one bound value per id: 200,000 ids stay a single cheap literal.
    return "{" + ",".join(map(str, values.tolist())) + "}"


# --- judgments ----------------------------------------------------------------------------------

VOTE_FIELDS = [
    ("judgment_id", ">i8"),
    ("comparison_id", ">i8"),
    ("rater_pk", ">i8"),
    ("track_id", ">i8"),
    ("criterion_code", ">i2"),
    ("choice_code", ">i2"),
    ("shown_left_a", "?"),
    ("created_us", "timestamp"),
    ("response_ms", ">i8"),
    ("watched_a", ">f8"),
    ("watched_b", ">f8"),
    ("policy_code", ">i2"),
    ("selection_probability", ">f8"),
    ("is_gold", "?"),
    ("is_repeat", "?"),
    ("repeat_of", ">i8"),
]


def _withdrawn_and_study_raters(options: ExportOptions) -> tuple[set[int], dict[int, int], list[int]]:
    """Withdrawn participants' raters, each participant rater's study, and the chosen studies' raters."""
    rows = list(Participant.objects.values_list("rater_id", "study_id", "status"))
    withdrawn = {rater for rater, _, status in rows if status == Participant.Status.WITHDRAWN}
    study_of = {rater: study for rater, study, _ in rows}
    chosen = [rater for rater, study, _ in rows if not options.studies or study in options.studies]
    return withdrawn, study_of, chosen


# Where votes_read puts a range of ids: in a subquery that OFFSET 0 keeps apart, so that the range alone
# chooses the plan (the primary key's pages of that range) and the other conditions only filter its rows;
# pushed down beside them, an index over the whole table (criterion, track) was scanned for every range.
_ID_RANGE = "/* id range */"


@dataclass(frozen=True)
class VoteQuery:
    """The judgments' COPY with who is left out already decided: read whole or one id range at a time."""

    sql: str
    params: dict[str, Any]
    policies: list[str]
    study_of: dict[int, int]  # each participant rater's study
    # The chosen studies' raters, sorted: a study judgment of anyone else is dropped after the read (a
    # list of thousands of raters in the statement cost PostgreSQL about 6 µs a study row).
    study_raters: np.ndarray
    excluded_seats: np.ndarray  # sorted (track << 32 | rater) of the excluded track seats


def votes_query(*, options: ExportOptions, excluded_raters: set[int]) -> VoteQuery:
    """The selection of ``votes_read``, prepared once for any number of id ranges (see votes_read)."""
    withdrawn, study_of, study_raters = _withdrawn_and_study_raters(options)
    excluded = (
        set(Rater.objects.filter(excluded=True).values_list("pk", flat=True)) | withdrawn | excluded_raters
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT selection_policy FROM annotate_judgment ORDER BY 1")
        policies = [row[0] for row in cursor.fetchall()]
    params: dict[str, Any] = {
        "all_criteria": list(CRITERIA),
        "choices": list(CHOICES),
        "policies": policies,
        # Criteria this code does not know (a newer database) are left out rather than exported nameless.
        "criteria": list(options.criteria or CRITERIA),
        "excluded": sorted(excluded),
        "tracks": list(options.tracks),
    }
    track_branch = "j.track_id IS NOT NULL" + (
        " AND j.track_id = ANY(%(tracks)s::bigint[])" if options.tracks else ""
    )
    study_branch = "FALSE"
    if study_raters:
        link_table = Answer.judgments.through._meta.db_table
        # A study judgment counts only while an answer links it (the studies app's link to its study).
        study_branch = (
            f"j.track_id IS NULL AND EXISTS (SELECT 1 FROM {link_table} AS aj WHERE aj.judgment_id = j.id)"
        )
    if options.tracks and not options.studies:
        source = track_branch
    elif options.studies and not options.tracks:
        source = study_branch
    else:
        source = f"({track_branch}) OR ({study_branch})"
    sql = f"""
        SELECT j.id, j.comparison_id, j.rater_id, COALESCE(j.track_id, -1),
               (array_position(%(all_criteria)s::text[], j.criterion::text) - 1)::smallint,
               (array_position(%(choices)s::text[], j.choice::text) - 1)::smallint,
               j.shown_left = 'A', j.created_at, COALESCE(j.response_ms, -1)::bigint,
               COALESCE(j.watched_a, 'NaN'), COALESCE(j.watched_b, 'NaN'),
               (array_position(%(policies)s::text[], j.selection_policy::text) - 1)::smallint,
               COALESCE(j.selection_probability, 'NaN'),
               j.is_gold, j.is_repeat, COALESCE(j.repeat_of_id, -1)
        FROM (SELECT * FROM annotate_judgment {_ID_RANGE} OFFSET 0) AS j
        WHERE NOT (j.rater_id = ANY(%(excluded)s::bigint[]))
          AND j.criterion = ANY(%(criteria)s::text[])
          AND ({source})
    """
    seats = TrackSeat.objects.filter(excluded=True, rater__isnull=False).values_list("track_id", "rater_id")
    # One int per (track, rater): rater keys stay far below 2**32.
    excluded_seats = np.array(sorted(t << 32 | r for t, r in seats), dtype=np.int64)
    study_rater_ids = np.array(sorted(study_raters), dtype=np.int64)
    return VoteQuery(sql, params, policies, study_of, study_rater_ids, excluded_seats)


def judgment_id_ranges(width: int) -> list[tuple[int, int]]:
    """Half-open judgment-id ranges of ``width`` ids covering every judgment (at least one range)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT MIN(id), MAX(id) FROM annotate_judgment")
        low, high = cursor.fetchone()
    if low is None:
        return [(0, 1)]
    return [(start, start + width) for start in range(low, high + 1, width)]


def votes_read(
    *, options: ExportOptions, excluded_raters: set[int], query: VoteQuery | None = None,
    id_range: tuple[int, int] | None = None,
) -> pa.Table:  # fmt: skip
    """Selected judgments, sorted by id. Excluded raters and withdrawn participants are never read.

    Gold and repeat judgments are read, flagged (``is_gold``, ``is_repeat``, ``repeat_of``), and so are
    the judgments of excluded track seats (``seat_excluded``): the raters' quality figures need them all;
    the dataset's votes are the rows with none of the three (see ``dataset_mask``), the same rule as
    ``Judgment.objects.dataset()``.

    One scan of the judgments without a join: who is left out is decided first (a few thousand raters at
    most) and sent as a list, and a study answer's study is looked up from its participant afterwards.
    Criterion, choice and selection policy travel as codes (their index in CRITERIA, CHOICES and the
    policies found), NULLs as -1 or NaN, so every row is fixed-width binary (see copy_fixed).
    ``query`` (votes_query) and ``id_range`` (from, to: half-open) read one range of judgment ids.
    """
    return _range_read(query or votes_query(options=options, excluded_raters=excluded_raters), id_range)


def _range_read(query: VoteQuery, id_range: tuple[int, int] | None) -> pa.Table:
    return _votes_table(query, copy_fixed(*_range_statement(query, id_range), VOTE_FIELDS))


def votes_read_ranges(*, query: VoteQuery, id_ranges: list[tuple[int, int]]) -> Iterator[pa.Table]:
    """``votes_read`` of each range in turn. In the export's own snapshot a second connection reads the
    next range while the caller works on this one: PostgreSQL's half of the work (about 2 µs a judgment)
    then runs beside the caller's on another core."""
    with read_ahead_connection() as other:
        if other is None:
            for id_range in id_ranges:
                yield _range_read(query, id_range)
            return
        ahead = other

        def fetch(id_range: tuple[int, int]) -> io.BytesIO:
            sql, params = _range_statement(query, id_range)
            return _copy_out(sql, params, format="binary", on=ahead)

        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(fetch, id_ranges[0]) if id_ranges else None
            for index in range(len(id_ranges)):
                assert pending is not None
                answer = pending.result()
                following = index + 1 < len(id_ranges)
                pending = pool.submit(fetch, id_ranges[index + 1]) if following else None
                yield _votes_table(query, fixed_columns(answer, VOTE_FIELDS))
                del answer


def _range_statement(query: VoteQuery, id_range: tuple[int, int] | None) -> tuple[str, dict[str, Any]]:
    if id_range is None:
        return query.sql.replace(_ID_RANGE, ""), query.params
    sql = query.sql.replace(_ID_RANGE, "WHERE id >= %(id_from)s AND id < %(id_to)s")
    return sql, query.params | {"id_from": id_range[0], "id_to": id_range[1]}


def _votes_table(query: VoteQuery, columns: dict[str, np.ndarray]) -> pa.Table:
    # A study judgment counts for the chosen studies' raters alone (votes_query reads every linked one).
    chosen = (columns["track_id"] >= 0) | np.isin(columns["rater_pk"], query.study_raters)
    if not chosen.all():
        columns = {name: values[chosen] for name, values in columns.items()}
    order = np.argsort(columns["judgment_id"], kind="stable")
    columns = {name: values[order] for name, values in columns.items()}
    track = columns["track_id"]
    raters = columns["rater_pk"]
    study_of = query.study_of
    if study_of:
        participants = np.array(sorted(study_of), dtype=np.int64)
        studies = np.array([study_of[r] for r in participants], dtype=np.int64)
        at = np.clip(np.searchsorted(participants, raters), 0, len(participants) - 1)
        is_study = (track < 0) & (participants[at] == raters)
        study = np.where(is_study, studies[at], -1)
    else:
        study = np.full(len(raters), -1, dtype=np.int64)
    seat_excluded = np.isin((track << 32) | raters, query.excluded_seats) & (track >= 0)
    repeat_of = columns["repeat_of"]
    return pa.table(
        {
            "judgment_id": columns["judgment_id"],
            "comparison_id": columns["comparison_id"],
            "rater_pk": raters,
            "track_id": pa.array(track, mask=track < 0),
            "study_id": pa.array(study, mask=study < 0),
            "criterion_code": columns["criterion_code"],
            "choice_code": columns["choice_code"],
            "shown_left_a": columns["shown_left_a"],
            "created_us": columns["created_us"],
            "response_ms": pa.array(columns["response_ms"], mask=columns["response_ms"] < 0),
            "watched_a": pa.array(columns["watched_a"], from_pandas=True),
            "watched_b": pa.array(columns["watched_b"], from_pandas=True),
            "selection_policy": pa.array(query.policies, type=pa.string()).take(
                pa.array(columns["policy_code"])
            ),
            "selection_probability": pa.array(columns["selection_probability"], from_pandas=True),
            "is_gold": columns["is_gold"],
            "is_repeat": columns["is_repeat"],
            "repeat_of": pa.array(repeat_of, mask=repeat_of < 0),
            "seat_excluded": seat_excluded,
        }
    )


def dataset_mask(votes: pa.Table) -> np.ndarray:
    """The rows that are votes of the dataset: no gold, no repeat, no excluded seat."""
    checks = np.zeros(votes.num_rows, dtype=bool)
    for column in ("is_gold", "is_repeat", "seat_excluded"):
        checks |= votes[column].to_numpy(zero_copy_only=False).astype(bool)
    return ~checks


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


def comparisons_read(*, comparison_ids: np.ndarray) -> pa.Table:
    sql = """
        SELECT c.id, c.identity_id, c.prompt_id, c.video_a_id, c.video_b_id
        FROM annotate_comparison AS c
        JOIN unnest(%(ids)s::bigint[]) AS wanted(id) ON wanted.id = c.id
    """
    return copy_table(sql, {"ids": int_array_literal(comparison_ids)}, COMPARISON_SCHEMA).sort_by(
        "comparison_id"
    )


DECISION_SCHEMA = pa.schema([("comparison_id", pa.int64()), ("kind", pa.string()), ("status", pa.string())])


def track_decisions(*, comparison_ids: np.ndarray, criteria: tuple[str, ...]) -> dict[str, pa.Array]:
    """Per criterion, where each comparison stands in the track that asks it (``annotate.adaptive``):
    decided, open, undecided_at_max (a near-tie stopped at its maximum), or null when no track of the
    criterion holds it (a study's matchup). A comparison in two tracks of one criterion: the first's."""
    sql = """
        SELECT DISTINCT ON (i.comparison_id, t.kind) i.comparison_id, t.kind, i.status
        FROM annotate_trackitem AS i
        JOIN unnest(%(ids)s::bigint[]) AS wanted(id) ON wanted.id = i.comparison_id
        JOIN annotate_track AS t ON t.id = i.track_id
        WHERE NOT i.is_check AND t.kind = ANY(%(criteria)s::text[])
        ORDER BY i.comparison_id, t.kind, t.id
    """
    rows = copy_table(
        sql, {"ids": int_array_literal(comparison_ids), "criteria": list(criteria)}, DECISION_SCHEMA
    )
    # Statuses as codes into their few distinct texts: no Python object per comparison.
    statuses = pc.unique(rows["status"]) if rows.num_rows else pa.array([], pa.string())
    status_code = pc.index_in(rows["status"], statuses).to_numpy(zero_copy_only=False)
    row = arrays.positions(comparison_ids, rows["comparison_id"].to_numpy())
    decisions = {}
    for criterion in criteria:
        codes = np.full(len(comparison_ids), -1, dtype=np.int8)  # a track item has a few statuses
        mine = pc.equal(rows["kind"], criterion).to_numpy(zero_copy_only=False)
        codes[row[mine]] = status_code[mine]
        # Dictionary-encoded: a byte per comparison rather than its text, held until the pairs are
        # written (each file's column is cast back to text).
        decisions[criterion] = pa.DictionaryArray.from_arrays(pa.array(codes, mask=codes < 0), statuses)
    return decisions


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
        # A shot of a story rendering (shot 1…n) or its joined file (no shot); null for a clip.
        ("rendering_id", pa.int64()),
        ("shot", pa.int64()),
        ("story_id", pa.int64()),
        ("story_mode", pa.string()),
    ]
)


def videos_read(*, video_ids: np.ndarray) -> pa.Table:
    """Videos with their method and merged settings (the video's own override its method's)."""
    extracted = ", ".join(
        "COALESCE(" + ", ".join(f"s.merged->>'{key}'" for key in keys) + ")"
        for keys in SETTING_COLUMNS.values()
    )
    sql = f"""
        SELECT v.id, v.sha256, v.file, v.bytes, v.width, v.height, v.num_frames, v.fps, v.duration, v.codec,
               v.identity_id, v.prompt_id, v.method_id, m.name, m.role, m.revision, m.checkpoint,
               m.lora_path, m.lora_sha256, v.seed, v.origin, {extracted}, s.merged::text,
               v.rendering_id, v.shot, r.story_id, r.mode
        FROM generation_video AS v
        JOIN unnest(%(ids)s::bigint[]) AS wanted(id) ON wanted.id = v.id
        JOIN generation_method AS m ON m.id = v.method_id
        LEFT JOIN generation_storyrendering AS r ON r.id = v.rendering_id
        CROSS JOIN LATERAL (SELECT m.settings::jsonb || v.settings::jsonb AS merged) AS s
    """
    video_ids = np.sort(np.asarray(video_ids))

    def block(ids: np.ndarray) -> pa.Table:
        videos = copy_table(sql, {"ids": int_array_literal(ids)}, VIDEO_SCHEMA, free_text=True)
        encoded = dictionary_encoded(videos.sort_by("id"), REPEATED_VIDEO_TEXT)
        del videos
        # The block's text and its parsed, unsorted table go back before the next block is read
        # (lib.memory): kept for reuse, they stayed resident through the export, 130 MB at a million videos.
        release_freed_memory()
        return encoded

    blocks = [
        block(video_ids[start : start + VIDEO_BLOCK_IDS])
        for start in range(0, max(len(video_ids), 1), VIDEO_BLOCK_IDS)
    ]
    # Each block's dictionaries extend the one before's (unify_dictionaries), so the codes are those of
    # one encoding of the whole column; then one chunk a column, a column at a time.
    videos = pa.concat_tables(blocks).unify_dictionaries()
    del blocks
    for index in range(videos.num_columns):
        videos = videos.set_column(index, videos.field(index), videos.column(index).combine_chunks())
        release_freed_memory()  # the column's chunks, before the next column is joined
    return videos


# Videos read a block of ids at a time, in id order: the COPY's text of a million videos, its parsed
# table and that table sorted were held at once at the height of the export's reading (over a gigabyte).
# A block of 65,536 videos holds about 100 MB while it is read, beside the rater quality fit.
VIDEO_BLOCK_IDS = 1 << 16


# The videos' text that a method or a story mode shares among its videos: held dictionary-encoded for the
# whole export (the text once, four bytes a video), cast back to text where a file writes it. At a million
# videos their text took 140 MB. Settings read as numbers (steps, guidance, flow shift) stay text.
REPEATED_VIDEO_TEXT = (
    "codec",
    "method",
    "method_role",
    "base_model",
    "checkpoint",
    "lora",
    "lora_sha256",
    "origin",
    "scheduler",
    "negative_prompt",
    "settings",
    "story_mode",
)


def dictionary_encoded(table: pa.Table, names: tuple[str, ...]) -> pa.Table:
    """``table`` with the text columns ``names`` dictionary-encoded, each one chunk with one dictionary."""
    for name in names:
        index = table.schema.get_field_index(name)
        encoded = pc.dictionary_encode(table.column(index)).combine_chunks()
        table = table.set_column(index, pa.field(name, encoded.type), encoded)
    return table


PROMPT_SCHEMA = pa.schema(
    [
        ("prompt_id", pa.int64()),
        ("slug", pa.string()),
        ("task", pa.string()),
        ("full_text", pa.string()),
        ("differential_text", pa.string()),
    ]
)


def prompts_read(*, prompt_ids: np.ndarray) -> pa.Table:
    sql = """SELECT id, slug, task, full_text, differential_text FROM generation_prompt
             WHERE id = ANY(%(ids)s::bigint[]) ORDER BY id"""
    return copy_table(sql, {"ids": int_array_literal(prompt_ids)}, PROMPT_SCHEMA, free_text=True)


IDENTITY_SCHEMA = pa.schema([("identity_id", pa.int64()), ("slug", pa.string())])


def identities_read(*, identity_ids: np.ndarray) -> pa.Table:
    sql = """SELECT id, slug FROM generation_identity WHERE id = ANY(%(ids)s::bigint[]) ORDER BY id"""
    return copy_table(sql, {"ids": int_array_literal(identity_ids)}, IDENTITY_SCHEMA)


REFERENCE_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("identity_id", pa.int64()),
        ("kind", pa.string()),
        ("file", pa.string()),
        ("sha256", pa.string()),
        ("bytes", pa.int64()),
        ("width", pa.int64()),
        ("height", pa.int64()),
        ("duration", pa.float64()),
        ("fps", pa.float64()),
        ("num_frames", pa.int64()),
        ("is_primary", pa.bool_()),
        ("position", pa.int64()),
        ("note", pa.string()),
        ("consent_note", pa.string()),
        ("viewpoint", pa.string()),
        ("in_three_view", pa.bool_()),
    ]
)


def references_read(*, identity_ids: np.ndarray) -> pa.Table:
    """References of these identities in gallery order: by identity, primary first, then by position."""
    sql = """
        SELECT r.id, r.identity_id, r.kind, r.file, r.sha256, r.bytes, r.width, r.height, r.duration,
               r.fps, r.num_frames, r.is_primary, r.position, r.note, i.consent_note, r.viewpoint,
               r.in_three_view
        FROM generation_reference AS r JOIN generation_identity AS i ON i.id = r.identity_id
        WHERE r.identity_id = ANY(%(ids)s::bigint[])
        ORDER BY r.identity_id, r.is_primary DESC, r.position, r.id
    """
    return copy_table(sql, {"ids": int_array_literal(identity_ids)}, REFERENCE_SCHEMA, free_text=True)
