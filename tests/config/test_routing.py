import pytest
from django.urls import clear_script_prefix, reverse, set_script_prefix

from lib.routing import route_url, routes


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("annotate:vote", (12, 345)),
        ("annotate:watch", (1, 7)),
        ("annotate:track_list", ()),
        ("media", ("videos/ab12.mp4",)),
        ("media", ("odd name/ä?#%.png",)),  # quoted as reverse() quotes it
    ],
)
def test_route_url_gives_what_reverse_gives(name, args):
    assert route_url(name, *args) == reverse(name, args=args)


def test_a_script_prefix_is_followed_not_cached_away():
    before = route_url("annotate:vote", 1, 2)
    set_script_prefix("/under/")
    try:
        assert route_url("annotate:vote", 1, 2) == "/under" + before == reverse("annotate:vote", args=[1, 2])
        assert routes()("media", "x.png") == reverse("media", args=["x.png"])
    finally:
        clear_script_prefix()
    assert route_url("annotate:vote", 1, 2) == before
