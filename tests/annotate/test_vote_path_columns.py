"""The SELECT lists of the vote path and the decoders made from the same declarations."""

from __future__ import annotations

from typing import Annotated, NamedTuple

import pytest

from annotate.models import Track
from annotate.vote_path import columns, model_columns


class _Pair(NamedTuple):
    id: Annotated[int, "c.id"]
    name: Annotated[str, "c.name"]


_PAIR = columns(_Pair)


class _Outer(NamedTuple):
    count: Annotated[int, "count(*)"]
    pair: Annotated[_Pair, _PAIR]
    maybe: Annotated[_Pair | None, _PAIR.or_none()]
    last: Annotated[bool, "x.last"]


def test_the_select_list_follows_the_fields_and_a_row_is_read_by_name():
    assert _PAIR.sql == "c.id, c.name"
    assert len(_PAIR) == 2
    assert _PAIR.decode((7, "seven")) == _Pair(id=7, name="seven")


def test_groups_take_their_fields_place_and_are_cut_at_their_lengths():
    outer = columns(_Outer)
    assert outer.sql == "count(*), c.id, c.name, c.id, c.name, x.last"
    row = outer.decode((3, 1, "one", 2, "two", True))
    assert row == _Outer(count=3, pair=_Pair(1, "one"), maybe=_Pair(2, "two"), last=True)


def test_a_group_from_an_outer_join_is_none_when_its_key_is_null():
    row = columns(_Outer).decode((3, 1, "one", None, None, False))
    assert row.maybe is None and row.pair == _Pair(1, "one") and row.last is False


def test_a_model_group_selects_every_column_and_loads_an_instance():
    track_columns = model_columns(Track, "t")
    fields = Track._meta.concrete_fields
    assert track_columns.expressions == tuple(f"t.{field.column}" for field in fields)
    values = [getattr(Track(pk=5, name="n", kind="identity_fidelity"), field.attname) for field in fields]
    track = track_columns.decode(values)
    assert isinstance(track, Track) and (track.pk, track.name) == (5, "n")
    assert not track._state.adding  # as if loaded from the database


def test_a_field_without_its_sql_is_refused():
    class Undeclared(NamedTuple):
        id: int

    with pytest.raises(TypeError, match="Annotated"):
        columns(Undeclared)
