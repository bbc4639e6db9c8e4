"""The groups of lib/roles.py exist from the first migration on: the README's roles are given by adding
someone to one (in the admin, or by the people pages), never by creating a group first."""

from __future__ import annotations

from typing import Any

from django.db import migrations

# Written out rather than imported: a migration keeps the names it was written with.
GROUPS = ("Annotators", "ML team")


def groups_create(apps: Any, schema_editor: Any) -> None:
    Group = apps.get_model("auth", "Group")
    for name in GROUPS:
        Group.objects.get_or_create(name=name)


def groups_delete(apps: Any, schema_editor: Any) -> None:
    # Only groups nobody belongs to: going back must not take anyone's role away.
    Group = apps.get_model("auth", "Group")
    Group.objects.filter(name__in=GROUPS, user__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("annotate", "0017_annotator_settings"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(groups_create, groups_delete)]
