"""Import a catalog made elsewhere: identities, references, prompts, methods and videos.

An import is a folder with a ``manifest.json`` and the media files it names, by paths relative to that
folder (docs/import-format.md has a complete example)::

    {
      "version": 1,
      "identities": [{"slug", "name", "description"?, "consent_note"?,
                      "references": [{"file", "framing": face|portrait|full_body|clip,
                                      "viewpoint"?: front|three_quarter_left|three_quarter_right|
                                                    profile_left|profile_right|back|unknown,
                                      "three_view"?: true|false, "primary"?, "note"?}]}],
      "prompts":    [{"slug", "task": differential|full, "subject"?: man|woman|any, "full_text",
                      "differential_text"?, "aspects"?: {aspect: text}, "omitted_aspects"?: [aspect]}],
      "methods":    [{"name", "role": ours|baseline, "backend"?, "checkpoint"?, "revision"?,
                      "lora_path"?, "lora_sha256"?, "settings"?: {...}, "description"?}],
      "videos":     [{"file", "method", "identity", "prompt", "seed"?, "settings"?: {...}}],
      "stories":    [{"slug", "identity", "title"?, "shots": [prompt slug, ...]}]
    }

A reference's framing may also be given as ``kind`` (older manifests: ``video`` for a clip). An identity's
references flagged ``three_view`` must form its complete canonical set (three_view_check). A story's 2 to
5 shots are prompt slugs in order; a story already in the catalog must be described as it is there.

Identities and prompts are matched by slug and methods by name: one already in the catalog is reused
(the fields the manifest gives must then agree with it), and videos may name such rows without the
manifest listing them. References and videos are matched by the sha256 of their file: a file already in
the catalog is skipped, so running the same import twice imports nothing twice.

Everything is checked before anything is written, and every problem is reported at once. The writes
then happen in one transaction; if one fails, the rows and the stored media files of the whole import
are removed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, models, transaction

from generation import media
from generation.errors import CatalogImportError, Problem
from generation.models import (
    ASPECTS,
    STORY_SHOTS_MAX,
    STORY_SHOTS_MIN,
    Identity,
    Method,
    Prompt,
    Reference,
    Story,
    StoryShot,
    Video,
)
from generation.selectors import videos_by_file_sha256
from generation.services.catalog import reference_create, video_import_file
from generation.services.metrics import video_metrics_queue
from generation.services.viewpoints import three_view_check
from lib.hashing import sha256_file

MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 1

# The keys each entry may have and the JSON type of each; the models then check lengths, slugs and
# choices, so those rules are written once.
TOP_KEYS: dict[str, type] = {
    "version": int,
    "identities": list,
    "prompts": list,
    "methods": list,
    "videos": list,
    "stories": list,
}
IDENTITY_KEYS: dict[str, type] = {
    "slug": str,
    "name": str,
    "description": str,
    "consent_note": str,
    "references": list,
}
REFERENCE_KEYS: dict[str, type] = {
    "file": str,
    "framing": str,
    "kind": str,  # the framing's older name
    "viewpoint": str,
    "three_view": bool,
    "primary": bool,
    "note": str,
}
# The manifest's framings and the Reference.Kind each stands for ("video" is the older word for a clip).
FRAMINGS: dict[str, str] = {
    "face": Reference.Kind.FACE,
    "portrait": Reference.Kind.PORTRAIT,
    "full_body": Reference.Kind.FULL_BODY,
    "clip": Reference.Kind.VIDEO,
    "video": Reference.Kind.VIDEO,
}
STORY_KEYS: dict[str, type] = {"slug": str, "identity": str, "title": str, "shots": list}
PROMPT_KEYS: dict[str, type] = {
    "slug": str,
    "task": str,
    "subject": str,
    "aspects": dict,
    "full_text": str,
    "differential_text": str,
    "omitted_aspects": list,
}
METHOD_KEYS: dict[str, type] = {
    "name": str,
    "role": str,
    "backend": str,
    "checkpoint": str,
    "revision": str,
    "lora_path": str,
    "lora_sha256": str,
    "settings": dict,
    "description": str,
}
VIDEO_KEYS: dict[str, type] = {
    "file": str,
    "method": str,
    "identity": str,
    "prompt": str,
    "seed": int,
    "settings": dict,
}


@dataclass(frozen=True)
class Tally:
    new: int = 0
    present: int = 0


@dataclass(frozen=True)
class ImportSummary:
    manifest_path: Path
    dry_run: bool
    identities: Tally
    prompts: Tally
    methods: Tally
    references: Tally
    videos: Tally
    stories: Tally = Tally()

    def __str__(self) -> str:
        if self.dry_run:
            lines = [f"Dry run of {self.manifest_path}, nothing written:"]
            created, imported = "to create", "to import"
        else:
            lines = [f"Imported {self.manifest_path}:"]
            created, imported = "created", "imported"
        for label, tally in (
            ("identities", self.identities),
            ("prompts", self.prompts),
            ("methods", self.methods),
            ("stories", self.stories),
        ):
            lines.append(f"  {label}: {tally.new} {created}, {tally.present} reused")
        for label, tally in (("references", self.references), ("videos", self.videos)):
            lines.append(f"  {label}: {tally.new} {imported}, skipped {tally.present} already present")
        return "\n".join(lines)


def catalog_import(*, manifest_path: Path, dry_run: bool = False) -> ImportSummary:
    """Check a manifest and its files, then import them in one transaction (or, dry, only check).

    Raises CatalogImportError with every problem found; then nothing has been written.
    """
    plan = _Planner(_manifest_file(Path(manifest_path))).run()
    if not dry_run:
        _write(plan)
    return plan.summary(dry_run=dry_run)


def _manifest_file(path: Path) -> Path:
    path = path.expanduser().resolve()
    return path / MANIFEST_NAME if path.is_dir() else path


# --- the plan: what the manifest asks for, once checked ----------------------------------------------


@dataclass
class _Described:
    """An identity, prompt or method the manifest describes: new (unsaved) or matched in the catalog."""

    entry: str
    instance: Identity | Prompt | Method
    given: set[str]
    existing: Identity | Prompt | Method | None = None


@dataclass
class _MediaRow:
    """A reference or a video file the manifest names."""

    entry: str
    file: str
    path: Path | None = None  # set once the file passed its checks
    sha256: str = ""
    present: Reference | Video | None = None  # the same file, already in the catalog


@dataclass
class _ReferenceRow(_MediaRow):
    identity: str = ""
    kind: str = ""
    viewpoint: str = Reference.Viewpoint.UNKNOWN
    in_three_view: bool = False
    is_primary: bool = False
    note: str = ""
    position: int = 0


@dataclass
class _VideoRow(_MediaRow):
    method: str = ""
    identity: str = ""
    prompt: str = ""
    seed: int = 0
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass
class _StoryRow:
    """A story the manifest describes; ``present`` is the same story already in the catalog."""

    entry: str
    slug: str
    identity: str
    title: str
    shots: list[str]
    present: Story | None = None


@dataclass
class _Plan:
    manifest_path: Path
    identities: dict[str, _Described] = field(default_factory=dict)
    prompts: dict[str, _Described] = field(default_factory=dict)
    methods: dict[str, _Described] = field(default_factory=dict)
    references: list[_ReferenceRow] = field(default_factory=list)
    videos: list[_VideoRow] = field(default_factory=list)
    stories: list[_StoryRow] = field(default_factory=list)
    # Rows that videos name without the manifest describing them.
    catalog_identities: dict[str, Identity] = field(default_factory=dict)
    catalog_prompts: dict[str, Prompt] = field(default_factory=dict)
    catalog_methods: dict[str, Method] = field(default_factory=dict)

    def summary(self, *, dry_run: bool) -> ImportSummary:
        def tally(rows: Iterable[_Described | _MediaRow | _StoryRow]) -> Tally:
            found = [row.existing if isinstance(row, _Described) else row.present for row in rows]
            present = sum(1 for row in found if row is not None)
            return Tally(new=len(found) - present, present=present)

        return ImportSummary(
            manifest_path=self.manifest_path,
            dry_run=dry_run,
            identities=tally(self.identities.values()),
            prompts=tally(self.prompts.values()),
            methods=tally(self.methods.values()),
            references=tally(self.references),
            videos=tally(self.videos),
            stories=tally(self.stories),
        )


class _Planner:
    def __init__(self, manifest_path: Path) -> None:
        self.manifest_path = manifest_path
        self.root = manifest_path.parent
        self.problems: list[Problem] = []
        self.plan = _Plan(manifest_path=manifest_path)

    def add(self, where: str, reason: str, entry: str = "") -> None:
        self.problems.append(Problem(where, reason, entry))

    def run(self) -> _Plan:
        manifest = self._load()
        if manifest is not None:
            self._read_identities(manifest.get("identities", []))
            self._read_prompts(manifest.get("prompts", []))
            self._read_methods(manifest.get("methods", []))
            self._read_videos(manifest.get("videos", []))
            self._read_stories(manifest.get("stories", []))
            self._check_files()
            self._match_catalog()
            self._check_video_links()
            self._check_story_links()
            self._check_primaries()
            self._check_three_views()
        if self.problems:
            raise CatalogImportError(self.problems)
        return self.plan

    # --- the manifest's shape ----------------------------------------------------------------------

    def _load(self) -> dict[str, Any] | None:
        where = self.manifest_path.name
        if not self.manifest_path.is_file():
            self.add(
                str(self.manifest_path),
                f"file not found; give a folder with a {MANIFEST_NAME} or the manifest file itself",
            )
            return None
        try:
            manifest = json.loads(self.manifest_path.read_bytes(), parse_constant=_refuse_constant)
        except json.JSONDecodeError as error:
            self.add(where, f"not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})")
            return None
        except (UnicodeDecodeError, ValueError) as error:
            self.add(where, f"not valid JSON ({error})")
            return None
        except RecursionError:
            # Python's parser recurses once per nested list or object; no manifest needs that depth.
            self.add(where, "nested too deeply to read (lists or objects within one another)")
            return None
        if not isinstance(manifest, dict):
            self.add(where, f"expected an object with {', '.join(TOP_KEYS)}, got {_json_type(manifest)}")
            return None
        fields = self._fields(where, manifest, TOP_KEYS, required=set())
        if fields.get("version", FORMAT_VERSION) != FORMAT_VERSION:
            self.add(where, f'"version" is {fields["version"]}; this importer reads version {FORMAT_VERSION}')
        # A section with the wrong type was reported by _fields; read it as empty.
        return {key: fields.get(key, []) for key in TOP_KEYS if key != "version"}

    def _fields(self, where: str, raw: Any, spec: dict[str, type], required: set[str]) -> dict[str, Any]:
        """The entry's keys that have the right JSON type; every other key is reported."""
        if not isinstance(raw, dict):
            self.add(where, f"expected an object, got {_json_type(raw)}")
            return {}
        for key in sorted(raw.keys() - spec.keys()):
            self.add(where, f'unknown key "{key}"; expected {", ".join(spec)}')
        for key in sorted(required - raw.keys()):
            self.add(where, f'missing "{key}"')
        fields = {}
        for key, value in raw.items():
            expected = spec.get(key)
            if expected is None:
                continue
            # JSON true/false are Python ints too, and a seed of 1.5 is not a whole number.
            if isinstance(value, expected) and not (expected is int and isinstance(value, bool)):
                fields[key] = value
            else:
                self.add(where, f'"{key}" must be {_json_type_name(expected)}, got {_json_type(value)}')
        return fields

    def _model_check(self, where: str, instance: models.Model, exclude: list[str]) -> None:
        """Run the model's own field checks (lengths, slugs, choices) on an unsaved row."""
        try:
            instance.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
        except ValidationError as error:
            for name, errors in error.error_dict.items():
                model_field = instance._meta.get_field(name)
                for each in errors:
                    key = _manifest_key(name)
                    # Only a model field (not a relation's reverse side) has choices to list.
                    if each.code == "invalid_choice" and isinstance(model_field, models.Field):
                        allowed = ", ".join(str(value) for value, _ in model_field.choices or [])
                        self.add(where, f'"{key}" is {getattr(instance, name)!r}; expected one of {allowed}')
                    else:
                        text = " ".join(each.messages)
                        # A method's own check names its field already ("checkpoint: …").
                        text = text.removeprefix(f"{name}: ")
                        self.add(where, f'"{key}": {text}')

    def _unique(self, key: str, where: str, value: str, seen: dict[str, str]) -> bool:
        if value in seen:
            self.add(where, f'duplicate {key} "{value}" (also {seen[value]})')
            return False
        seen[value] = where
        return True

    def _read_identities(self, entries: list[Any]) -> None:
        seen: dict[str, str] = {}
        for index, raw in enumerate(entries):
            where = f"identities[{index}]"
            fields = self._fields(where, raw, IDENTITY_KEYS, required={"slug", "name"})
            references = fields.pop("references", [])
            if "slug" not in fields:
                continue
            slug = fields["slug"]
            instance = Identity(**fields)
            self._model_check(where, instance, exclude=[])
            if self._unique("slug", where, slug, seen):
                self.plan.identities[slug] = _Described(where, instance, given=set(fields))
            for position, raw_reference in enumerate(references):
                self._read_reference(f"{where}.references[{position}]", raw_reference, slug, position)

    def _read_reference(self, where: str, raw: Any, identity: str, position: int) -> None:
        fields = self._fields(where, raw, REFERENCE_KEYS, required={"file"})
        given = [key for key in ("framing", "kind") if key in fields]
        if len(given) > 1:
            self.add(where, 'give "framing" or its older name "kind", not both')
        elif not given and isinstance(raw, dict) and not {"framing", "kind"} & raw.keys():
            self.add(where, 'missing "framing"')
        if "file" not in fields or len(given) != 1:
            return
        framing = fields[given[0]]
        kind = FRAMINGS.get(framing, "")
        if not kind:
            allowed = ", ".join(name for name in FRAMINGS if name != "video")
            self.add(where, f'"{given[0]}" is {framing!r}; expected one of {allowed}')
        row = _ReferenceRow(
            entry=where,
            file=fields["file"],
            identity=identity,
            kind=kind,
            viewpoint=fields.get("viewpoint", Reference.Viewpoint.UNKNOWN),
            in_three_view=fields.get("three_view", False),
            is_primary=fields.get("primary", False),
            note=fields.get("note", ""),
            position=position,
        )
        instance = Reference(
            kind=row.kind,
            viewpoint=row.viewpoint,
            in_three_view=row.in_three_view,
            is_primary=row.is_primary,
            note=row.note,
            position=position,
        )
        exclude = ["identity", "file", "poster", "sha256", "bytes", "width", "height"]
        self._model_check(where, instance, exclude=exclude if kind else [*exclude, "kind"])
        # Kept even when invalid, so that its identity's primary is still counted.
        self.plan.references.append(row)

    def _read_prompts(self, entries: list[Any]) -> None:
        seen: dict[str, str] = {}
        for index, raw in enumerate(entries):
            where = f"prompts[{index}]"
            fields = self._fields(where, raw, PROMPT_KEYS, required={"slug", "task", "full_text"})
            aspects = fields.pop("aspects", {})
            for name, text in aspects.items():
                if name not in ASPECTS:
                    self.add(where, f'"aspects" has "{name}", not one of the aspects {", ".join(ASPECTS)}')
                elif not isinstance(text, str):
                    self.add(where, f'"aspects.{name}" must be a string, got {_json_type(text)}')
                else:
                    fields[name] = text
            for name in fields.get("omitted_aspects", []):
                if name not in ASPECTS:
                    named = json.dumps(name)
                    self.add(
                        where, f'"omitted_aspects" has {named}, not one of the aspects {", ".join(ASPECTS)}'
                    )
            if "slug" not in fields:
                continue
            instance = Prompt(**fields)
            self._model_check(where, instance, exclude=[])
            if self._unique("slug", where, fields["slug"], seen):
                self.plan.prompts[fields["slug"]] = _Described(where, instance, given=set(fields))

    def _read_methods(self, entries: list[Any]) -> None:
        seen: dict[str, str] = {}
        for index, raw in enumerate(entries):
            where = f"methods[{index}]"
            fields = self._fields(where, raw, METHOD_KEYS, required={"name", "role"})
            if "name" not in fields:
                continue
            instance = Method(**fields)
            self._model_check(where, instance, exclude=[])
            if self._unique("name", where, fields["name"], seen):
                self.plan.methods[fields["name"]] = _Described(where, instance, given=set(fields))

    def _read_videos(self, entries: list[Any]) -> None:
        for index, raw in enumerate(entries):
            where = f"videos[{index}]"
            fields = self._fields(where, raw, VIDEO_KEYS, required={"file", "method", "identity", "prompt"})
            if not {"file", "method", "identity", "prompt"} <= fields.keys():
                continue
            row = _VideoRow(entry=where, **fields)
            instance = Video(seed=row.seed, settings=row.settings)
            self._model_check(
                where, instance, exclude=[f.name for f in Video._meta.fields if f.name != "seed"]
            )
            self.plan.videos.append(row)

    def _read_stories(self, entries: list[Any]) -> None:
        seen: dict[str, str] = {}
        for index, raw in enumerate(entries):
            where = f"stories[{index}]"
            fields = self._fields(where, raw, STORY_KEYS, required={"slug", "identity", "shots"})
            if not {"slug", "identity", "shots"} <= fields.keys():
                continue
            shots = fields["shots"]
            if not STORY_SHOTS_MIN <= len(shots) <= STORY_SHOTS_MAX:
                self.add(
                    where,
                    f'"shots" has {len(shots)} prompt(s); a story has {STORY_SHOTS_MIN} to {STORY_SHOTS_MAX}',
                )
            for position, shot in enumerate(shots, start=1):
                if not isinstance(shot, str):
                    self.add(where, f'"shots" item {position} must be a prompt slug, got {_json_type(shot)}')
            shots = [shot for shot in shots if isinstance(shot, str)]
            row = _StoryRow(where, fields["slug"], fields["identity"], fields.get("title", ""), shots)
            self._model_check(where, Story(slug=row.slug, title=row.title), exclude=["identity"])
            if self._unique("slug", where, row.slug, seen):
                self.plan.stories.append(row)

    # --- the files ---------------------------------------------------------------------------------

    def _check_files(self) -> None:
        rows: list[_ReferenceRow | _VideoRow] = [*self.plan.references, *self.plan.videos]
        for row in rows:
            if isinstance(row, _ReferenceRow) and row.kind not in Reference.Kind.values:
                continue  # reported already; which probe applies is unknown
            path = self._resolve(row)
            if path is None:
                continue
            is_video = isinstance(row, _VideoRow) or row.kind == Reference.Kind.VIDEO
            reason = media.probe_problem(path, is_video=is_video)
            if reason:
                self.add(row.file, reason, row.entry)
                continue
            row.path = path
            row.sha256 = sha256_file(path)
        # The same content twice would break the catalog's one-row-per-file rule half-way through.
        for group in (self.plan.references, self.plan.videos):
            first: dict[str, _MediaRow] = {}
            for row in group:
                if not row.sha256:
                    continue
                earlier = first.setdefault(row.sha256, row)
                if earlier is not row:
                    self.add(row.file, f"has the same content as {earlier.file} ({earlier.entry})", row.entry)

    def _resolve(self, row: _MediaRow) -> Path | None:
        """The file's path inside the import folder, or None after reporting why it cannot be used."""
        if not row.file:
            self.add(row.entry, '"file" is empty')
            return None
        relative = PurePosixPath(row.file)
        if relative.is_absolute():
            self.add(row.file, "absolute paths are refused; give a path relative to the manifest", row.entry)
            return None
        if ".." in relative.parts:
            self.add(row.file, 'paths may not leave the manifest\'s folder ("..")', row.entry)
            return None
        path = (self.root / relative).resolve()
        # A symbolic link could still point outside the folder.
        if not path.is_relative_to(self.root.resolve()):
            self.add(row.file, "leads outside the manifest's folder (through a link)", row.entry)
            return None
        if not path.exists():
            self.add(row.file, "file not found", row.entry)
            return None
        if not path.is_file():
            self.add(row.file, "is not a regular file", row.entry)
            return None
        size, limit = path.stat().st_size, settings.CATALOG_MAX_FILE_BYTES
        if size > limit:
            self.add(
                row.file, f"is {size} bytes, over the {limit}-byte limit (CATALOG_MAX_FILE_BYTES)", row.entry
            )
            return None
        return path

    # --- the catalog as it is ----------------------------------------------------------------------

    def _match_catalog(self) -> None:
        plan = self.plan
        identity_slugs = (
            set(plan.identities)
            | {video.identity for video in plan.videos}
            | {story.identity for story in plan.stories}
        )
        prompt_slugs = (
            set(plan.prompts)
            | {video.prompt for video in plan.videos}
            | {slug for story in plan.stories for slug in story.shots}
        )
        method_names = set(plan.methods) | {video.method for video in plan.videos}
        plan.catalog_identities = Identity.objects.in_bulk(identity_slugs, field_name="slug")
        plan.catalog_prompts = Prompt.objects.in_bulk(prompt_slugs, field_name="slug")
        plan.catalog_methods = Method.objects.in_bulk(method_names, field_name="name")
        for key, described, found in (
            ("slug", plan.identities, plan.catalog_identities),
            ("slug", plan.prompts, plan.catalog_prompts),
            ("name", plan.methods, plan.catalog_methods),
        ):
            for value, item in described.items():
                item.existing = found.get(value)
                if item.existing is not None:
                    self._check_agrees(item, key, value)

        references = Reference.objects.select_related("identity").in_bulk(
            [row.sha256 for row in plan.references if row.sha256], field_name="sha256"
        )
        for row in plan.references:
            row.present = references.get(row.sha256)
            if row.present is not None and row.present.identity.slug != row.identity:
                self.add(
                    row.file,
                    f'already in the catalog as a reference of identity "{row.present.identity.slug}"',
                    row.entry,
                )
        videos = videos_by_file_sha256(digests=[row.sha256 for row in plan.videos if row.sha256])
        for video in plan.videos:
            video.present = present = videos.get(video.sha256)
            if present is not None and (
                (present.method.name, present.identity.slug, present.prompt.slug, present.seed)
                != (video.method, video.identity, video.prompt, video.seed)
            ):
                self.add(
                    video.file,
                    f'already in the catalog as the video of method "{present.method.name}", identity '
                    f'"{present.identity.slug}", prompt "{present.prompt.slug}", seed {present.seed}',
                    video.entry,
                )

    def _check_agrees(self, row: _Described, key: str, value: str) -> None:
        """A row reused from the catalog must be the one the manifest describes, not a namesake."""
        differing = [
            name for name in sorted(row.given) if getattr(row.existing, name) != getattr(row.instance, name)
        ]
        if differing:
            self.add(
                row.entry,
                f'{key} "{value}" is already in the catalog with a different {", ".join(differing)}; '
                f"give it a new {key}, or describe it as the catalog has it",
            )

    def _check_video_links(self) -> None:
        plan = self.plan
        for row in plan.videos:
            for what, value, manifest, catalog in (
                ("identity", row.identity, plan.identities, plan.catalog_identities),
                ("prompt", row.prompt, plan.prompts, plan.catalog_prompts),
                ("method", row.method, plan.methods, plan.catalog_methods),
            ):
                if value not in manifest and value not in catalog:
                    self.add(
                        row.entry, f'unknown {what} "{value}" (neither in the manifest nor in the catalog)'
                    )

    def _check_story_links(self) -> None:
        plan = self.plan
        stories = Story.objects.select_related("identity").in_bulk(
            [story.slug for story in plan.stories], field_name="slug"
        )
        for row in plan.stories:
            if row.identity not in plan.identities and row.identity not in plan.catalog_identities:
                self.add(
                    row.entry,
                    f'unknown identity "{row.identity}" (neither in the manifest nor in the catalog)',
                )
            for position, slug in enumerate(row.shots, start=1):
                if slug not in plan.prompts and slug not in plan.catalog_prompts:
                    self.add(
                        row.entry,
                        f'shot {position}: unknown prompt "{slug}" '
                        "(neither in the manifest nor in the catalog)",
                    )
            row.present = present = stories.get(row.slug)
            if present is not None and (
                (present.identity.slug, present.title, [prompt.slug for prompt in present.shot_prompts()])
                != (row.identity, row.title, row.shots)
            ):
                self.add(
                    row.entry,
                    f'slug "{row.slug}" is already in the catalog as a story with another identity, title '
                    "or shots; give it a new slug, or describe it as the catalog has it",
                )

    def _check_three_views(self) -> None:
        """Each identity's three-view set, as the catalog has it with the manifest's new references."""
        slugs = {row.identity for row in self.plan.references}
        in_catalog: dict[str, list[Reference]] = {slug: [] for slug in slugs}
        for reference in Reference.objects.filter(identity__slug__in=slugs).select_related("identity"):
            in_catalog[reference.identity.slug].append(reference)
        for slug in sorted(slugs):
            # A row with an unknown framing or viewpoint was reported already.
            new = [
                row
                for row in self.plan.references
                if row.identity == slug
                and row.present is None
                and row.kind in Reference.Kind.values
                and row.viewpoint in Reference.Viewpoint.values
            ]
            for problem in three_view_check([*in_catalog[slug], *new], identity=slug):
                self.add(self.plan.identities[slug].entry, problem)

    def _check_primaries(self) -> None:
        with_primary = set(
            Reference.objects.filter(
                identity__slug__in=[slug for slug, row in self.plan.identities.items() if row.existing],
                is_primary=True,
            ).values_list("identity__slug", flat=True)
        )
        for slug, identity in self.plan.identities.items():
            rows = [row for row in self.plan.references if row.identity == slug]
            new_primaries = [row for row in rows if row.is_primary and row.present is None]
            if identity.existing is None and not new_primaries:
                self.add(identity.entry, f'new identity "{slug}" needs a reference with "primary": true')
            # The catalog allows one primary per identity: one it has already, or the manifest's first.
            primary = "the catalog has one already" if slug in with_primary else None
            for row in new_primaries:
                if primary is None:
                    primary = f"{row.file} is primary"
                else:
                    self.add(
                        row.file, f'second primary reference for identity "{slug}"; {primary}', row.entry
                    )


# --- writing ------------------------------------------------------------------------------------------


def _write(plan: _Plan) -> None:
    """Write the checked plan in one transaction; on failure remove every file this import stored."""
    stored: list[str | None] = []  # a file field's name is None when it holds no file
    created_videos: list[int] = []
    entry = MANIFEST_NAME
    try:
        with transaction.atomic():
            for described in (*plan.identities.values(), *plan.prompts.values(), *plan.methods.values()):
                if described.existing is None:
                    entry = described.entry
                    described.instance.save()
            identities = plan.catalog_identities | {slug: _row(d) for slug, d in plan.identities.items()}
            prompts = plan.catalog_prompts | {slug: _row(d) for slug, d in plan.prompts.items()}
            methods = plan.catalog_methods | {name: _row(d) for name, d in plan.methods.items()}
            for reference in plan.references:
                if reference.present is None and reference.path is not None:
                    entry = reference.entry
                    created = reference_create(
                        identity=identities[reference.identity],
                        kind=reference.kind,
                        viewpoint=reference.viewpoint,
                        in_three_view=reference.in_three_view,
                        source=reference.path,
                        is_primary=reference.is_primary,
                        position=reference.position,
                        note=reference.note,
                    )
                    stored += [created.file.name, created.poster.name]
            for story in plan.stories:
                if story.present is None:
                    entry = story.entry
                    created_story = Story.objects.create(
                        slug=story.slug, identity=identities[story.identity], title=story.title
                    )
                    StoryShot.objects.bulk_create(
                        StoryShot(story=created_story, position=position, prompt=prompts[slug])
                        for position, slug in enumerate(story.shots, start=1)
                    )
            for video in plan.videos:
                if video.present is None and video.path is not None:
                    entry = video.entry
                    created_video = video_import_file(
                        source=video.path,
                        method=methods[video.method],
                        identity=identities[video.identity],
                        prompt=prompts[video.prompt],
                        seed=video.seed,
                        settings=video.settings,
                        queue_metrics=False,
                    )
                    stored += [created_video.file.name, created_video.poster.name]
                    created_videos.append(created_video.pk)
            # Once for the whole import, after its commit: each video's task then finds its row.
            video_metrics_queue(video_ids=created_videos)
    except (DatabaseError, OSError, ValueError) as error:
        # ValueError covers MediaError and PyAV's errors: a file changed since it was checked, or
        # another import wrote the same rows in the meantime.
        media.delete_stored(stored)
        raise CatalogImportError(
            [Problem(entry, f"could not be written ({error}); the import was rolled back, nothing was kept")]
        ) from error
    except BaseException:
        media.delete_stored(stored)
        raise


def _row(described: _Described) -> Any:
    return described.existing if described.existing is not None else described.instance


# --- small helpers ------------------------------------------------------------------------------------


def _refuse_constant(name: str) -> float:
    # PostgreSQL's jsonb has no NaN or Infinity: refuse them now rather than fail half-way through.
    raise ValueError(f"{name} is not allowed")


def _manifest_key(model_field: str) -> str:
    if model_field in ASPECTS:
        return f"aspects.{model_field}"
    return {"is_primary": "primary", "in_three_view": "three_view", "kind": "framing"}.get(
        model_field, model_field
    )


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if value is None:
        return "null"
    return _json_type_name(type(value))


def _json_type_name(python_type: type) -> str:
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "true or false",
        int: "a whole number",
        float: "a number",
    }.get(python_type, python_type.__name__)
