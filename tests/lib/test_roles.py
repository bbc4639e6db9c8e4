"""The roles of the README, as each one meets them: who reaches which page, and what the navigation lists."""

from __future__ import annotations

import re
from importlib import import_module

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from generation.models import GenerationJob, Method
from lib.roles import ANNOTATORS_GROUP, ML_TEAM_GROUP
from tests.factories import IdentityFactory, MethodFactory, PromptFactory

pytestmark = pytest.mark.django_db

ML_PAGES = (
    "generation:job_list",
    "generation:job_new",
    "generation:video_upload",
    "exports:list",
    "rankings:leaderboard",
    "rankings:checkpoints",
)
NAV = re.compile(r"<nav>(.*?)</nav>", re.S)


@pytest.fixture
def ml_member(db: None) -> User:
    user = User.objects.create_user("ml-member", password="pw-ml-member-1")
    user.groups.add(Group.objects.get(name=ML_TEAM_GROUP))
    return user


@pytest.fixture
def ml_client(client: Client, ml_member: User) -> Client:
    client.force_login(ml_member)
    return client


def nav_links(client: Client) -> list[str]:
    """The labels of the top navigation's links on the home page, in order."""
    nav = NAV.search(client.get("/").content.decode())
    assert nav is not None
    return re.findall(r"<a href=\"[^\"]+\">([^<]+)</a>", nav.group(1))


def test_the_role_groups_exist_after_migrating():
    assert set(Group.objects.values_list("name", flat=True)) >= {ANNOTATORS_GROUP, ML_TEAM_GROUP}


def test_undoing_the_groups_migration_keeps_a_group_someone_belongs_to(ml_member):
    migration = import_module("annotate.migrations.0018_role_groups")
    migration.groups_delete(apps, None)
    assert list(Group.objects.values_list("name", flat=True)) == [ML_TEAM_GROUP]
    migration.groups_create(apps, None)
    assert Group.objects.filter(name__in=(ANNOTATORS_GROUP, ML_TEAM_GROUP)).count() == 2


@pytest.mark.parametrize("name", ML_PAGES)
def test_an_ml_team_member_reaches_generation_and_exports(ml_client, name):
    assert ml_client.get(reverse(name)).status_code == 200


@pytest.mark.parametrize("name", ML_PAGES)
def test_an_annotator_gets_a_404_from_generation_and_exports(annotator_client, name):
    assert annotator_client.get(reverse(name)).status_code == 404


def test_an_ml_team_member_launches_a_job_and_follows_it(ml_client):
    method = MethodFactory(
        backend=Method.Backend.PROCEDURAL, settings={"width": 32, "height": 32, "num_frames": 4}
    )
    form = {"method": method.pk, "identities": [IdentityFactory().pk], "prompts": [PromptFactory().pk]}
    response = ml_client.post(reverse("generation:job_new"), {**form, "seeds": "1"})
    job = GenerationJob.objects.get()
    assert response.status_code == 302 and job.created_by.username == "ml-member"
    assert ml_client.get(reverse("generation:job_detail", args=[job.pk])).status_code == 200


def test_an_ml_team_member_does_not_reach_the_study_admin_pages(ml_client):
    for url in (reverse("manage_tracks:list"), reverse("studies:study_list")):
        assert ml_client.get(url).status_code == 404


def test_the_ml_team_navigation_lists_generation_rankings_metrics_exports_and_the_api_once(ml_client):
    assert nav_links(ml_client) == ["Generation", "Rankings", "Metrics", "Exports", "API"]


def test_the_annotator_navigation_lists_only_their_tracks(annotator_client):
    assert nav_links(annotator_client) == ["My tracks"]


def test_the_study_admin_navigation_lists_each_page_once(admin_client):
    links = nav_links(admin_client)
    assert links == [
        "My tracks",
        "Tracks",
        "People",
        "Studies",
        "Generation",
        "Rankings",
        "Metrics",
        "Exports",
        "API",
        "Catalog",
    ]
