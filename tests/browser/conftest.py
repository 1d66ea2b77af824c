"""Browser tests: Playwright drives Debian's Chromium against pytest-django's live server.

They skip, with the reason, where /usr/bin/chromium or the playwright package is absent
(Playwright's own browser download is not used). Screenshots go to a temporary folder, or
to $COCKPIT_SCREENSHOTS (e.g. docs/screenshots) when it is set.
"""

import os
import re
import shutil
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
# between page actions are ordinary synchronous ones.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def _chromium():
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        pytest.skip(f"needs Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("needs the playwright package (pip install -r requirements.txt)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def live_server(request):
    """pytest-django's live server, started with plain-http settings: its middleware reads
    SECURE_SSL_REDIRECT once, when the server starts (before function-scoped settings)."""
    from django.test import override_settings
    from pytest_django.live_server_helper import LiveServer

    plain_http = override_settings(
        SECURE_SSL_REDIRECT=False,
        SECURE_HSTS_SECONDS=0,
        SESSION_COOKIE_SECURE=False,
        CSRF_COOKIE_SECURE=False,
    )
    plain_http.enable()
    server = LiveServer(os.environ.get("DJANGO_LIVE_TEST_SERVER_ADDRESS") or "localhost")
    yield server
    server.stop()
    plain_http.disable()


@pytest.fixture
def page(_chromium, live_server, settings):
    """A page of a fresh browser context. Every page it shows must work under the site's
    Content-Security-Policy: a violation Chromium reports fails the test."""
    # Plain http on localhost: the cookies cannot be Secure-only here.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    settings.DEBUG = False
    context = _chromium.new_context(viewport={"width": 1280, "height": 860}, base_url=live_server.url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(f"{page.url}: {message.text}")
            if "Content Security Policy" in message.text
            else None
        ),
    )
    yield page
    context.close()
    assert not violations, "\n".join(violations)


@pytest.fixture
def shots(tmp_path):
    """shots("name") → the path a screenshot of that name is saved to."""
    folder = Path(os.environ.get("COCKPIT_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return lambda name: str(folder / f"{name}.png")


def screenshot(page, path: str, *, down_to: str | None = None, pad: int = 32) -> None:
    """A full-page screenshot from the top (scrolled there first: the admin's sticky sidebar
    is drawn where the page was scrolled to), cut `pad` px below the lowest element
    `down_to` finds when it is given (a whole page can make a PNG over 300 KB)."""
    page.evaluate("window.scrollTo(0, 0)")
    clip = None
    if down_to:
        boxes = [element.bounding_box() for element in page.locator(down_to).all()]
        bottom = max(box["y"] + box["height"] for box in boxes)
        clip = {"x": 0, "y": 0, "width": page.viewport_size["width"], "height": bottom + pad}
    page.screenshot(path=path, full_page=True, clip=clip)


# The widths the cockpit is checked at: a laptop's and a phone's.
WIDTHS = {"laptop": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844}}
FITS = "document.documentElement.scrollWidth <= window.innerWidth + 1"


def assert_fits(page, what: str) -> None:
    """Nothing on the page is wider than the window once its layout has settled (the
    diagram and wide tables scroll in boxes of their own, so they do not count)."""
    try:
        page.wait_for_function(FITS, timeout=3000)
    except Exception:
        wide = page.evaluate(
            "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > "
            "window.innerWidth + 1 && !e.closest('.cockpit-diagram-scroll, .cockpit-table-scroll'))"
            ".slice(0, 4).map(e => e.tagName + '.' + e.className + ': ' + (e.textContent || '').slice(0, 80))"
        )
        raise AssertionError(f"{what} is wider than the window: {wide}") from None


# The words in the elements a selector finds that a line break cuts in two (a word whose
# text spans more than one line box), on the page as it is laid out.
BROKEN_WORDS = """(selector) => {
  const broken = [];
  for (const element of document.querySelectorAll(selector)) {
    const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const m of node.textContent.matchAll(/\\S+/g)) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
        if (lines.size > 1) broken.push(m[0]);
      }
    }
  }
  return broken;
}"""


def broken_words(page, selector: str) -> list[str]:
    """The words of what `selector` finds that are split across lines (none, when it reads)."""
    return page.evaluate(BROKEN_WORDS, selector)


def save_step(page) -> None:
    """Save a step's form: back on the plan's page, which says it was saved."""
    page.click("input[value='Save step']")
    page.wait_for_url(re.compile(r"/change/"))
    assert page.locator(".messagelist .success").count() >= 1, page.inner_text("#content-main")


PASSWORD = "a-long-test-password-42"


def log_in(page, username: str, password: str = PASSWORD) -> None:
    """Log in to the admin on its login page, as a person does."""
    page.goto("/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/admin/$"))


def _marketer(django_user_model):
    """A staff user in the Marketers group (the group's migration data does not survive
    the flushes of transactional tests, so it is put back the same way when missing)."""
    import importlib

    from django.contrib.auth.models import Group, Permission

    group, created = Group.objects.get_or_create(name="Marketers")
    if created or not group.permissions.exists():
        grants = importlib.import_module("automation.migrations.0003_marketers_group").PERMISSIONS
        for app_label, models in grants.items():
            for model, actions in models.items():
                group.permissions.add(
                    *Permission.objects.filter(
                        content_type__app_label=app_label, codename__in=[f"{a}_{model}" for a in actions]
                    )
                )
        group.permissions.add(
            *Permission.objects.filter(
                codename__in=[
                    "add_bulkenrollmentjob",
                    "view_bulkenrollmentjob",
                    "view_planrevision",
                    "view_trackedlink",
                    "view_sender",
                ]
            )
        )
    user = django_user_model.objects.create_user("mia", password=PASSWORD, is_staff=True)
    user.groups.add(group)
    return user


@pytest.fixture
def marketer_page(page, django_user_model):
    """`page`, logged in to the admin as Mia, a marketer."""
    _marketer(django_user_model)
    log_in(page, "mia")
    return page


def texted(phone: str, text: str) -> None:
    """A contact's SMS, stored and routed as the webhook and a worker would (no browser)."""
    from django.db import transaction

    from automation.engine.inbound import inbound_message_route
    from conftest import inbound_payload
    from tracking.services import inbound_message_receive

    with transaction.atomic():
        accepted = inbound_message_receive(payload=inbound_payload(phone, text))
    inbound_message_route(interaction_id=accepted.interaction_id)
