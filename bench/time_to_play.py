"""Time to play: from a vote until both videos of the next pair can play through, in Chromium.

    .venv/bin/python bench/time_to_play.py [--comparisons 20] [--matchups 10] [--quick]

Prints one JSON line: prefetch_p50_ms, prefetch_p95_ms, no_prefetch_p50_ms, no_prefetch_p95_ms and the
same with the prefix ``study_`` (progress goes to stderr). Everything happens in a database of its own
(``bench_ttp`` on the server the app uses, dropped at the end) and a temporary media folder.

1. Realistic videos are made at run time: 704×1280, 121 frames at 24 fps, H.264 at about 6 Mbit/s
   (moving texture, so the encoder spends its bits: about 3.8 MB a file). A few are encoded; every
   video of the catalog is a copy with a distinct trailing ``free`` box, so no two share bytes or a URL
   and the browser's cache cannot serve one comparison's files for another's.
2. One catalog serves a track (two methods per case: each comparison its own two videos) and a study
   (ours against one baseline). gunicorn serves the app on loopback as ``bench/annotate_load.py`` does,
   twice: ``PREFETCH_NEXT=0`` and ``PREFETCH_NEXT=1``.
3. Chromium (Debian's, through Playwright) with the network emulated at 25 Mbit/s each way and 40 ms
   round trip: an annotator does the comparisons and a participant the matchups, each playing the pair
   through before voting (the watch rule). Per vote: from just before the click until the later of the
   two new videos' ``canplaythrough`` events, both stamped in the page's clock.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import secrets
import struct
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from playwright.sync_api import TimeoutError as PlaywrightTimeout

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import annotate_load as load

load.BENCH_DB = os.environ.get("BENCH_DATABASE_NAME", "bench_ttp")
say = load.say

WIDTH, HEIGHT, FRAMES, FPS, BITRATE = 704, 1280, 121, 24, 6_000_000
DOWN_UP_BITS_PER_S, RTT_MS = 25_000_000, 40
PASSWORD = "bench-" + secrets.token_hex(8)

# Stamps, in absolute page time, every media element's first canplaythrough and the first moment it is
# one of a player's pair (`video[data-side]` in the document: a warm element prefetched out of sight only
# counts from when it is placed). Playwright's init scripts are not subject to the page's CSP.
STAMP_SCRIPT = """
window.__ctp = new Map();
window.__placed = new Map();
const stamp = () => performance.timeOrigin + performance.now();
document.addEventListener("canplaythrough", (event) => {
  if (!window.__ctp.has(event.target)) window.__ctp.set(event.target, stamp());
}, true);
const placed = () => {
  const at = stamp();
  document.querySelectorAll("video[data-side]").forEach((v) => {
    if (!window.__placed.has(v)) window.__placed.set(v, at);
  });
};
new MutationObserver(placed).observe(document, { childList: true, subtree: true });
document.addEventListener("DOMContentLoaded", placed);
"""
MARK_OLD = """() => { document.querySelectorAll("video[data-side]").forEach(v => v.dataset.benchOld = "1");
  return performance.timeOrigin + performance.now(); }"""
# When both new pair videos could play through in place: for each, the later of its canplaythrough and its
# placement; null while one has not come.
BOTH_PLAYABLE = """() => { const videos = [...document.querySelectorAll("video[data-side]")]
    .filter(v => !v.dataset.benchOld);
  if (videos.length < 2 || !window.__ctp) return null;
  const times = videos.map(v => window.__ctp.has(v) && window.__placed.has(v)
    ? Math.max(window.__ctp.get(v), window.__placed.get(v)) : undefined);
  if (times.some(t => t === undefined)) return null;
  return [Math.max(...times), videos.map(v => v.currentSrc.split("/").pop().slice(0, 8))]; }"""


# --- videos -------------------------------------------------------------------------------------


def clip_encode(path: Path, *, seed: int) -> None:
    """A 704×1280 clip of drifting noise texture and a moving disc, H.264 at about ``BITRATE``."""
    import av

    rng = np.random.default_rng(seed)
    texture = rng.integers(0, 256, size=(HEIGHT * 2, WIDTH * 2, 3), dtype=np.uint8)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    with av.open(str(path), mode="w", format="mp4", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream("libx264", rate=Fraction(FPS))
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.bit_rate = BITRATE
        stream.options = {"preset": "veryfast", "maxrate": "8M", "bufsize": "12M"}
        for index in range(FRAMES):
            dy, dx = (index * 7) % HEIGHT, (index * 5) % WIDTH
            frame = texture[dy : dy + HEIGHT, dx : dx + WIDTH].copy()
            cy = HEIGHT / 2 + HEIGHT / 3 * np.sin(index / 12)
            cx = WIDTH / 2 + WIDTH / 3 * np.cos(index / 15)
            frame[(yy - cy) ** 2 + (xx - cx) ** 2 < 150**2] = (230, 180, 120)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def distinct_copy(source: Path, target: Path) -> None:
    """The clip with a trailing ``free`` box of random bytes: the same picture, other bytes."""
    padding = secrets.token_bytes(64)
    target.write_bytes(source.read_bytes() + struct.pack(">I", 8 + len(padding)) + b"free" + padding)


def catalog_make(folder: Path, *, cases: int, clips: int) -> dict[str, Any]:
    """``cases`` (identity, prompt) cases, each with a primary reference and two videos (ours and one
    baseline), every video a distinct copy of one of ``clips`` encoded clips."""
    from generation import media
    from generation.models import Method
    from generation.services import catalog as catalog_services
    from tests.factories import IdentityFactory, MethodFactory, PromptFactory
    from tests.studies.conftest import primary_reference

    sources = []
    for number in range(clips):
        path = folder / f"clip-{number}.mp4"
        clip_encode(path, seed=number)
        sources.append(path)
    say(f"{clips} clips encoded, {sources[0].stat().st_size * 8 / (FRAMES / FPS) / 1e6:.1f} Mbit/s")
    identities = [IdentityFactory() for _ in range(max(1, int(cases**0.5)))]
    prompts = [PromptFactory() for _ in range(-(-cases // len(identities)))]
    ours, baseline = MethodFactory(role=Method.Role.OURS), MethodFactory()
    for identity in identities:
        primary_reference(identity, folder)
    made = 0
    for identity in identities:
        for prompt in prompts:
            for method in (ours, baseline):
                copy = folder / "copy.mp4"
                distinct_copy(sources[made % clips], copy)
                # Stored as made (no re-encoding): the bytes are what a render at this bitrate sends.
                catalog_services._video_record(
                    name=media.store_copy(copy, ".mp4"),
                    method=method,
                    identity=identity,
                    prompt=prompt,
                    seed=0,
                    settings={"source": "bench"},
                    origin="generated",
                )
                made += 1
    return {"identities": identities, "prompts": prompts, "ours": ours, "baseline": baseline}


# --- the browser ------------------------------------------------------------------------------


def context_new(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(STAMP_SCRIPT)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    rate = DOWN_UP_BITS_PER_S / 8
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": RTT_MS, "downloadThroughput": rate, "uploadThroughput": rate},
    )
    return context, page


def both_playable_after(page, started: float, timeout: float = 60.0) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):  # a navigation in between
            found = page.evaluate(BOTH_PLAYABLE)
            if found is not None:
                at, names = found
                wait = max(at - started, 0.0)
                say(f"  next pair ({' and '.join(names)}…) playable after {wait:.0f} ms")
                return wait
        time.sleep(0.02)
    raise RuntimeError("the next pair did not become playable within 60 s")


def play_through(page) -> None:
    """Play the pair until the server unlocks the vote. A play that stopped short (a stalled video on a
    loaded machine, a report the server capped) is started again, as an annotator would press ▶ again."""
    play = page.locator('.ab-player [data-action="play"]')
    play.and_(page.locator(":enabled")).wait_for(timeout=60_000)
    unlocked = page.locator("button[data-vote]:enabled").first
    for _ in range(6):
        if not page.locator('.ab-player [data-action="play"][data-playing]').count():
            play.click()
        with contextlib.suppress(PlaywrightTimeout):
            unlocked.wait_for(timeout=15_000)
            return
    raise RuntimeError("the vote stayed locked after the pair was played through six times")


def annotator_run(browser, base: str, *, username: str, track_id: int, votes: int) -> list[float]:
    from tests.browser.conftest import sign_in

    context, page = context_new(browser)
    try:
        sign_in(page, base, username, PASSWORD)
        page.goto(f"{base}/tracks/{track_id}/")
        waits = []
        for _ in range(votes):
            play_through(page)
            started = page.evaluate(MARK_OLD)
            page.locator("button[data-vote]:enabled").first.click()
            waits.append(both_playable_after(page, started))
        return waits
    finally:
        context.close()


def participant_run(browser, base: str, *, slug: str, matchups: int) -> list[float]:
    from tests.browser.test_study_flow import answer_every_question

    context, page = context_new(browser)
    try:
        page.goto(f"{base}/s/{slug}/")
        page.get_by_role("button", name="Continue to consent").click()
        page.get_by_label("I have read the information above and agree").check()
        page.get_by_role("button", name="I agree — start the study").click()
        page.wait_for_url("**/m/1/")
        waits = []
        for number in range(1, matchups + 1):
            play_through(page)
            answer_every_question(page, random.choice(["Left Video", "Right Video"]))
            started = page.evaluate(MARK_OLD)
            page.locator("button[data-vote]:enabled").first.click()
            if number == matchups:
                break
            page.wait_for_url(f"**/m/{number + 1}/")
            waits.append(both_playable_after(page, started))
        page.wait_for_url("**/done/")
        return waits
    finally:
        context.close()


def _figures(prefix: str, waits: list[float]) -> dict[str, float | None]:
    return {
        f"{prefix}_p50_ms": load._percentile(sorted(waits), 50),
        f"{prefix}_p95_ms": load._percentile(sorted(waits), 95),
    }


# --- the run ------------------------------------------------------------------------------------


def bench(args: argparse.Namespace, media_root: Path) -> dict[str, Any]:
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connections
    from playwright.sync_api import sync_playwright

    from annotate.services import track_create
    from tests.studies.conftest import Catalog, make_study

    call_command("collectstatic", interactive=False, verbosity=0)
    cases = max(args.comparisons + 1, args.matchups)
    world = catalog_make(media_root / "made", cases=cases, clips=args.clips)
    modes = {"no_prefetch": "0", "prefetch": "1"}
    users = {mode: User.objects.create_user(f"bench-ttp-{mode}", password=PASSWORD) for mode in modes}
    track = track_create(
        name="bench time to play",
        kind="identity_fidelity",
        identities=world["identities"],
        prompts=world["prompts"],
        methods=[world["ours"], world["baseline"]],
        annotators=list(users.values()),
        votes_needed=len(modes),  # each run's annotator may vote on every comparison
        min_watch_fraction=1.0,
    )
    catalog = Catalog(
        ours=world["ours"],
        baselines=[world["baseline"]],
        identities=world["identities"],
        prompts=world["prompts"],
    )
    study = make_study(
        catalog, name="bench time to play", matchups_per_participant=args.matchups, min_watch_fraction=1.0
    )
    connections.close_all()

    result: dict[str, Any] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required"],
        )
        try:
            for mode, flag in modes.items():
                port = load._free_port()
                environment = {
                    **load._app_environment(),
                    "PREFETCH_NEXT": flag,
                    "MEDIA_ROOT": str(media_root),
                }
                process = load.gunicorn_start(
                    port=port, workers=2, threads=4, worker_class="gthread", environment=environment
                )
                base = f"http://127.0.0.1:{port}"
                try:
                    say(f"{mode}: an annotator does {args.comparisons} comparisons")
                    waits = annotator_run(
                        browser,
                        base,
                        username=users[mode].username,
                        track_id=track.pk,
                        votes=args.comparisons,
                    )
                    result.update(_figures(mode, waits))
                    say(f"{mode}: a participant does {args.matchups} matchups")
                    result.update(
                        _figures(
                            f"study_{mode}",
                            participant_run(browser, base, slug=study.public_slug, matchups=args.matchups),
                        )
                    )
                finally:
                    load.gunicorn_stop(process)
        finally:
            browser.close()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--comparisons", type=int, default=20, help="the annotator's votes per run, each measured"
    )
    parser.add_argument(
        "--matchups",
        type=int,
        default=10,
        help="the participant's matchups per run (all but the last lead to a next pair, measured)",
    )
    parser.add_argument("--clips", type=int, default=4, help="clips encoded (every video a distinct copy)")
    parser.add_argument("--quick", action="store_true", help="4 comparisons and 3 matchups, for trying")
    args = parser.parse_args(argv)
    if args.quick:
        args.comparisons, args.matchups, args.clips = 4, 3, 2

    server_url, started_server = load._server_url()
    bench_url = load._with_database(server_url, load.BENCH_DB)
    keys = ["prefetch", "no_prefetch", "study_prefetch", "study_no_prefetch"]
    result: dict[str, Any] = dict.fromkeys(f"{key}_{p}_ms" for key in keys for p in ("p50", "p95"))
    media_root = Path(tempfile.mkdtemp(prefix="bench-ttp-"))
    (media_root / "made").mkdir()
    os.environ["MEDIA_ROOT"] = str(media_root)
    try:
        load._recreate_database(server_url, name=load.BENCH_DB)
        load._django_setup(bench_url)
        result.update(bench(args, media_root))
    finally:
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        load._recreate_database(server_url, name=load.BENCH_DB, drop_only=True)
        import shutil

        shutil.rmtree(media_root, ignore_errors=True)
        from config import embedded

        if started_server:
            embedded.postgres_stop(embedded.var_dir_from_environment())
        if "redis" in embedded.started_here:
            embedded.redis_stop(embedded.var_dir_from_environment())
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
