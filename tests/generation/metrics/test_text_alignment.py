"""Text alignment: unavailable without operator weights; with a tiny random CLIP, computed through the
same loading code as real weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pytest_django.fixtures import Settings

from generation.metrics import text
from generation.metrics.compute import metric_definitions, metrics_of_video
from generation.metrics.definitions import MetricOutcome
from tests.generation.metrics.media import texture, write_mp4


def save_tiny_clip(folder: Path, *, seed: int) -> Path:
    """A random CLIP of a few kilobytes with a byte-level tokenizer, saved as an operator would save one."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    # Every byte is a token (with and without the end-of-word mark) and there are no merges.
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for suffix in ("", "</w>"):
        for character in bytes_to_unicode().values():
            vocab[character + suffix] = len(vocab)
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[])
    layers = {"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2, "num_attention_heads": 4}
    config = CLIPConfig(
        text_config={
            **layers,
            "vocab_size": len(vocab),
            "max_position_embeddings": 77,
            "bos_token_id": 0,
            "eos_token_id": 1,
            "pad_token_id": 1,
        },
        vision_config={**layers, "image_size": 32, "patch_size": 8},
        projection_dim=16,
    )
    torch.manual_seed(seed)
    CLIPModel(config).save_pretrained(folder)
    image_processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(folder)
    return folder


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def still_video(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    # Grey, so that 4:2:0 chroma subsampling loses nothing and the decoded frames are the picture.
    picture = np.repeat(texture(64, 48, seed=5).mean(axis=2, keepdims=True), 3, axis=2).astype(np.uint8)
    return write_mp4(tmp_path_factory.mktemp("text") / "still.mp4", [picture] * 4, crf=0), picture


def alignment(video: Path, prompt: str = "a textured wall") -> MetricOutcome:
    [outcome] = metrics_of_video(
        video_path=video, references=[], prompt_text=prompt, names={"text_alignment"}
    )
    return outcome


def test_without_weights_text_alignment_is_unavailable_and_says_how_to_add_them(
    settings: Settings, still_video: tuple[Path, np.ndarray]
) -> None:
    settings.TEXT_ALIGNMENT_MODEL = ""

    outcome = alignment(still_video[0])

    assert (outcome.status, outcome.value) == ("unavailable", None)
    assert "set TEXT_ALIGNMENT_MODEL to a local folder" in outcome.note
    assert outcome.definition.model_hash == ""


def test_a_setting_that_names_no_folder_is_unavailable_naming_it(
    settings: Settings, tmp_path: Path, still_video: tuple[Path, np.ndarray]
) -> None:
    settings.TEXT_ALIGNMENT_MODEL = str(tmp_path / "missing")

    outcome = alignment(still_video[0])

    assert outcome.status == "unavailable"
    assert (
        outcome.note
        == f"TEXT_ALIGNMENT_MODEL names {tmp_path / 'missing'}, which is not a folder on this machine."
    )


def test_a_folder_that_does_not_load_is_unavailable_with_the_error_named(
    settings: Settings, tmp_path: Path, offline: None, still_video: tuple[Path, np.ndarray]
) -> None:
    (tmp_path / "config.json").write_text("{not json")
    settings.TEXT_ALIGNMENT_MODEL = str(tmp_path)

    outcome = alignment(still_video[0])

    assert (outcome.status, outcome.value) == ("unavailable", None)
    assert outcome.note.startswith("The CLIP weights in TEXT_ALIGNMENT_MODEL did not load: ")
    assert len(outcome.definition.model_hash) == 64


def test_with_local_clip_weights_the_cosine_of_prompt_and_frames_is_computed(
    settings: Settings, tmp_path: Path, offline: None, still_video: tuple[Path, np.ndarray]
) -> None:
    import torch
    from transformers import CLIPModel, CLIPProcessor

    folder = save_tiny_clip(tmp_path / "clip", seed=0)
    settings.TEXT_ALIGNMENT_MODEL = str(folder)
    video, picture = still_video
    prompts = ["a textured wall", "an astronaut smiles", "12345 !!!"]

    outcomes = [alignment(video, prompt) for prompt in prompts]

    # The same cosines computed by hand from the still picture the video repeats.
    model, processor = CLIPModel.from_pretrained(folder), CLIPProcessor.from_pretrained(folder)
    inputs = processor(text=prompts, images=[picture], return_tensors="pt", padding=True)
    with torch.inference_mode():
        output = model(**inputs)
    expected = torch.nn.functional.cosine_similarity(output.text_embeds, output.image_embeds).tolist()
    values = [outcome.value for outcome in outcomes]
    assert [outcome.status for outcome in outcomes] == ["computed"] * 3
    assert values == pytest.approx(expected, abs=0.006)  # the decoded frames differ by rounding only
    assert max(expected) - min(expected) > 0.1
    assert outcomes[0].details["frames"] == 4
    assert outcomes[0].details["prompt_truncated"] is False


def test_a_prompt_longer_than_the_text_model_takes_is_truncated_not_refused(
    settings: Settings, tmp_path: Path, offline: None, still_video: tuple[Path, np.ndarray]
) -> None:
    settings.TEXT_ALIGNMENT_MODEL = str(save_tiny_clip(tmp_path / "clip", seed=0))

    outcome = alignment(still_video[0], prompt="a woman walks along the beach at dawn " * 10)

    assert outcome.status == "computed"
    assert outcome.details["prompt_truncated"] is True


def test_other_weights_make_another_definition(settings: Settings, tmp_path: Path) -> None:
    first = save_tiny_clip(tmp_path / "first", seed=0)
    second = save_tiny_clip(tmp_path / "second", seed=1)
    hashes = []
    for folder in (first, second, first):
        settings.TEXT_ALIGNMENT_MODEL = str(folder)
        hashes.append(metric_definitions()["text_alignment"].model_hash)

    assert hashes[0] == hashes[2] == text.model_hash(first)
    assert hashes[0] != hashes[1]
    assert len(hashes[0]) == 64
    settings.TEXT_ALIGNMENT_MODEL = ""
    assert metric_definitions()["text_alignment"].model_hash == ""
