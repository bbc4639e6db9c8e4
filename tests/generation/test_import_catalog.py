from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from PIL import Image

from generation import services
from generation.errors import CatalogImportError
from generation.models import Identity, Method, Prompt, Reference, Story, StoryShot, Video
from generation.services import catalog_import, manifest
from lib.hashing import sha256_file
from tests.factories import IdentityFactory, MethodFactory, PromptFactory, gradient_frames

pytestmark = pytest.mark.django_db

CATALOG_MODELS = (Identity, Reference, Prompt, Method, Video, Story, StoryShot)


# --- tiny media and a good import folder ---------------------------------------------------------------


def write_png(path: Path, *, size: int = 64, shade: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (size, size), (shade, 120, 200 - shade)).save(path, format="PNG")
    return path


def write_mp4(path: Path, *, shade: int = 0, codec: str = "libx264", pix_fmt: str = "yuv420p") -> Path:
    """Eight 64×64 frames, so every file is cheap to encode and probe."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w", format="mp4") as out:
        stream = out.add_stream(codec, rate=Fraction(8))
        stream.width = stream.height = 64
        stream.pix_fmt = pix_fmt
        for array in gradient_frames(count=8, size=64, shade=shade):
            for packet in stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def good_manifest(folder: Path) -> dict[str, Any]:
    write_png(folder / "refs/ada_face.png", shade=10)
    write_png(folder / "refs/ada_portrait.png", shade=40)
    write_mp4(folder / "refs/ada_clip.mp4", shade=3)
    write_mp4(folder / "videos/baseline-x_ada_p1_0.mp4", shade=50)
    write_mp4(folder / "videos/ours_ada_p1_0.mp4", shade=90)
    return {
        "version": 1,
        "identities": [
            {
                "slug": "ada",
                "name": "Ada",
                "consent_note": "Synthetic person, CC0.",
                "references": [
                    {"file": "refs/ada_face.png", "kind": "face", "primary": True, "note": "frontal"},
                    {"file": "refs/ada_portrait.png", "kind": "portrait"},
                    {"file": "refs/ada_clip.mp4", "kind": "video", "note": "turning head"},
                ],
            }
        ],
        "prompts": [
            {
                "slug": "p1",
                "task": "differential",
                "subject": "woman",
                "aspects": {"hairstyle": "short curly red hair", "setting": "on a beach at sunset"},
                "full_text": "A woman with short curly red hair on a beach at sunset.",
                "differential_text": "On a beach at sunset.",
                "omitted_aspects": ["hairstyle"],
            }
        ],
        "methods": [
            {"name": "baseline-x", "role": "baseline", "revision": "x-1.0", "settings": {"steps": 30}},
            {"name": "ours", "role": "ours", "settings": {"steps": 50, "cfg": 6.0}},
        ],
        "videos": [
            {
                "file": "videos/baseline-x_ada_p1_0.mp4",
                "method": "baseline-x",
                "identity": "ada",
                "prompt": "p1",
                "seed": 0,
                "settings": {"steps": 30},
            },
            {"file": "videos/ours_ada_p1_0.mp4", "method": "ours", "identity": "ada", "prompt": "p1"},
        ],
    }


def write_manifest(folder: Path, manifest: Any) -> Path:
    path = folder / "manifest.json"
    path.write_text(json.dumps(manifest) if not isinstance(manifest, str) else manifest)
    return path


def catalog_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in CATALOG_MODELS}


def media_files() -> set[Path]:
    # Hidden ".part-" files count too: a refused import must not leave half-written copies either.
    return {path for path in Path(settings.MEDIA_ROOT).rglob("*") if path.is_file()}


def refused(folder: Path, manifest: Any) -> list[str]:
    """Run an import that must be refused; check it wrote nothing; return its problems as text."""
    write_manifest(folder, manifest)
    counts, files = catalog_counts(), media_files()
    with pytest.raises(CatalogImportError) as raised:
        catalog_import(manifest_path=folder)
    assert catalog_counts() == counts
    assert media_files() == files
    return [str(problem) for problem in raised.value.problems]


# --- a good import -------------------------------------------------------------------------------------


def test_it_imports_identities_references_prompts_methods_and_videos(tmp_path):
    manifest = good_manifest(tmp_path)
    write_manifest(tmp_path, manifest)

    summary = catalog_import(manifest_path=tmp_path)

    assert (summary.identities.new, summary.prompts.new, summary.methods.new) == (1, 1, 2)
    assert (summary.references.new, summary.videos.new) == (3, 2)
    ada = Identity.objects.get(slug="ada")
    assert (ada.name, ada.consent_note) == ("Ada", "Synthetic person, CC0.")
    face, portrait, clip = ada.references.order_by("position")
    assert (face.is_primary, portrait.is_primary, clip.is_primary) == (True, False, False)
    assert (face.kind, face.note, face.width, face.height) == ("face", "frontal", 64, 64)
    assert face.sha256 == sha256_file(tmp_path / "refs/ada_face.png")
    assert (clip.kind, clip.width, clip.num_frames, clip.fps) == ("video", 64, 8, 8.0)
    assert clip.poster.name
    prompt = Prompt.objects.get(slug="p1")
    assert (prompt.task, prompt.subject, prompt.hairstyle) == (
        "differential",
        "woman",
        "short curly red hair",
    )
    assert prompt.omitted_aspects == ["hairstyle"]
    assert Method.objects.get(name="ours").role == "ours"
    assert Method.objects.get(name="baseline-x").backend == "imported"
    video = Video.objects.get(method__name="baseline-x")
    assert (video.identity, video.prompt, video.seed, video.origin) == (ada, prompt, 0, "imported")
    assert (video.codec, video.width, video.height, video.num_frames) == ("h264", 64, 64, 8)
    # Stored re-encoded: the catalog keeps the imported file's own sha256 for provenance.
    assert video.original_sha256 == sha256_file(tmp_path / "videos/baseline-x_ada_p1_0.mp4")
    assert video.sha256 == sha256_file(Path(settings.MEDIA_ROOT) / video.file.name) != video.original_sha256
    assert video.settings == {"steps": 30}
    for row in (face, clip, video):
        assert (Path(settings.MEDIA_ROOT) / row.file.name).is_file()
        # Stored names are opaque: they never repeat the method, identity or file name.
        assert "ada" not in row.file.name
        assert "baseline" not in row.file.name


def test_a_second_run_imports_nothing_twice(tmp_path):
    write_manifest(tmp_path, good_manifest(tmp_path))
    catalog_import(manifest_path=tmp_path)
    counts, files = catalog_counts(), media_files()

    summary = catalog_import(manifest_path=tmp_path)

    assert catalog_counts() == counts
    assert media_files() == files
    assert (summary.identities.present, summary.prompts.present, summary.methods.present) == (1, 1, 2)
    assert (summary.references.new, summary.references.present) == (0, 3)
    assert (summary.videos.new, summary.videos.present) == (0, 2)
    assert "videos: 0 imported, skipped 2 already present" in str(summary)


def test_a_dry_run_checks_everything_and_writes_nothing(tmp_path):
    write_manifest(tmp_path, good_manifest(tmp_path))
    counts, files = catalog_counts(), media_files()

    summary = catalog_import(manifest_path=tmp_path, dry_run=True)

    assert catalog_counts() == counts
    assert media_files() == files
    assert (summary.references.new, summary.videos.new) == (3, 2)
    assert str(summary).startswith("Dry run")


def test_the_path_may_be_the_manifest_file_itself(tmp_path):
    manifest_path = write_manifest(tmp_path, good_manifest(tmp_path))
    catalog_import(manifest_path=manifest_path)
    assert Video.objects.count() == 2


def test_videos_may_name_identities_prompts_and_methods_already_in_the_catalog(tmp_path):
    IdentityFactory(slug="bob")
    PromptFactory(slug="beach")
    MethodFactory(name="baseline-z")
    write_mp4(tmp_path / "videos/z.mp4", shade=7)
    manifest = {
        "videos": [{"file": "videos/z.mp4", "method": "baseline-z", "identity": "bob", "prompt": "beach"}]
    }
    write_manifest(tmp_path, manifest)

    catalog_import(manifest_path=tmp_path)

    video = Video.objects.get()
    assert (video.method.name, video.identity.slug, video.prompt.slug) == ("baseline-z", "bob", "beach")


def test_an_identity_in_the_catalog_may_gain_references_without_a_new_primary(tmp_path):
    manifest = good_manifest(tmp_path)
    write_manifest(tmp_path, manifest)
    catalog_import(manifest_path=tmp_path)
    write_png(tmp_path / "refs/ada_side.png", shade=77)
    manifest["identities"][0]["references"].append({"file": "refs/ada_side.png", "kind": "portrait"})
    write_manifest(tmp_path, manifest)

    summary = catalog_import(manifest_path=tmp_path)

    assert (summary.references.new, summary.references.present) == (1, 3)
    assert Reference.objects.filter(identity__slug="ada", is_primary=True).count() == 1


# --- bad inputs: refused with every reason, nothing written --------------------------------------------


def test_it_refuses_a_folder_without_a_manifest(tmp_path):
    with pytest.raises(CatalogImportError) as raised:
        catalog_import(manifest_path=tmp_path)
    assert str(raised.value).endswith(
        "manifest.json: file not found; give a folder with a manifest.json or the manifest file itself"
    )


def test_it_refuses_a_manifest_that_is_not_json(tmp_path):
    problems = refused(tmp_path, '{"identities": [}')
    assert problems == ["manifest.json: not valid JSON (line 1, column 17: Expecting value)"]


def test_the_command_refuses_a_deeply_nested_manifest_without_a_traceback(tmp_path):
    write_manifest(tmp_path, "[" * 100_000 + "]" * 100_000)
    with pytest.raises(CommandError) as raised:
        call_command("import_catalog", str(tmp_path))
    assert str(raised.value).splitlines() == [
        "Import refused, nothing was written (1 problem):",
        "manifest.json: nested too deeply to read (lists or objects within one another)",
    ]


def test_it_refuses_a_manifest_that_is_not_an_object(tmp_path):
    problems = refused(tmp_path, [1, 2])
    assert problems == [
        "manifest.json: expected an object with version, identities, prompts, methods, videos, stories, "
        "got a list"
    ]


def test_it_names_the_entry_that_misses_a_key(tmp_path):
    manifest = good_manifest(tmp_path)
    del manifest["videos"][1]["method"]
    assert refused(tmp_path, manifest) == ['videos[1]: missing "method"']


def test_it_refuses_unknown_keys_and_wrong_types(tmp_path):
    manifest = good_manifest(tmp_path)
    manifest["identities"][0]["references"][0]["primay"] = True
    manifest["videos"][0]["seed"] = "zero"
    manifest["prompts"] = {"p1": {}}
    problems = refused(tmp_path, manifest)
    assert 'manifest.json: "prompts" must be a list, got an object' in problems
    assert any(p.startswith('identities[0].references[0]: unknown key "primay"') for p in problems)
    assert 'videos[0]: "seed" must be a whole number, got a string' in problems


def test_it_refuses_a_file_that_is_not_found(tmp_path):
    manifest = good_manifest(tmp_path)
    manifest["identities"][0]["references"][1]["file"] = "refs/x.png"
    problems = refused(tmp_path, manifest)
    assert problems == ["refs/x.png: file not found (identities[0].references[1])"]


@pytest.mark.parametrize("escaping", ["../outside.png", "refs/../../outside.png", "/etc/passwd"])
def test_it_refuses_a_path_that_leaves_the_folder(tmp_path, escaping):
    folder = tmp_path / "import"
    manifest = good_manifest(folder)
    write_png(tmp_path / "outside.png")
    manifest["identities"][0]["references"][1]["file"] = escaping
    [problem] = refused(folder, manifest)
    assert problem.startswith(f"{escaping}: ")
    assert "relative to the manifest" in problem or "may not leave the manifest's folder" in problem


def test_it_refuses_a_link_that_leads_out_of_the_folder(tmp_path):
    folder = tmp_path / "import"
    manifest = good_manifest(folder)
    (folder / "refs/link.png").symlink_to(write_png(tmp_path / "outside.png"))
    manifest["identities"][0]["references"][1]["file"] = "refs/link.png"
    assert refused(folder, manifest) == [
        "refs/link.png: leads outside the manifest's folder (through a link) (identities[0].references[1])"
    ]


def test_it_refuses_a_png_that_is_text(tmp_path):
    manifest = good_manifest(tmp_path)
    (tmp_path / "refs/ada_portrait.png").write_text("not an image at all\n")
    assert refused(tmp_path, manifest) == [
        "refs/ada_portrait.png: is not a readable image (UnidentifiedImageError) "
        "(identities[0].references[1])"
    ]


def test_it_refuses_a_video_reference_that_is_an_image(tmp_path):
    manifest = good_manifest(tmp_path)
    write_png(tmp_path / "refs/still.png", shade=99)
    manifest["identities"][0]["references"][2]["file"] = "refs/still.png"
    assert refused(tmp_path, manifest) == [
        "refs/still.png: is a still image, not a video (identities[0].references[2])"
    ]


def test_it_refuses_a_video_that_does_not_decode(tmp_path):
    manifest = good_manifest(tmp_path)
    path = tmp_path / "videos/ours_ada_p1_0.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    [problem] = refused(tmp_path, manifest)
    assert problem.startswith("videos/ours_ada_p1_0.mp4: is not a readable video")
    assert problem.endswith("(videos[1])")


def test_it_refuses_a_video_that_browsers_cannot_play(tmp_path):
    manifest = good_manifest(tmp_path)
    # OpenCV's "mp4v" (MPEG-4 part 2): decodes fine, but Chromium shows nothing.
    write_mp4(tmp_path / "videos/ours_ada_p1_0.mp4", shade=90, codec="mpeg4")
    [problem] = refused(tmp_path, manifest)
    assert problem.startswith("videos/ours_ada_p1_0.mp4: is mpeg4 video, which browsers do not play")


def test_it_refuses_an_oversized_image_naming_its_size(tmp_path, settings):
    settings.CATALOG_MAX_IMAGE_SIDE = 32
    manifest = good_manifest(tmp_path)
    manifest["identities"][0]["references"] = manifest["identities"][0]["references"][:1]
    assert refused(tmp_path, manifest) == [
        "refs/ada_face.png: image is 64×64 pixels, larger than the 32-pixel limit "
        "(identities[0].references[0])"
    ]


def test_it_refuses_a_file_over_the_byte_limit(tmp_path, settings):
    manifest = good_manifest(tmp_path)
    size = (tmp_path / "videos/ours_ada_p1_0.mp4").stat().st_size
    settings.CATALOG_MAX_FILE_BYTES = size - 1
    problems = refused(tmp_path, manifest)
    assert (
        f"videos/ours_ada_p1_0.mp4: is {size} bytes, over the {size - 1}-byte limit (CATALOG_MAX_FILE_BYTES) "
        "(videos[1])"
    ) in problems


def test_it_refuses_a_second_primary_reference(tmp_path):
    manifest = good_manifest(tmp_path)
    manifest["identities"][0]["references"][1]["primary"] = True
    assert refused(tmp_path, manifest) == [
        'refs/ada_portrait.png: second primary reference for identity "ada"; refs/ada_face.png is primary '
        "(identities[0].references[1])"
    ]


def test_it_counts_a_primary_already_in_the_catalog(tmp_path):
    ada = IdentityFactory(slug="ada", name="Ada", consent_note="Synthetic person, CC0.")
    services.reference_create(
        identity=ada, kind="face", source=write_png(tmp_path / "old/ada.png", shade=200), is_primary=True
    )
    manifest = good_manifest(tmp_path)
    assert refused(tmp_path, manifest) == [
        'refs/ada_face.png: second primary reference for identity "ada"; the catalog has one already '
        "(identities[0].references[0])"
    ]


def test_it_refuses_a_new_identity_without_a_primary_reference(tmp_path):
    manifest = good_manifest(tmp_path)
    manifest["identities"][0]["references"][0]["primary"] = False
    assert refused(tmp_path, manifest) == [
        'identities[0]: new identity "ada" needs a reference with "primary": true'
    ]


def test_it_refuses_a_video_naming_an_unknown_identity_prompt_or_method(tmp_path):
    manifest = good_manifest(tmp_path)
    manifest["videos"][1].update(identity="zed", prompt="p9", method="magic")
    assert refused(tmp_path, manifest) == [
        'videos[1]: unknown identity "zed" (neither in the manifest nor in the catalog)',
        'videos[1]: unknown prompt "p9" (neither in the manifest nor in the catalog)',
        'videos[1]: unknown method "magic" (neither in the manifest nor in the catalog)',
    ]


def test_it_refuses_unknown_kind_task_and_role_values(tmp_path):
    manifest = good_manifest(tmp_path)
    manifest["identities"][0]["references"][1]["kind"] = "selfie"
    manifest["prompts"][0]["task"] = "diff"
    manifest["methods"][0]["role"] = "competitor"
    assert refused(tmp_path, manifest) == [
        "identities[0].references[1]: \"kind\" is 'selfie'; expected one of face, portrait, full_body, clip",
        "prompts[0]: \"task\" is 'diff'; expected one of full, differential",
        "methods[0]: \"role\" is 'competitor'; expected one of ours, baseline",
    ]


def test_it_refuses_omitted_aspects_that_are_not_among_the_seven(tmp_path):
    manifest = good_manifest(tmp_path)
    manifest["prompts"][0]["omitted_aspects"] = ["hairstyle", "haircolour"]
    [problem] = refused(tmp_path, manifest)
    assert problem.startswith('prompts[0]: "omitted_aspects" has "haircolour", not one of the aspects shot,')


def test_it_refuses_duplicate_slugs_and_names(tmp_path):
    manifest = good_manifest(tmp_path)
    manifest["identities"].append({"slug": "ada", "name": "Ada again"})
    manifest["prompts"].append({**manifest["prompts"][0]})
    manifest["methods"].append({"name": "ours", "role": "ours"})
    assert refused(tmp_path, manifest) == [
        'identities[1]: duplicate slug "ada" (also identities[0])',
        'prompts[1]: duplicate slug "p1" (also prompts[0])',
        'methods[2]: duplicate name "ours" (also methods[1])',
    ]


def test_it_refuses_the_same_file_listed_twice(tmp_path):
    manifest = good_manifest(tmp_path)
    manifest["videos"].append({**manifest["videos"][0], "method": "ours", "seed": 1})
    assert refused(tmp_path, manifest) == [
        "videos/baseline-x_ada_p1_0.mp4: has the same content as videos/baseline-x_ada_p1_0.mp4 (videos[0]) "
        "(videos[2])"
    ]


def test_it_refuses_a_namesake_that_differs_from_the_catalog(tmp_path):
    PromptFactory(slug="p1", full_text="Something else entirely.")
    manifest = good_manifest(tmp_path)
    [problem] = refused(tmp_path, manifest)
    assert problem.startswith('prompts[0]: slug "p1" is already in the catalog with a different ')
    assert "full_text" in problem


def test_it_refuses_a_file_already_in_the_catalog_under_another_identity(tmp_path):
    write_manifest(tmp_path, good_manifest(tmp_path))
    catalog_import(manifest_path=tmp_path)
    manifest = good_manifest(tmp_path)
    manifest["identities"].append(
        {
            "slug": "eve",
            "name": "Eve",
            "references": [{"file": "refs/ada_face.png", "kind": "face", "primary": True}],
        }
    )
    assert (
        'refs/ada_face.png: already in the catalog as a reference of identity "ada" '
        "(identities[1].references[0])"
    ) in (refused(tmp_path, manifest))


def test_it_reports_every_problem_at_once(tmp_path):
    manifest = good_manifest(tmp_path)
    manifest["identities"][0]["references"][1]["file"] = "refs/x.png"
    del manifest["videos"][0]["prompt"]
    manifest["methods"][1]["role"] = "mine"
    assert len(refused(tmp_path, manifest)) == 3


# --- a failure half-way through -------------------------------------------------------------------------


def test_a_failure_mid_way_keeps_no_rows_and_no_files(tmp_path, monkeypatch):
    write_manifest(tmp_path, good_manifest(tmp_path))
    counts, files = catalog_counts(), media_files()
    real_import = services.video_import_file
    calls = []

    def import_then_fail(**kwargs: Any) -> Video:
        calls.append(kwargs["source"])
        if len(calls) == 2:
            raise OSError("No space left on device")
        return real_import(**kwargs)

    monkeypatch.setattr(manifest, "video_import_file", import_then_fail)

    with pytest.raises(CatalogImportError) as raised:
        catalog_import(manifest_path=tmp_path)

    assert len(calls) == 2
    assert str(raised.value).startswith("videos[1]: could not be written (No space left on device)")
    assert catalog_counts() == counts
    assert media_files() == files


# --- the command ----------------------------------------------------------------------------------------


def test_the_command_prints_the_summary(tmp_path, capsys):
    write_manifest(tmp_path, good_manifest(tmp_path))
    call_command("import_catalog", str(tmp_path))
    out = capsys.readouterr().out
    assert "references: 3 imported, skipped 0 already present" in out
    assert "videos: 2 imported, skipped 0 already present" in out


def test_the_command_refuses_a_bad_import_with_every_problem_on_its_own_line(tmp_path):
    manifest = good_manifest(tmp_path)
    manifest["identities"][0]["references"][1]["file"] = "refs/x.png"
    del manifest["videos"][1]["method"]
    write_manifest(tmp_path, manifest)
    counts = catalog_counts()

    with pytest.raises(CommandError) as raised:
        call_command("import_catalog", str(tmp_path))

    assert str(raised.value).splitlines() == [
        "Import refused, nothing was written (2 problems):",
        'videos[1]: missing "method"',
        "refs/x.png: file not found (identities[0].references[1])",
    ]
    assert catalog_counts() == counts


def test_the_command_dry_run_writes_nothing(tmp_path, capsys):
    write_manifest(tmp_path, good_manifest(tmp_path))
    call_command("import_catalog", str(tmp_path), "--dry-run")
    assert "Dry run" in capsys.readouterr().out
    assert catalog_counts() == dict.fromkeys(catalog_counts(), 0)
