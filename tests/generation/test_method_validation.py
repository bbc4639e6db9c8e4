"""A method is checked when it is saved (the admin, the catalog import) with the rules of a job launch."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from generation.backends.wan_random import RANDOM_WEIGHTS_CHECKPOINT
from generation.errors import MethodInvalid
from generation.models import GenerationJob, Method
from generation.services import generation_job_create
from lib.hashing import sha256_file
from tests.conftest import TinyModel
from tests.factories import IdentityFactory, MethodFactory, PromptFactory
from tests.generation.conftest import TINY_SETTINGS
from tests.generation.test_import_catalog import good_manifest, refused

pytestmark = pytest.mark.django_db

WRONG_SHA256 = "ab" * 32


def method_fields(tiny_model: TinyModel, **changes: Any) -> dict[str, Any]:
    """A diffusers method on the tiny model that can render, with ``changes`` applied."""
    fields: dict[str, Any] = {
        "name": "tiny-wan-lora",
        "role": Method.Role.OURS,
        "backend": Method.Backend.DIFFUSERS,
        "checkpoint": str(tiny_model.folder),
        "revision": "tiny",
        "lora_path": str(tiny_model.lora),
        "lora_sha256": sha256_file(tiny_model.lora),
        "settings": dict(TINY_SETTINGS),
        "description": "",
    }
    for key, value in changes.items():
        if key in TINY_SETTINGS:
            fields["settings"][key] = value
        else:
            fields[key] = value
    return fields


def admin_post(client: Client, fields: dict[str, Any], method: Method | None = None) -> Any:
    url = (
        reverse("admin:generation_method_change", args=[method.pk])
        if method
        else reverse("admin:generation_method_add")
    )
    return client.post(url, {**fields, "settings": json.dumps(fields["settings"])})


def form_errors(response: Any) -> dict[str, list[str]]:
    assert response.status_code == 200, "the admin saved a method it should have refused"
    return dict(response.context["adminform"].form.errors)


# (what is wrong, the field at fault, the rule the message states)
BAD_INPUTS = [
    ({"num_frames": 10}, "settings", "settings: num_frames must be of the form 4k+1 for this model"),
    ({"width": 48}, "settings", "settings: width and height must be multiples of 32 for this model"),
    ({"checkpoint": "/nonexistent/model"}, "checkpoint", "checkpoint: model folder /nonexistent/model"),
    (
        {"checkpoint": "NOT-A-PIPELINE"},
        "checkpoint",
        "is not a diffusers pipeline folder (no model_index.json)",
    ),
    ({"lora_sha256": WRONG_SHA256}, "lora_sha256", f"has sha256 {{sha}}, not {WRONG_SHA256}"),
    ({"lora_path": "/nonexistent/lora.safetensors"}, "lora_path", "lora_path: LoRA file /nonexistent/lora"),
    ({"lora_sha256": "abc"}, "lora_sha256", "lora_sha256: must be the 64 hexadecimal digits of a sha256"),
    # The random-weight Wan2.2 of bench/generate.py measures speed; no method may render with it.
    (
        {"checkpoint": RANDOM_WEIGHTS_CHECKPOINT},
        "checkpoint",
        f"checkpoint: {RANDOM_WEIGHTS_CHECKPOINT!r} names random weights, which only measure render speed",
    ),
]


def _bad(tiny_model: TinyModel, tmp_path: Path, change: dict[str, Any], rule: str) -> tuple[dict, str]:
    if change.get("checkpoint") == "NOT-A-PIPELINE":
        (tmp_path / "weights").mkdir()
        change = {"checkpoint": str(tmp_path / "weights")}
    return method_fields(tiny_model, **change), rule.replace("{sha}", sha256_file(tiny_model.lora))


@pytest.mark.parametrize(("change", "field", "rule"), BAD_INPUTS)
def test_the_admin_refuses_a_method_that_cannot_render_naming_the_field_and_the_rule(
    admin_client, tiny_model, tmp_path, change, field, rule
):
    fields, rule = _bad(tiny_model, tmp_path, change, rule)
    errors = form_errors(admin_post(admin_client, fields))
    assert list(errors) == [field]
    assert rule in errors[field][0]
    assert not Method.objects.exists()


@pytest.mark.parametrize(("change", "field", "rule"), BAD_INPUTS)
def test_a_change_that_breaks_a_method_is_refused_and_leaves_it_as_it_was(
    admin_client, tiny_model, tmp_path, change, field, rule
):
    method = Method.objects.create(**method_fields(tiny_model))
    before = Method.objects.values().get(pk=method.pk)
    fields, rule = _bad(tiny_model, tmp_path, change, rule)
    errors = form_errors(admin_post(admin_client, fields, method))
    assert rule in errors[field][0]
    assert Method.objects.values().get(pk=method.pk) == before


@pytest.mark.parametrize(("change", "field", "rule"), BAD_INPUTS)
def test_the_launch_and_the_save_refuse_the_same_input_with_the_same_message(
    admin_client, tiny_model, tmp_path, change, field, rule
):
    fields, rule = _bad(tiny_model, tmp_path, change, rule)
    saved_error = form_errors(admin_post(admin_client, fields))[field]
    method = MethodFactory(**fields)  # a method stored before its fields were checked
    with pytest.raises(MethodInvalid) as launched:
        generation_job_create(
            method=method, identities=[IdentityFactory()], prompts=[PromptFactory()], seeds=1
        )
    assert launched.value.field == field
    assert saved_error == [str(launched.value)]
    assert not GenerationJob.objects.exists()


def test_a_launch_checks_the_lora_checksum_before_anything_is_queued(tiny_model):
    method = MethodFactory(**method_fields(tiny_model, lora_sha256=WRONG_SHA256))
    with pytest.raises(MethodInvalid, match=f"lora_sha256: the LoRA file .* not {WRONG_SHA256}"):
        generation_job_create(
            method=method, identities=[IdentityFactory()], prompts=[PromptFactory()], seeds=1
        )
    assert not GenerationJob.objects.exists()


def test_a_method_that_can_render_is_saved_with_its_checksum_in_lower_case(admin_client, tiny_model):
    fields = method_fields(tiny_model, lora_sha256=sha256_file(tiny_model.lora).upper())
    response = admin_post(admin_client, fields)
    assert response.status_code == 302
    assert Method.objects.get().lora_sha256 == sha256_file(tiny_model.lora)


def test_a_checksum_without_a_lora_is_refused(admin_client, tiny_model):
    errors = form_errors(admin_post(admin_client, method_fields(tiny_model, lora_path="")))
    assert errors["lora_sha256"] == ["lora_sha256: is given, but there is no LoRA (lora_path is empty)"]


def test_settings_must_be_a_json_object(admin_client, tiny_model):
    response = admin_client.post(
        reverse("admin:generation_method_add"), {**method_fields(tiny_model), "settings": "[1, 2]"}
    )
    assert form_errors(response)["settings"] == [
        'settings: must be a JSON object such as {"num_frames": 81}, got list'
    ]


def test_a_method_of_imported_videos_needs_no_model_folder(admin_client):
    response = admin_post(
        admin_client,
        {
            "name": "baseline-elsewhere",
            "role": Method.Role.BASELINE,
            "backend": Method.Backend.IMPORTED,
            "checkpoint": "",
            "revision": "made elsewhere",
            "lora_path": "",
            "lora_sha256": "",
            "settings": {"steps": 30},
            "description": "",
        },
    )
    assert response.status_code == 302
    assert Method.objects.get().name == "baseline-elsewhere"


def test_the_procedural_backend_checks_its_own_settings_at_save(admin_client):
    fields = {
        "name": "cartoon",
        "role": Method.Role.BASELINE,
        "backend": Method.Backend.PROCEDURAL,
        "checkpoint": "",
        "revision": "",
        "lora_path": "",
        "lora_sha256": "",
        "settings": {"width": 33},
        "description": "",
    }
    errors = form_errors(admin_post(admin_client, fields))
    assert errors["settings"] == ["settings: width and height must be even for H.264, got 33×256"]


def test_the_catalog_import_refuses_a_method_that_cannot_render(tmp_path):
    manifest = good_manifest(tmp_path)
    manifest["methods"][1].update(backend="diffusers", checkpoint="/nonexistent/model")
    assert 'methods[1]: "checkpoint": model folder /nonexistent/model does not exist' in refused(
        tmp_path, manifest
    )


def test_make_tiny_model_prints_the_lora_checksum_that_a_method_takes(admin_client, tmp_path):
    out = io.StringIO()
    call_command("make_tiny_model", str(tmp_path / "wan"), "--lora", stdout=out)
    printed = re.search(r"^lora_sha256 \(paste into the method\): ([0-9a-f]{64})$", out.getvalue(), re.M)
    assert printed is not None, out.getvalue()
    lora = tmp_path / "wan-lora" / "pytorch_lora_weights.safetensors"
    fields = {
        "name": "pasted",
        "role": Method.Role.OURS,
        "backend": Method.Backend.DIFFUSERS,
        "checkpoint": str(tmp_path / "wan"),
        "revision": "",
        "lora_path": str(lora.parent),
        "lora_sha256": printed.group(1),
        "settings": dict(TINY_SETTINGS),
        "description": "",
    }
    assert admin_post(admin_client, fields).status_code == 302
    assert Method.objects.get(name="pasted").lora_sha256 == sha256_file(lora)
