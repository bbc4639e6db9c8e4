"""``manage.py make_tiny_model DIR [--lora [LORA_DIR]]``: a tiny random Wan pipeline for tests and demos."""

from __future__ import annotations

import os
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from lib.hashing import sha256_file


class Command(BaseCommand):
    help = (
        "Write a tiny randomly initialised Wan2.2 TI2V-style pipeline (transformer, VAE, UMT5 text encoder, "
        "a byte-level tokenizer built offline, UniPC scheduler) to DIR with save_pretrained. A diffusers "
        "method whose checkpoint is DIR generates through the same code as real weights. Nothing is "
        "downloaded."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("directory", metavar="DIR", type=Path)
        parser.add_argument(
            "--lora",
            nargs="?",
            const=True,
            default=None,
            metavar="LORA_DIR",
            help="also write a LoRA that fits the model (default folder: DIR-lora)",
        )
        parser.add_argument("--seed", type=int, default=0, help="seed of the random weights")

    def handle(
        self, *args: Any, directory: Path, lora: Path | bool | None, seed: int, **options: Any
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from demo.tiny_model import tiny_model_write

        if (directory / "model_index.json").exists():
            raise CommandError(f"{directory} already holds a pipeline; choose an empty folder")
        lora_directory = None
        if lora is True:
            lora_directory = directory.with_name(directory.name + "-lora")
        elif lora:
            lora_directory = Path(lora)
        tiny_model_write(directory, lora_directory=lora_directory, seed=seed)
        self.stdout.write(f"Tiny Wan pipeline written to {directory}")
        if lora_directory is not None:
            weights = lora_directory / "pytorch_lora_weights.safetensors"
            self.stdout.write(f"LoRA written to {weights}")
            # What a method's "LoRA sha256" field takes, checked against the file when the method is saved.
            self.stdout.write(f"lora_sha256 (paste into the method): {sha256_file(weights)}")
