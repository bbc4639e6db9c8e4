"""Browser tests: Debian's Chromium driven by Playwright against pytest-django's live server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make between
# page actions are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.path):
            item.add_marker(pytest.mark.browser)
            if not CHROMIUM.exists():
                item.add_marker(
                    pytest.mark.skip(
                        reason="Debian's chromium is not installed (make test installs it as root)"
                    )
                )


@pytest.fixture(autouse=True, scope="session")
def _media_through_the_app() -> Iterator[None]:
    """The live server serves MEDIA_URL from MEDIA_ROOT by itself, past the app's media view: moved
    out of the way, media pass the app's permission check and carry its headers, as when deployed."""
    from django.conf import settings

    served = settings.MEDIA_URL
    settings.MEDIA_URL = "/not-served-by-the-live-server/"
    yield
    settings.MEDIA_URL = served


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--autoplay-policy=no-user-gesture-required",
            ],
        )
        yield browser
        browser.close()


# Chromium logs a Content Security Policy violation to the console itself; the page's own
# securitypolicyviolation event is logged too, so none can pass unseen. Scripts that Playwright
# injects are not subject to the page's policy.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => console.error(
  `Content Security Policy violation: ${event.violatedDirective} blocked ${event.blockedURI || "inline"}`));
"""


class CspWatch:
    """Collects, across the browser contexts it watches, every CSP violation and every HTML page
    of the app sent without a Content-Security-Policy header."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def watch(self, context) -> None:
        context.add_init_script(REPORT_VIOLATIONS)
        context.on("console", self._console)
        context.on("response", self._response)

    def _console(self, message) -> None:
        if "Content Security Policy" in message.text:
            self.problems.append(f"{message.page.url if message.page else '?'}: {message.text}")

    def _response(self, response) -> None:
        html = "text/html" in response.headers.get("content-type", "")
        if html and "content-security-policy" not in response.headers:
            self.problems.append(f"{response.url}: sent without a Content-Security-Policy")


@pytest.fixture
def csp_watch() -> Iterator[CspWatch]:
    """Fails the test when any page it watched broke or lacked the policy (`page` is watched)."""
    watch = CspWatch()
    yield watch
    assert watch.problems == []


@pytest.fixture
def page(chromium, csp_watch):
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    csp_watch.watch(context)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def sign_in(page, live_server_url: str, username: str, password: str) -> None:
    page.goto(f"{live_server_url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server_url}/")
