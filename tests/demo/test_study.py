from __future__ import annotations

import re

from demo.links import demo_links
from demo.study import DEMO_STUDY_NAME, DEMO_STUDY_SLUG, DEMO_STUDY_TITLE, seed_demo_study
from studies.models import Study
from tests.studies.conftest import build_catalog


def test_the_demo_study_is_an_open_four_question_study_made_once(db):
    build_catalog(baselines=2, identities=2, prompts=2)
    study = seed_demo_study()
    assert study is not None and study.status == Study.Status.OPEN
    assert study.public_slug == DEMO_STUDY_SLUG
    assert study.questions.count() == 4
    assert study.ours.role == "ours" and study.baselines.count() == 2
    assert seed_demo_study().pk == study.pk
    assert Study.objects.count() == 1


def test_without_a_catalog_there_is_no_demo_study_and_no_link(db):
    assert seed_demo_study() is None
    assert not any("/s/" in url for _, url in demo_links("http://127.0.0.1:8000"))


def test_make_demo_prints_the_demo_study_join_link(db):
    build_catalog(baselines=1, identities=1, prompts=1)
    seed_demo_study()
    links = dict(demo_links("http://127.0.0.1:8000"))
    assert "http://127.0.0.1:8000/s/demo/" in links.values()
    assert "http://127.0.0.1:8000/studies/" in links.values()


def test_the_demo_study_pages_never_tell_participants_which_method_is_ours(db, client):
    build_catalog(baselines=1, identities=1, prompts=1)
    seed_demo_study()
    pages = [client.get(f"/s/{DEMO_STUDY_SLUG}/")]
    pages += [client.post(f"/s/{DEMO_STUDY_SLUG}/", follow=True)]
    pages += [client.post(f"/s/{DEMO_STUDY_SLUG}/consent/", {"agree": "on"}, follow=True)]
    assert [page.status_code for page in pages] == [200, 200, 200]
    assert b'name="matchup"' in pages[-1].content  # the walk reached the first question
    for page in pages:
        text = page.content.decode()
        assert DEMO_STUDY_TITLE in text
        assert DEMO_STUDY_NAME not in text
        assert not re.search(r"\bours\b", text, re.IGNORECASE)


def test_a_demo_study_seeded_before_it_had_a_title_gets_one(db):
    build_catalog(baselines=1, identities=1, prompts=1)
    study = seed_demo_study()
    Study.objects.filter(pk=study.pk).update(public_title="")
    assert seed_demo_study().participant_title == DEMO_STUDY_TITLE
