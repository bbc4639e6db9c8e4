"""axe-core on the main pages of each role: no violation of impact moderate or higher.

The pages are listed once, in PAGES; a page added there is checked from then on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.contrib.auth.models import Group, User

from annotate.models import Track
from lib.roles import ML_TEAM_GROUP
from studies.models import Study
from tests.annotate.test_views import make_track_with_references
from tests.browser.conftest import sign_in
from tests.studies.conftest import build_catalog, make_study

pytestmark = pytest.mark.django_db(transaction=True)

REPORTED = ("moderate", "serious", "critical")

# Role: the addresses of its main pages, filled in with the world's {track}, {study} and {slug}. A
# participant's pages are reached in this order by taking part (PARTICIPANT_NEXT moves them on).
PAGES: dict[str, tuple[str, ...]] = {
    "annotator": ("/tracks/", "/tracks/{track}/"),
    "participant": ("/s/{slug}/", "/s/{slug}/consent/", "/s/{slug}/m/1/", "/s/{slug}/done/"),
    "study admin": (
        "/manage/tracks/",
        "/manage/tracks/{track}/",
        "/studies/",
        "/studies/{study}/",
        "/studies/{study}/results/",
        "/generation/",
        "/manage/exports/",
    ),
    "ML team": (
        "/manage/exports/",
        "/generation/",
        "/api/docs/",
        "/manage/metrics/agreement/",
        "/manage/metrics/agreement/table/",
    ),
    # The 404 page, as a visitor and as a participant with a cut link of a study.
    "anyone": ("/no-such-page/", "/s/{slug}/m/1x/"),
}

# Markup drawn by third-party code that this project does not write: Swagger UI's operations nest buttons
# and skip heading levels. The page around it (language, title, heading, the way back) is checked.
NOT_OURS = {"/api/docs/": "#swagger-ui"}

USERS = {
    "annotator": ("annotator-1", "pw-annotator-1"),
    "study admin": ("study-admin", "pw-admin-1"),
    "ML team": ("ml-member", "pw-ml-member-1"),
}


def _answer_and_finish(page) -> None:
    groups = page.locator("fieldset.study-q")
    for k in range(groups.count()):
        groups.nth(k).get_by_text("Left Video", exact=True).click()
    page.get_by_role("button", name="Finish").click()


def _consent(page) -> None:
    page.get_by_label("I have read the information above and agree").check()
    page.get_by_role("button", name="I agree — start the study").click()


PARTICIPANT_NEXT: dict[str, Callable[..., None]] = {
    "/s/{slug}/": lambda page: page.get_by_role("button", name="Continue to consent").click(),
    "/s/{slug}/consent/": _consent,
    "/s/{slug}/m/1/": _answer_and_finish,
}


@pytest.fixture
def axe_page(chromium) -> Iterator[object]:
    # axe-core is injected as a script: past the page's Content-Security-Policy, which the other browser
    # tests check.
    context = chromium.new_context(viewport={"width": 1366, "height": 768}, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def world(annotator: User, study_admin: User, tmp_path) -> dict[str, object]:
    ml_member = User.objects.create_user("ml-member", password="pw-ml-member-1")
    ml_member.groups.add(Group.objects.get_or_create(name=ML_TEAM_GROUP)[0])
    track = make_track_with_references(kind=Track.Kind.IDENTITY_FIDELITY, annotators=[annotator], frames=8)
    study: Study = make_study(
        build_catalog(baselines=1, identities=1, prompts=1, real_media=tmp_path),
        name="Accessible study",
        matchups_per_participant=1,
        contact="team@example.org",
    )
    return {"track": track.pk, "study": study.pk, "slug": study.public_slug}


def violations(page, address: str) -> list[str]:
    context = {"exclude": [[NOT_OURS[address]]]} if address in NOT_OURS else None
    found = Axe().run(page, context=context).response["violations"]
    return [
        f"{page.url}: {v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:3]]}"
        for v in found
        if v["impact"] in REPORTED
    ]


@pytest.mark.parametrize("role", list(PAGES))
def test_the_main_pages_of_each_role_have_no_moderate_or_worse_axe_violation(
    axe_page, live_server, world, role
):
    page = axe_page
    if role in USERS:
        sign_in(page, live_server.url, *USERS[role])
    problems: list[str] = []
    for address in PAGES[role]:
        url = live_server.url + address.format(**world)
        if role == "participant" and address != PAGES[role][0]:
            page.wait_for_url(url)  # moved there by the previous page's form
        else:
            page.goto(url)
        page.wait_for_load_state("networkidle")  # the API docs draw themselves after loading
        problems += violations(page, address)
        page.screenshot(path=f"/tmp/a11y_{role.replace(' ', '_')}_{PAGES[role].index(address)}.png")
        if role == "participant" and address in PARTICIPANT_NEXT:
            PARTICIPANT_NEXT[address](page)
    assert not problems, "\n".join(problems)
