"""Text alignment: cosine similarity of the prompt and sampled frames, with operator-provided CLIP weights.

No CLIP weights ship in any installable package and nothing may be downloaded, so the metric runs only
when the operator sets ``TEXT_ALIGNMENT_MODEL`` to a local folder that ``CLIPModel.from_pretrained`` and
``CLIPProcessor.from_pretrained`` load (with ``local_files_only``). Without it, or when the folder does
not load, the outcome is "unavailable" with the reason: never a stand-in number. torch and transformers
are imported only then.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings as django_settings

from generation.metrics.definitions import MetricDefinition, MetricOutcome
from lib.hashing import sha256_file

SETTING = "TEXT_ALIGNMENT_MODEL"
HOW_TO_ADD = (
    f"No text-alignment weights on this machine: set {SETTING} to a local folder holding a CLIP model "
    "saved with save_pretrained (model, tokenizer and processor files)."
)


@dataclass(frozen=True)
class _Loaded:
    model: Any
    processor: Any


def model_folder() -> Path | None:
    """The folder named by the ``TEXT_ALIGNMENT_MODEL`` setting (or environment variable), if any."""
    if django_settings.configured:
        value = str(getattr(django_settings, SETTING, "") or "")
    else:
        value = os.environ.get(SETTING, "")
    return Path(value).expanduser() if value.strip() else None


def model_hash(folder: Path | None) -> str:
    """sha256 over the folder's files (relative names and sha256); empty without a readable folder."""
    if folder is None or not folder.is_dir():
        return ""
    files = sorted(path for path in folder.rglob("*") if path.is_file())
    # Keyed on names, sizes and modification times, so that weights are read once per process.
    key = tuple(
        (str(path.relative_to(folder)), path.stat().st_size, path.stat().st_mtime_ns) for path in files
    )
    return _folder_hash(str(folder), key)


@functools.lru_cache(maxsize=8)
def _folder_hash(folder: str, key: tuple[tuple[str, int, int], ...]) -> str:
    lines = "".join(f"{name} {sha256_file(Path(folder) / name)}\n" for name, _size, _mtime in key)
    return hashlib.sha256(lines.encode()).hexdigest()


@functools.lru_cache(maxsize=2)
def _load(folder: str, _model_hash: str) -> _Loaded:
    from transformers import CLIPModel, CLIPProcessor

    model = CLIPModel.from_pretrained(folder, local_files_only=True)
    model.eval()
    processor = CLIPProcessor.from_pretrained(folder, local_files_only=True)
    return _Loaded(model=model, processor=processor)


def text_alignment(
    frames: Sequence[np.ndarray], prompt_text: str, *, folder: Path | None, definition: MetricDefinition
) -> MetricOutcome:
    """Mean cosine similarity between the prompt's and each sampled frame's CLIP embeddings."""
    if folder is None:
        return MetricOutcome(definition=definition, status="unavailable", note=HOW_TO_ADD)
    if not folder.is_dir():
        note = f"{SETTING} names {folder}, which is not a folder on this machine."
        return MetricOutcome(definition=definition, status="unavailable", note=note[:300])
    if not frames:
        return MetricOutcome(definition=definition, status="failed", note="No frame could be decoded.")
    try:
        loaded = _load(str(folder), definition.model_hash)
    except Exception as error:  # any loading error means no weights, whatever the library raised
        note = f"The CLIP weights in {SETTING} did not load: {error.__class__.__name__}: {error}"
        return MetricOutcome(definition=definition, status="unavailable", note=note[:300])
    import torch

    limit = int(loaded.model.config.text_config.max_position_embeddings)
    inputs = loaded.processor(
        text=[prompt_text],
        images=list(frames),
        return_tensors="pt",
        padding=True,
        truncation=True,
        max_length=limit,
    )
    tokens = len(loaded.processor.tokenizer(prompt_text)["input_ids"])
    with torch.inference_mode():
        output = loaded.model(**inputs)
    # CLIPModel's forward returns both embeddings projected and L2-normalised: the product is the cosine.
    cosines = (output.image_embeds @ output.text_embeds[0]).double().numpy()
    details = {
        "frames": len(frames),
        "min": float(cosines.min()),
        "max": float(cosines.max()),
        "prompt_tokens": tokens,
        "prompt_truncated": tokens > limit,
    }
    return MetricOutcome(
        definition=definition, status="computed", value=float(cosines.mean()), details=details
    )
