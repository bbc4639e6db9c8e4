from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import DataError, connection, models, transaction
from django.test.utils import isolate_apps

pytestmark = pytest.mark.django_db


@pytest.fixture
def probe() -> Iterator[type[models.Model]]:
    """A model with one integer field of each size, added by the test (no migration knows it)."""
    with isolate_apps("config"):

        class Probe(models.Model):
            small = models.SmallIntegerField(null=True)
            number = models.IntegerField(null=True)
            positive = models.PositiveIntegerField(null=True)
            big = models.BigIntegerField(null=True)

            class Meta:
                app_label = "config"

            def __str__(self) -> str:
                return f"probe {self.pk}"

        with connection.schema_editor() as editor:
            editor.create_model(Probe)
        yield Probe


def _refused(model: type[models.Model], **values: int) -> bool:
    try:
        with transaction.atomic():
            model.objects.create(**values)
    except DataError as error:
        return "out of range" in str(error)
    return False


@pytest.mark.parametrize(
    "field, value",
    [
        ("number", 4_294_967_297),  # wrapped around to 1
        ("number", 2_147_483_648),  # wrapped around to -2,147,483,648
        ("positive", 9_999_999_999),  # wrapped around to 1,410,065,407
        ("small", 65_537),  # wrapped around to 1
        ("big", 2**64 + 1),
    ],
)
def test_a_value_its_column_cannot_hold_is_refused_never_stored_changed(probe, field, value):
    assert _refused(probe, **{field: value})
    assert not probe.objects.exists()


def test_it_refuses_an_out_of_range_update_too(probe):
    row = probe.objects.create(number=7)
    with pytest.raises(DataError), transaction.atomic():
        probe.objects.filter(pk=row.pk).update(number=4_294_967_297)
    row.refresh_from_db()
    assert row.number == 7


def test_values_that_fit_round_trip_at_the_ends_of_each_range(probe):
    ends = [
        {"small": -(2**15), "number": -(2**31), "positive": 0, "big": -(2**63)},
        {"small": 2**15 - 1, "number": 2**31 - 1, "positive": 2**31 - 1, "big": 2**63 - 1},
    ]
    for values in ends:
        row = probe.objects.create(**values)
        assert probe.objects.values("small", "number", "positive", "big").get(pk=row.pk) == values


def test_an_integer_insert_run_again_is_still_a_prepared_statement(probe):
    # The settings' prepare_threshold is 2: the third run of one statement runs the prepared one.
    for value in (1, 2, 3, 4):
        probe.objects.create(number=value)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT parameter_types FROM pg_prepared_statements WHERE statement LIKE %s",
            ['INSERT INTO "config_probe"%'],
        )
        assert cursor.fetchall() == [(["smallint", "integer", "integer", "bigint"],)]
    assert _refused(probe, number=4_294_967_297)
    assert sorted(probe.objects.values_list("number", flat=True)) == [1, 2, 3, 4]
