"""A gold comparison and a repeat look exactly like real work to the annotator who is shown them.

Each page is rendered in Chromium for the same annotator, and compared with a real comparison's page:
the DOM tree (tags, attributes, classes, text, with numbers and opaque names normalised), the shape of
the media URLs, the response headers of the page and of the videos (dates, lengths and etags
normalised), and the files of both sides (codec, size, frame count, duration and frame rate).

That the comparison can fail was checked by passing the assignment's purpose to the panel's context
(annotate/views.py ``_render``) and writing it as ``data-purpose="{{ purpose }}"`` on the ab-player in
templates/jinja2/annotate/_comparison_panel.html: the test then failed on that attribute ("a gold page
differs from a real one in its dom"), and passed again once it was taken out.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User

from annotate.gold import make_gold_pairs
from annotate.models import AnnotatorSettings, Assignment, Comparison, Track
from annotate.services import track_checks_set
from annotate.vote_path import assignment_next_for, judgment_submit
from generation import media
from tests.browser.conftest import sign_in
from tests.factories import make_track

pytestmark = pytest.mark.django_db(transaction=True)

# Attributes whose numbers are part of what a rater could compare: kept as they are.
EXACT_NUMBERS = {"width", "height", "data-fps", "data-watch-needed", "data-side", "preload"}
# Headers whose values differ from one response to the next by nature: only their presence counts.
VOLATILE_HEADERS = {"date", "last-modified", "expires", "etag"}

# Every element in document order: tag, attributes (sorted, value normalised below) and own text.
DOM_TREE = """() => {
  const walk = (node, depth, out) => {
    // The prefetch shelf holds the NEXT comparison's warm videos, made when they have loaded, sooner or
    // later: it says nothing of the comparison shown, so it is left out.
    if (node.id === "prefetch-warm") return out;
    const attributes = [...node.attributes].map(a => [a.name, a.value]).sort();
    const text = [...node.childNodes].filter(c => c.nodeType === 3).map(c => c.textContent.trim())
      .filter(Boolean).join(" ");
    out.push([depth, node.tagName.toLowerCase(), attributes, text]);
    for (const child of node.children) walk(child, depth + 1, out);
    return out;
  };
  return walk(document.documentElement, 0, []);
}"""

BOTH_VIDEOS_LOADED = """() => [...document.querySelectorAll('.ab-videos video')]
  .every(video => video.readyState >= 1)"""


def _shape(value: str) -> str:
    """Opaque names (long tokens, two-character shard folders) and numbers replaced: what is left is
    the shape of a value."""
    value = re.sub(r"[A-Za-z0-9_-]{16,}", "<token>", value)
    # A media URL's shard before numbers: a shard of two digits would otherwise become "0" instead.
    value = re.sub(r"/m/[A-Za-z0-9_-]{2}/", "/m/<shard>/", value)
    return re.sub(r"\d+(?:\.\d+)?", "0", value)


def _dom(page) -> list[Any]:
    nodes = []
    for depth, tag, attributes, text in page.evaluate(DOM_TREE):
        kept = [(name, value if name in EXACT_NUMBERS else _shape(value)) for name, value in attributes]
        nodes.append((depth, tag, tuple(kept), _shape(text)))
    return nodes


def _headers(headers: dict[str, str]) -> dict[str, str]:
    return {
        name: "<varies>" if name in VOLATILE_HEADERS else _shape(value) for name, value in headers.items()
    }


def _files(comparison: Comparison) -> list[tuple[str, int, int, int, float, float]]:
    """Codec, width, height, frames, frame rate and duration of both sides, as the files say."""
    sides = []
    for video in (comparison.video_a, comparison.video_b):
        info = media.probe_video(media.media_path(video.file.name))
        sides.append((info.codec, info.width, info.height, info.num_frames, info.fps, info.duration))
    return sides


def _file_sizes(comparison: Comparison) -> list[int]:
    return [
        Path(media.media_path(v.file.name)).stat().st_size for v in (comparison.video_a, comparison.video_b)
    ]


def _media_headers(page, url: str) -> list[tuple[object, ...]]:
    """The status and headers of a media file, fetched whole and by a range, with the page's session.
    (The player's own range requests depend on timing, so they are not compared.)"""
    sent = []
    for headers in ({}, {"Range": "bytes=0-99"}):
        response = page.request.get(url, headers=headers)
        sent.append((response.status, *sorted(_headers(response.headers).items())))
    return sent


def _render(page, live_server_url: str, track: Track) -> dict[str, Any]:
    """The work page as the annotator gets it: its DOM, its media URLs' shape, and the headers."""
    page_response = page.goto(f"{live_server_url}/tracks/{track.pk}/")
    page.wait_for_function(BOTH_VIDEOS_LOADED)
    sources = page.eval_on_selector_all(".ab-videos video", "videos => videos.map(v => v.src)")
    posters = page.eval_on_selector_all(".ab-videos video", "videos => videos.map(v => v.poster)")
    return {
        "dom": _dom(page),
        "media urls": [_shape(url) for url in sources + posters],
        "page headers": _headers(page_response.all_headers()),
        "media headers": [_media_headers(page, url) for url in sources + posters],
    }


def _walk_to(page, live_server_url: str, track: Track, user: User) -> dict[str, dict[str, Any]]:
    """Hand out and answer comparisons until one real, one gold and one repeat page were rendered.
    Pages are compared once the annotator has a real vote: before it, the page has no Undo button and
    opens the instructions, whatever is shown. Gold is drawn first, then repeats."""
    rendered: dict[str, dict[str, Any]] = {}
    voted = False
    for _ in range(60):
        assignment = assignment_next_for(track=track, user=user)
        assert assignment is not None, f"the track ran out of work with only {sorted(rendered)} rendered"
        if voted and assignment.purpose not in rendered:
            rendered[assignment.purpose] = _render(page, live_server_url, track)
            rendered[assignment.purpose]["comparison"] = assignment.item.comparison
            if assignment.purpose == Assignment.Purpose.GOLD:
                track_checks_set(track=track, gold_rate=0, repeat_rate=0.5)
        if len(rendered) == 3:
            return rendered
        judgment_submit(assignment_id=assignment.pk, user=user, side_choice="left")
        voted = voted or assignment.purpose == Assignment.Purpose.VOTE
    raise AssertionError(f"only {sorted(rendered)} were handed out")


def test_gold_and_repeated_comparisons_look_exactly_like_real_ones(page, live_server, annotator, capsys):
    # Two prompts, so that every video has a partner of its identity and method made for the other
    # prompt: the platform's own gold pairs of prompt controllability. 20 comparisons of work.
    track = make_track(
        kind=Track.Kind.PROMPT_CONTROLLABILITY,
        annotators=[annotator],
        methods=5,
        prompts=2,
        frames=16,
        min_watch_fraction=0,
    )
    golds = make_gold_pairs(track=track, limit=4, seed=3)
    assert len(golds) == 4
    track_checks_set(track=track, gold_rate=0.5, repeat_rate=0)
    # Autoplay off: how far a pair has played when the page is read depends on timing, not on the page.
    AnnotatorSettings.objects.create(user=annotator, autoplay_next=False)
    sign_in(page, live_server.url, "annotator-1", "pw-annotator-1")
    # A session's first work page keeps a copy of that setting in the session (a Set-Cookie of its own):
    # the pages compared come after it, as any page after the first does.
    page.goto(f"{live_server.url}/tracks/{track.pk}/")

    rendered = _walk_to(page, live_server.url, track, annotator)

    real = rendered.pop(Assignment.Purpose.VOTE)
    real_comparison = real.pop("comparison")
    for purpose, check in rendered.items():
        comparison = check.pop("comparison")
        for aspect, value in real.items():
            assert check[aspect] == value, f"a {purpose} page differs from a real one in its {aspect}"
        assert _files(comparison) == _files(real_comparison), f"the {purpose} pair's files differ"
    gold_comparison = Comparison.objects.get(pk=golds[0].comparison_id)
    sides = _files(gold_comparison)
    assert sides[0] == sides[1]  # both sides of a made pair: same codec, size, frames, rate, duration
    with capsys.disabled():
        print(
            f"\nfile sizes (bytes): made gold pair {_file_sizes(gold_comparison)}, "
            f"real pair {_file_sizes(real_comparison)}"
        )
