"""Automatic metrics benchmark: every metric of a video of the published shape, on the CPU.

    .venv/bin/python bench/metrics.py [--width 704] [--height 1280] [--frames 121] [--repeat 3]

Writes (outside the timing) an H.264 MP4 of a real face, scikit-image's astronaut photograph, panning over
a textured background, and three references (the photograph, a mirrored JPEG, a darker blurred copy).
Then times ``metrics_of_video`` on it ``--repeat`` times; the first run loads the face models and reads
the references, which later runs of a worker process reuse. Prints one JSON line: seconds_per_video (the
median), first_seconds, cpu_seconds_per_video (the median CPU time, all threads), videos_per_hour (from
the median), peak_rss_mb (the process's peak resident
memory, ``ru_maxrss``), the metrics' values and seconds, frames, width, height and the settings.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image, ImageFilter

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generation.metrics.compute import ReferenceMedia, metric_definitions, metrics_of_video  # noqa: E402


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def astronaut() -> np.ndarray:
    from skimage import data

    return np.asarray(data.astronaut())


def write_video(path: Path, *, width: int, height: int, frames: int, fps: int = 24) -> None:
    """The astronaut's head and shoulders, 0.6 of the frame wide, on a textured background the camera pans."""
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, size=(height // 8 + 64, width // 8 + 64, 3), dtype=np.uint8)
    background = cv2.resize(noise, (noise.shape[1] * 8, noise.shape[0] * 8), interpolation=cv2.INTER_CUBIC)
    person = astronaut()[0:300, 90:360]  # head and shoulders
    side = round(width * 0.6)
    person = cv2.resize(person, (side, round(side * 300 / 270)), interpolation=cv2.INTER_AREA)
    with av.open(str(path), mode="w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "23", "preset": "veryfast"}
        for index in range(frames):
            # The camera pans 2 px a frame over the background; the person drifts 1 px a frame across it.
            picture = background[
                index // 4 : index // 4 + height, 2 * index % 256 : 2 * index % 256 + width
            ].copy()
            top = height // 4 + index // 8
            left = width // 10 + index // 2
            box = picture[top : top + person.shape[0], left : left + person.shape[1]]
            box[...] = person[: box.shape[0], : box.shape[1]]
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(picture), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def write_references(folder: Path) -> list[ReferenceMedia]:
    image = Image.fromarray(astronaut())
    image.save(folder / "front.png")
    image.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(folder / "mirrored.jpg", quality=80)
    image.point(lambda value: int(value * 0.6)).filter(ImageFilter.GaussianBlur(1.5)).save(
        folder / "dark.png"
    )
    return [
        ReferenceMedia(path=folder / "front.png", is_clip=False, viewpoint="front"),
        ReferenceMedia(path=folder / "mirrored.jpg", is_clip=False, viewpoint="unknown"),
        ReferenceMedia(path=folder / "dark.png", is_clip=False, viewpoint="unknown"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--width", type=int, default=704)
    parser.add_argument("--height", type=int, default=1280)
    parser.add_argument("--frames", type=int, default=121)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ.pop("TEXT_ALIGNMENT_MODEL", None)  # the CPU figure; text alignment needs operator weights
    with tempfile.TemporaryDirectory(prefix="bench-metrics-") as temporary:
        folder = Path(temporary)
        video = folder / "video.mp4"
        started = time.perf_counter()
        write_video(video, width=args.width, height=args.height, frames=args.frames)
        references = write_references(folder)
        print(f"wrote the video and references in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        timings, cpu = [], []
        for _ in range(args.repeat):
            started, cpu_started = time.perf_counter(), time.process_time()
            outcomes = metrics_of_video(
                video_path=video, references=references, prompt_text="an astronaut smiles at the camera"
            )
            timings.append(time.perf_counter() - started)
            cpu.append(time.process_time() - cpu_started)
            print(f"metrics_of_video: {timings[-1]:.2f} s", file=sys.stderr)
    median = statistics.median(timings)
    print(
        json.dumps(
            {
                "seconds_per_video": round(median, 2),
                "first_seconds": round(timings[0], 2),
                "cpu_seconds_per_video": round(statistics.median(cpu), 2),
                "videos_per_hour": round(3600 / median, 1),
                "peak_rss_mb": round(peak_mb(), 1),
                "frames": args.frames,
                "width": args.width,
                "height": args.height,
                "metrics": {
                    outcome.definition.spec.name: {
                        "status": outcome.status,
                        "value": None if outcome.value is None else round(outcome.value, 4),
                        "seconds": round(outcome.seconds, 2),
                    }
                    for outcome in outcomes
                },
                "settings": {name: definition.settings for name, definition in metric_definitions().items()},
            }
        )
    )


if __name__ == "__main__":
    main()
