"""``export_build``: one snapshot directory in the format of shared/export-spec.md (schema v1)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from django.conf import settings

from annotate.models import Track
from annotate.stats_agreement import agreement
from exports import (
    adapters,
    aggregate,
    card,
    groups,
    read,
    stories,
    tables,
    trainers,
    versions,
    votes_stream,
    write,
)
from exports.leaderboard import leaderboard_write
from exports.metrics import MetricsRead, metrics_read, metrics_write
from exports.options import SPLITS, ExportOptions
from exports.quality import PendingQuality, export_quality_begin
from lib.arrays import unique_values
from lib.hashing import sha256_file
from lib.memory import release_freed_memory
from studies.models import Study

# Schema 1 with the quality columns and file of schema 2 (shared/export-spec.md): readers of schema 1
# that select columns by name read it unchanged; one that recounts the raw votes must leave out the rows
# with is_gold or is_repeat set, as the pairs do.
SCHEMA_ADDITIONS = {
    "from_schema": 2,
    "files": ["data/raters.parquet"],
    "columns": {
        "data/votes.parquet": ["is_gold", "is_repeat", "repeat_of"],
        "data/pairs/<split>.parquet": ["<c>_p_a_ds", "<c>_p_b_ds", "<c>_p_tie_ds", "<c>_decision"],
    },
    "decision_rule": "where the comparison's track left it: decided, open, or undecided_at_max (stopped at "
    "the track's maximum votes without a decision: a near-tie); null outside tracks",
    "votes_rule": "rows with is_gold or is_repeat are quality checks: in no pair, count, statistic, adapter",
}
ProgressFn = Callable[[float, str], None]


class ExportError(Exception):
    """The export cannot be written (target exists, a media file is missing): a clear message, no 500."""


@dataclass(frozen=True)
class ExportResult:
    path: Path
    manifest: dict[str, Any]


def _no_progress(fraction: float, message: str) -> None:
    return None


def app_version() -> str:
    try:
        return metadata.version("preference-annotation")
    except metadata.PackageNotFoundError:
        return "unknown"


def export_build(
    *,
    options: ExportOptions,
    out_dir: Path,
    progress: ProgressFn | None = None,
    extends: versions.Base | None = None,
) -> ExportResult:
    """Read the selected judgments and their catalog, aggregate, and write the snapshot to ``out_dir``.

    The snapshot is written beside ``out_dir`` and renamed into place at the end, so a killed export never
    leaves a half-written directory under the final name; an existing, non-empty ``out_dir`` is refused
    because snapshots are immutable. ``extends``: the earlier snapshot this one extends (exports.versions).
    """
    report = progress or _no_progress
    out_dir = Path(out_dir).resolve()
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ExportError(f"{out_dir} already exists and is not empty: snapshots are never overwritten")
    work = out_dir.with_name(f".{out_dir.name}.partial-{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        report(0.02, "Checking the options")
        tracks, studies = read.sources_check(options)
        excluded = read.raters_resolve(options.exclude_raters)
        versions.base_check(extends, options=options, excluded_count=len(excluded))
        report(0.05, "Reading judgments and writing votes, reading comparisons and videos")
        # Nothing is reported inside the snapshot: its transaction is read-only, and a progress callback
        # that writes to the database (an export run's) must not write through it.
        # The rater quality fit runs on a thread of its own from the moment the judgments are read, while
        # the catalog is read and everything that does not need the fit is written
        # (exports.quality.export_quality_begin); then the pairs files, which read its posteriors, are
        # written on that thread while the main one finishes the rest; the raters table comes last.
        with ThreadPoolExecutor(max_workers=1) as pool:
            with read.consistent_reads():
                data = _read_all(options=options, excluded=excluded, work=work, pool=pool)
            report(0.3, f"Read {data.votes.num_rows} votes on {len(data.comparison_ids)} comparisons")
            manifest = _write_all(work=work, data=data, options=options, excluded=excluded, report=report)
        manifest["sources"] = {"tracks": tracks or data.tracks_seen, "studies": studies or data.studies_seen}
        manifest |= versions.versions_write(work=work, base=extends)
        _finish(work=work, manifest=manifest, options=options)
        if out_dir.exists():
            out_dir.rmdir()  # empty, checked above
        os.replace(work, out_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        for path in [p for p in write.DIGESTS if p.is_relative_to(work)]:
            write.DIGESTS.pop(path, None)
        raise
    report(1.0, "Done")
    return ExportResult(path=out_dir, manifest=manifest)


# --- reading ------------------------------------------------------------------------------------


@dataclass
class _Data:
    # Compact columns (exports.votes_stream): data/votes.parquet is written while they are read. Every
    # judgment read (the votes, gold and repeat checks, excluded seats' votes) went to the quality fit,
    # which holds them no longer than it needs them.
    votes: pa.Table  # the dataset's votes
    newest_us: int | None  # the newest dataset vote's created_at
    quality: PendingQuality  # the rater quality fit, running on a thread of its own
    quality_checks: dict[str, int]  # gold and repeat rows in data/votes.parquet
    criteria: tuple[str, ...]
    comparison_ids: np.ndarray
    counts: np.ndarray
    comparisons: pa.Table
    videos: pa.Table
    prompts: pa.Table
    identities: pa.Table
    references: pa.Table
    tracks_seen: list[dict[str, Any]]
    studies_seen: list[dict[str, Any]]
    metrics: MetricsRead | None  # schema 2: data/metrics.parquet (exports/metrics.py)


def _read_all(*, options: ExportOptions, excluded: set[int], work: Path, pool: ThreadPoolExecutor) -> _Data:
    streamed = votes_stream.votes_stream(
        options=options, excluded_raters=excluded, path=work / "data/votes.parquet"
    )
    # The dataset's votes: every pair, count, statistic and adapter is made of these alone.
    votes = streamed.votes
    quality = export_quality_begin(votes=streamed.judgments, pool=pool)
    criterion_codes = votes["criterion_code"].to_numpy()
    # Joint criteria always get their columns, even without a vote: the joint label reads them.
    criteria = options.criteria or aggregate.criteria_ordered(
        set(aggregate.criteria_present(criterion_codes)) | set(options.joint_criteria)
    )
    comparison_ids, counts = aggregate.vote_counts(
        comparison_ids=votes["comparison_id"].to_numpy(),
        criterion_codes=criterion_codes,
        choice_codes=votes["choice_code"].to_numpy(),
        criteria=criteria,
        keep_ties=options.keep_ties,
    )
    try:
        comparisons = read.comparisons_read(comparison_ids=comparison_ids)
        if not np.array_equal(comparisons["comparison_id"].to_numpy(), comparison_ids):
            raise ExportError("comparisons changed while reading: run the export again")
        video_ids = unique_values(np.concatenate([comparisons["video_a_id"], comparisons["video_b_id"]]))
        if options.schema == 2:  # a story's shot videos go with its joined file (exports/stories.py)
            video_ids = np.union1d(video_ids, stories.shot_video_ids(video_ids))
        videos = read.videos_read(video_ids=video_ids)
        quality.videos_read(comparisons, videos)
    except BaseException:
        quality.abandon()  # the fit waits for the videos' lengths: it must not wait for ever
        raise
    identity_ids = np.unique(comparisons["identity_id"].to_numpy())
    return _Data(
        votes=votes,
        newest_us=streamed.newest_us,
        quality=quality,
        quality_checks={"gold": streamed.gold, "repeat": streamed.repeat},
        criteria=criteria,
        comparison_ids=comparison_ids,
        counts=counts,
        comparisons=comparisons,
        videos=videos,
        prompts=read.prompts_read(prompt_ids=np.unique(comparisons["prompt_id"].to_numpy())),
        identities=read.identities_read(identity_ids=identity_ids),
        references=read.references_read(identity_ids=identity_ids),
        tracks_seen=_sources_seen(streamed.track_ids, Track, ("id", "name", "kind")),
        studies_seen=_sources_seen(streamed.study_ids, Study, ("id", "name")),
        metrics=metrics_read(video_ids=videos["id"].to_numpy()) if options.schema == 2 else None,
    )


def _sources_seen(
    ids: list[int], model: type[Track] | type[Study], fields: tuple[str, ...]
) -> list[dict[str, Any]]:
    if not ids:
        return []
    return list(model.objects.filter(pk__in=ids).order_by("pk").values(*fields))


# --- writing ------------------------------------------------------------------------------------


def _write_all(
    *, work: Path, data: _Data, options: ExportOptions, excluded: set[int], report: ProgressFn
) -> dict[str, Any]:
    manifest, on_fit_thread = _write_without_quality(
        work=work, data=data, options=options, excluded=excluded, report=report
    )
    report(0.985, "Waiting for the rater quality fit")
    raters = data.quality.raters()
    report(0.99, "Writing raters, pairs and the leaderboard")
    write.write_parquet(raters, work / "data/raters.parquet")
    manifest["counts"]["raters_table"] = raters.num_rows
    for key, written in on_fit_thread.items():
        entry = written.result()
        if key in manifest:  # a placeholder keeps the manifest's order of keys
            manifest[key] = entry
    return manifest


def _write_without_quality(
    *, work: Path, data: _Data, options: ExportOptions, excluded: set[int], report: ProgressFn
) -> tuple[dict[str, Any], dict[str, Future[Any]]]:
    """Everything but the raters table. The pairs files, which read the quality fit's posteriors, are
    written on the fit's thread once it is done, then the leaderboard, beside the rest: the futures
    returned, by the manifest key each one fills (``pairs``: none)."""
    report(0.45, "Aggregating comparisons")
    labels = {
        criterion: aggregate.criterion_labels(
            data.counts[:, index, :],
            keep_ties=options.keep_ties,
            min_votes=options.min_votes,
            min_majority=options.min_majority,
        )
        for index, criterion in enumerate(data.criteria)
    }
    joint = None
    if options.joint_criteria:
        joint = aggregate.joint_labels(
            [labels[c] for c in options.joint_criteria], rule=options.joint_rule, keep_ties=options.keep_ties
        )
    slugs = dict(
        zip(data.identities["identity_id"].to_pylist(), data.identities["slug"].to_pylist(), strict=True)
    )
    split_of_pair, split_summary = aggregate.splits_assign(
        identity_of_pair=data.comparisons["identity_id"].to_numpy(),
        prompt_of_pair=data.comparisons["prompt_id"].to_numpy(),
        identity_slugs=slugs,
        fractions=options.split,
        seed=options.split_seed,
    )
    galleries = tables.Galleries.build(data.references, data.identities["identity_id"].to_numpy())
    pairs = tables.pairs_build(
        comparisons=data.comparisons,
        videos=data.videos,
        prompts=data.prompts,
        galleries=galleries,
        split_of_pair=split_of_pair,
    )
    decisions = read.track_decisions(comparison_ids=data.comparison_ids, criteria=data.criteria)
    construction = groups.pair_construction_of(pairs, data.videos) if options.schema == 2 else None

    def write_pairs() -> None:
        posteriors = data.quality.posteriors(data.comparison_ids, data.criteria)
        for index, split in enumerate(SPLITS):
            rows = np.flatnonzero(split_of_pair == index)
            with write.RowGroupWriter(work / f"data/pairs/{split}.parquet") as writer:
                # A row group at a time: no copy of a whole split's rows.
                for start in range(0, max(len(rows), 1), write.ROW_GROUP_SIZE):
                    group = rows[start : start + write.ROW_GROUP_SIZE]
                    written = tables.pairs_table(
                        pairs, group, data.criteria, labels, joint, posteriors, decisions
                    )
                    if construction is not None:  # schema 2: each pair's provenance (exports/groups.py)
                        written = groups.with_construction(written, construction.take(pa.array(group)))
                    writer.write(written)

    on_fit_thread: dict[str, Future[Any]] = {"pairs": data.quality.after_fit(write_pairs)}
    if options.schema == 2:
        # Numpy and the bootstrap's loops, no database: after the pairs, on the thread the fit has left.
        on_fit_thread["leaderboard"] = data.quality.after_fit(
            lambda: leaderboard_write(
                work=work,
                votes=data.votes,
                comparisons=data.comparisons,
                videos=data.videos,
                criteria=data.criteria,
            )
        )

    # First of the files: the judge conversations alone run to gigabytes at scale, and go to disk on
    # threads of their own (write.BackgroundFile) while the rest is built.
    report(0.5, "Writing adapters")
    if options.schema == 2:
        adapter_counts = trainers.write_trainers(
            work=work,
            options=options,
            pairs=pairs,
            criteria=data.criteria,
            labels=labels,
            joint=joint,
            votes=data.votes,
            videos=data.videos,
            references=data.references,
            identities=data.identities,
            galleries=galleries,
            study_ids=[s["id"] for s in data.studies_seen],
        )
    else:
        adapter_counts = adapters.write_adapters(
            work=work, pairs=pairs, criteria=data.criteria, labels=labels, joint=joint
        )
    release_freed_memory()  # the adapters' slices, before the groups are fitted
    # Schema 2: data/groups.parquet (one row per case): exports/groups.py.
    schema_2_groups: dict[str, Any] = {}
    if options.schema == 2:
        compared = pc.is_in(
            data.videos["id"],
            pa.concat_arrays(
                [
                    data.comparisons["video_a_id"].combine_chunks(),
                    data.comparisons["video_b_id"].combine_chunks(),
                ]
            ),
        )
        schema_2_groups = groups.groups_write(
            work=work,
            comparisons=data.comparisons,
            counts=data.counts,
            criteria=data.criteria,
            # The compared videos: a story's shot videos, exported with its joined file, are in no case.
            # Without such videos, the table itself, not a copy of it.
            videos=data.videos if pc.all(compared).as_py() else data.videos.filter(compared),
            prompts=data.prompts,
            galleries=galleries,
            split_of_pair=split_of_pair,
        )

    report(0.7, "Writing videos and references")
    write.write_parquet(
        tables.videos_table(data.videos, galleries, schema=options.schema), work / "data/videos.parquet"
    )
    write.write_parquet(
        tables.references_table(data.references, schema=options.schema), work / "data/references.parquet"
    )
    story_entry = (
        stories.stories_write(work=work, pairs=pairs, videos=data.videos) if options.schema == 2 else None
    )

    report(0.75, "Measuring agreement")
    agreement_data = {
        "categories": list(aggregate.CATEGORIES),
        "ties": "kept" if options.keep_ties else "dropped",
        "computed_over": "every exported comparison, before the min-votes and min-majority filters",
        "criteria": {c: agreement(data.counts[:, i, :]).as_dict() for i, c in enumerate(data.criteria)},
    }
    write.write_json(agreement_data, work / "data/agreement.json")

    media_files = _write_media(
        work=work, videos=data.videos, references=data.references, mode=options.media, report=report
    )

    newest = data.newest_us
    created_at = (
        datetime.fromtimestamp(newest / 1e6, tz=UTC).isoformat().replace("+00:00", "Z") if newest else None
    )
    passing = {c: int(labels[c].passes_filter.sum()) for c in data.criteria}
    if joint is not None:
        passing["joint"] = int(joint.passes_filter.sum())
    manifest: dict[str, Any] = {
        "schema_version": options.schema,
        "format": "preference-annotation export",
        "name": options.name,
        "app_version": app_version(),
        "pyarrow_version": pa.__version__,
        # Not the wall clock: the same database and options must give the same bytes, manifest included.
        "created_at": created_at,
        "created_at_rule": "time of the newest exported judgment",
        "filters": options.manifest_filters(excluded_rater_count=len(excluded)),
        "aggregation": {
            "criteria": list(data.criteria),
            "categories": {"A": ["A"], "B": ["B"], "tie": ["tie", "both_bad"] if options.keep_ties else []},
            "ties": "kept" if options.keep_ties else "dropped",
            "label": "plurality of A, B, tie; a shared top count gives tie; no vote gives none",
            "p_a": "(n_a + n_tie / 2) / n",
            "majority_share": "top count / n",
            "passes_filter": "n >= min_votes and majority_share >= min_majority and label is A or B"
            + (" or tie" if options.keep_ties else ""),
            "joint": {"criteria": list(options.joint_criteria), "rule": options.joint_rule}
            if options.joint_criteria
            else None,
        },
        "split": split_summary | {"seed": options.split_seed},
        "schema_additions": SCHEMA_ADDITIONS,
        **schema_2_groups,
        "counts": {
            "votes": data.votes.num_rows,
            "quality_checks": data.quality_checks,
            "raters_table": None,  # set once the quality fit is done
            "raters": len(pc.unique(data.votes["rater_pk"])),
            "pairs": len(pairs),
            "pairs_passing": passing,
            "videos": data.videos.num_rows,
            "references": data.references.num_rows,
            "adapters": adapter_counts,
        },
        "media": {"mode": options.media, "files": media_files},
    }
    if options.schema == 2:
        manifest["adapters"] = trainers.manifest_entry(adapter_counts)
        manifest["stories"] = story_entry
        manifest["leaderboard"] = None  # fitted on the quality fit's thread (on_fit_thread)
    if data.metrics is not None:  # read for every schema-2 export
        report(0.98, "Writing the automatic metrics")
        manifest["metrics"] = metrics_write(
            work=work,
            read=data.metrics,
            votes=data.votes,
            comparisons=data.comparisons,
            videos=data.videos,
            criteria=data.criteria,
        )
    return manifest, on_fit_thread


# --- media, card, manifest ----------------------------------------------------------------------


def _write_media(*, work: Path, videos: pa.Table, references: pa.Table, mode: str, report: ProgressFn) -> int:
    if mode == "none":
        return 0
    root = Path(settings.MEDIA_ROOT)
    files = dict(
        zip(
            tables.media_paths(videos).to_pylist() + tables.media_paths(references).to_pylist(),
            videos["file"].to_pylist() + references["file"].to_pylist(),
            strict=True,
        )
    )
    (work / "media").mkdir(exist_ok=True)
    total = len(files)
    for done, (target, name) in enumerate(sorted(files.items()), start=1):
        source = root / name
        if not source.is_file():
            raise ExportError(f"media file {name} is missing under MEDIA_ROOT")
        if mode == "copy":
            shutil.copyfile(source, work / target)
        else:
            os.symlink(source.resolve(), work / target)
        if done % 200 == 0 or done == total:
            report(0.8 + 0.15 * done / total, f"Media: {done} of {total} files")
    return total


def _finish(*, work: Path, manifest: dict[str, Any], options: ExportOptions) -> None:
    """Write the dataset card, then the manifest with the sha256 of every other file."""
    card.write_card(work / "README.md", manifest=manifest, options=options, work=work)
    listed = [
        (path.relative_to(work).as_posix(), path)
        for path in sorted(work.rglob("*"), key=lambda p: p.relative_to(work).as_posix())
        if not path.is_dir() and not path.relative_to(work).as_posix().startswith("media/")
    ]

    def digest(path: Path) -> str:
        # Files written by write.BackgroundFile were hashed on the way.
        return write.DIGESTS.pop(path.resolve(), None) or sha256_file(path)

    # hashlib lets go of the GIL while it hashes: the other files are hashed on every core at once.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        digests = list(pool.map(digest, [path for _, path in listed]))
    files: dict[str, dict[str, Any]] = {
        relative: {"sha256": digest, "bytes": path.stat().st_size}
        for (relative, path), digest in zip(listed, digests, strict=True)
    }
    if options.media != "none":
        # Media are named by their catalog sha256, checked when they were stored: not hashed again.
        for path in sorted((work / "media").iterdir()):
            files[f"media/{path.name}"] = {"sha256": path.name.split(".")[0], "bytes": path.stat().st_size}
    manifest["files"] = files
    write.write_json(manifest, work / "manifest.json")
