from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.factories import make_track

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_admin_adds_two_people_and_one_sets_a_password_and_finds_their_track(
    page, chromium, csp_watch, live_server, study_admin
):
    make_track(name="Fidelity round 1")
    sign_in(page, live_server.url, "study-admin", "pw-admin-1")
    page.get_by_role("link", name="People", exact=True).click()
    page.get_by_label("E-mail addresses or usernames").fill("ada@example.org\ngrace")
    page.get_by_label("Fidelity round 1").check()
    page.screenshot(path="/tmp/people_list.png", full_page=True)
    page.get_by_role("button", name="Add people").click()

    expect(page.get_by_role("heading", name="2 people added")).to_be_visible()
    page.screenshot(path="/tmp/people_added.png", full_page=True)
    link = page.get_by_label("Sign-in link of ada@example.org").input_value()
    assert link.startswith(f"{live_server.url}/accounts/welcome/")

    newcomer = chromium.new_context(viewport={"width": 1280, "height": 900})
    csp_watch.watch(newcomer)
    fresh = newcomer.new_page()
    fresh.goto(link)
    expect(fresh.get_by_role("heading", name="Choose your password")).to_be_visible()
    fresh.get_by_label("New password", exact=True).fill("lantern-oak-91")
    fresh.get_by_label("New password confirmation").fill("lantern-oak-91")
    fresh.screenshot(path="/tmp/people_set_password.png", full_page=True)
    fresh.get_by_role("button", name="Set password").click()

    expect(fresh.get_by_text("Your password is set. Sign in as ada@example.org.")).to_be_visible()
    sign_in(fresh, live_server.url, "ada@example.org", "lantern-oak-91")
    fresh.get_by_role("link", name="My tracks").click()
    expect(fresh.get_by_text("Fidelity round 1")).to_be_visible()

    fresh.goto(link)
    expect(fresh.get_by_role("heading", name="This link was used")).to_be_visible()
    fresh.screenshot(path="/tmp/people_link_used.png", full_page=True)
    newcomer.close()

    page.goto(f"{live_server.url}/manage/people/")
    page.screenshot(path="/tmp/people_list_after.png", full_page=True)
    expect(page.get_by_role("row", name="ada@example.org")).to_contain_text("Active")
    expect(page.get_by_role("row", name="grace")).to_contain_text("Invited")

    page.get_by_label("E-mail addresses or usernames").fill("linus\ngrace\nbad@")
    page.get_by_role("button", name="Add people").click()
    expect(page.get_by_text("Line 2: “grace” already has an account.")).to_be_visible()
    expect(page.get_by_text("Line 3: “bad@” is not a valid e-mail address.")).to_be_visible()
    page.screenshot(path="/tmp/people_list_errors.png", full_page=True)
    page.get_by_role("link", name="grace").click()
    expect(page.get_by_label("Sign-in link")).to_have_value(re.compile(r"/accounts/welcome/"))
    page.screenshot(path="/tmp/person_detail.png", full_page=True)
