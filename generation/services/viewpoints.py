"""The rule of an identity's canonical three-view set: none of its references, or a complete set."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Protocol

from generation.models import Reference

V = Reference.Viewpoint
# The viewpoints that count as the set's side view.
SIDE_VIEWPOINTS = frozenset({V.THREE_QUARTER_LEFT, V.THREE_QUARTER_RIGHT, V.PROFILE_LEFT, V.PROFILE_RIGHT})


class ThreeViewMember(Protocol):
    """What the rule reads of a reference: a saved or unsaved Reference, or a manifest's row."""

    kind: str
    viewpoint: str
    in_three_view: bool


def three_view_check(references: Iterable[ThreeViewMember], *, identity: str = "") -> list[str]:
    """What is missing or wrong in the three-view set among ``references`` (all of one identity's).

    An identity either has no reference in its three-view set, or a complete set: a front view, a side
    view (a profile or three-quarter) and a back view, all full body, each viewpoint at most once. The
    answer is empty when the references keep the rule; ``identity`` names the identity in the messages.
    """
    members = [reference for reference in references if reference.in_three_view]
    if not members:
        return []
    named = f"the three-view set of {identity}" if identity else "the three-view set"
    problems = []
    for member in members:
        if member.kind != Reference.Kind.FULL_BODY:
            framing = (
                Reference.Kind(member.kind).label if member.kind in Reference.Kind.values else member.kind
            )
            problems.append(
                f"{named} has a {_viewpoint_label(member.viewpoint).lower()} reference framed "
                f'"{framing}"; every reference of the set is full body'
            )
        if member.viewpoint == V.UNKNOWN:
            problems.append(f"{named} has a reference of unknown viewpoint; give it front, a side or back")
    counts = Counter(member.viewpoint for member in members if member.viewpoint != V.UNKNOWN)
    for viewpoint, count in counts.items():
        if count > 1:
            problems.append(f"{named} has {count} {_viewpoint_label(viewpoint).lower()} views; one of each")
    if V.FRONT not in counts:
        problems.append(f"{named} has no front view")
    if not SIDE_VIEWPOINTS & counts.keys():
        problems.append(f"{named} has no side view (a profile or three-quarter)")
    if V.BACK not in counts:
        problems.append(f"{named} has no back view")
    return problems


def _viewpoint_label(viewpoint: str) -> str:
    return V(viewpoint).label if viewpoint in V.values else repr(viewpoint)
