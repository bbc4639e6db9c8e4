"""The rule of an identity's canonical three-view set, on unsaved references."""

from __future__ import annotations

from generation.models import Reference
from generation.services import three_view_check


def ref(viewpoint: str, *, kind: str = "full_body", in_set: bool = True) -> Reference:
    return Reference(kind=kind, viewpoint=viewpoint, in_three_view=in_set)


def test_references_outside_any_set_keep_the_rule():
    assert three_view_check([ref("front", kind="face", in_set=False), ref("unknown", in_set=False)]) == []


def test_a_front_a_side_and_a_back_keep_the_rule():
    for side in ("three_quarter_left", "three_quarter_right", "profile_left", "profile_right"):
        assert three_view_check([ref("front"), ref(side), ref("back")], identity="ada") == []


def test_two_sides_of_different_viewpoints_keep_the_rule():
    assert (
        three_view_check([ref("front"), ref("profile_left"), ref("three_quarter_right"), ref("back")]) == []
    )


def test_it_names_each_missing_view():
    assert three_view_check([ref("front")], identity="ada") == [
        "the three-view set of ada has no side view (a profile or three-quarter)",
        "the three-view set of ada has no back view",
    ]
    assert three_view_check([ref("back"), ref("profile_right")], identity="ada") == [
        "the three-view set of ada has no front view"
    ]


def test_it_refuses_a_viewpoint_twice():
    assert three_view_check(
        [ref("front"), ref("front"), ref("profile_left"), ref("back")], identity="ada"
    ) == ["the three-view set of ada has 2 front views; one of each"]


def test_it_refuses_a_member_that_is_not_full_body():
    assert three_view_check(
        [ref("front", kind="face"), ref("profile_left"), ref("back")], identity="ada"
    ) == [
        'the three-view set of ada has a front reference framed "Face crop"; every reference of the set is '
        "full body"
    ]


def test_it_refuses_a_member_of_unknown_viewpoint():
    problems = three_view_check([ref("front"), ref("unknown"), ref("back")], identity="ada")
    assert problems == [
        "the three-view set of ada has a reference of unknown viewpoint; give it front, a side or back",
        "the three-view set of ada has no side view (a profile or three-quarter)",
    ]


def test_references_outside_the_set_do_not_complete_it():
    references = [ref("front"), ref("profile_left"), ref("back", in_set=False)]
    assert three_view_check(references, identity="ada") == ["the three-view set of ada has no back view"]
