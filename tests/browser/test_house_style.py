"""The house style (docs/cockpit.md, "The look") on every page a marketer opens, in a real
browser at a laptop's 1366 px and a phone's 390 px: the dashboard, the changelists and
change forms, the plan's page, a step's form, Try it, the report, the sending queue, a
contact, the bulk enrollment, the login page and the lockout page. On each: the theme's
stylesheet has the last word (loaded after Django's and cockpit.css), its font and colours
are what the body wears, the text reads on its background, nothing is wider than the window,
and the CSP reports nothing (the `page` fixture fails the test on a violation). Dark mode
(the system's, or the admin's switch) changes the colours and still reads."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from tests.browser.conftest import WIDTHS, assert_fits, log_in, texted

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LOOK = """() => {
  const root = getComputedStyle(document.documentElement), body = getComputedStyle(document.body);
  const sheets = [...document.styleSheets].map(s => s.href || '');
  return {sheets, accent: root.getPropertyValue('--sj-accent').trim(),
          primary: root.getPropertyValue('--primary').trim(),
          font: body.fontFamily, bg: body.backgroundColor, fg: body.color};
}"""
LIGHT_BG, DARK_BG = "rgb(244, 245, 248)", "rgb(14, 17, 23)"
# (days ago, what the contact texts after "hi") for the demo plan `quote-and-buy`.
JOURNEYS = [
    (0, ["quote", "buy"]),
    (0, ["quote"]),
    (1, ["quote", "buy"]),
    (1, []),
    (2, ["quote"]),
    (2, ["quote", "buy"]),
    (3, ["STOP"]),
    (4, ["quote", "buy"]),
    (4, ["quote"]),
    (5, []),
    (5, ["quote", "buy"]),
    (6, ["quote"]),
]


def _luminance(rgb: str) -> float:
    channels = [int(c) / 255 for c in re.findall(r"\d+", rgb)[:3]]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(fg: str, bg: str) -> float:
    """WCAG's contrast ratio of two computed colours ("rgb(r, g, b)")."""
    hi, lo = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def assert_house_style(page, what: str, *, background: str = LIGHT_BG) -> None:
    look = page.evaluate(LOOK)
    assert re.search(r"/cockpit/theme(\.[0-9a-f]+)?\.css$", look["sheets"][-1]), (what, look["sheets"])
    assert any("/cockpit/cockpit" in s for s in look["sheets"]), (what, look["sheets"])
    assert look["font"].startswith("Inter,"), (what, look["font"])
    assert look["primary"] == look["accent"] and look["accent"], (what, look)  # Django's, from ours
    assert look["bg"] == background, (what, look["bg"])
    assert contrast(look["fg"], look["bg"]) >= 7, (what, look["fg"], look["bg"])
    assert_fits(page, what)


@pytest.mark.parametrize("width", list(WIDTHS))
def test_every_page_wears_the_house_style(page, django_user_model, shots, width):
    from automation.engine.demo_plan import plan_load_demo_with_summary
    from contacts.models import Contact
    from tests.browser.conftest import _marketer

    page.set_viewport_size(WIDTHS[width])
    suffix = "" if width == "laptop" else "-phone"

    # Signed out: the login page, then the lockout page after five failed logins.
    page.goto("/admin/login/")
    assert_house_style(page, "the login page")
    assert page.inner_text("#site-name") == "smsjourney"
    for _ in range(5):
        page.goto("/admin/login/")
        page.fill("#id_username", "intruder")
        page.fill("#id_password", "a-wrong-guess")
        page.click("input[type=submit]")
    assert "Too many failed logins" in page.inner_text("h1")
    assert page.inner_text("#site-name") == "smsjourney"  # not "Django administration"
    assert_house_style(page, "the lockout page")

    # A week of people texting the demo plan (the charts have days to draw), stored before
    # anyone opens the dashboard: it counts each settled day once, at its first request.
    plan = plan_load_demo_with_summary().plan
    now = timezone.now()
    for n, (days_ago, replies) in enumerate(JOURNEYS):
        with time_machine.travel(now - timedelta(days=days_ago, hours=n % 3), tick=True):
            for text in ["hi", *replies]:
                texted(f"+1415555{700 + n:04d}", text)
    contact = Contact.objects.get(phone="+14155550700")
    _marketer(django_user_model)
    log_in(page, "mia")  # the lockout held only the intruder's name

    page.goto("/admin/")
    assert page.locator("#dashboard .dashboard-figure").count() == 7
    assert_house_style(page, "the dashboard")
    # The figures are cards: the card's surface, not the page's.
    card = page.evaluate("getComputedStyle(document.querySelector('.dashboard-figure')).backgroundColor")
    assert card == "rgb(255, 255, 255)"  # (the dashboard's screenshot: tests/browser/test_dashboard.py)

    pages = {
        "the plans": "/admin/automation/plan/",
        "a new plan's form": "/admin/automation/plan/add/",
        "the plan's page": f"/admin/automation/plan/{plan.pk}/change/",
        "a step's form": f"/admin/automation/plan/{plan.pk}/steps/invited/",
        "Try it": f"/admin/automation/plan/{plan.pk}/try/",
        "the report": f"/admin/automation/plan/{plan.pk}/report/",
        "the sending queue": "/admin/sending-queue/",
        "the contacts": "/admin/contacts/contact/",
        "a contact": f"/admin/contacts/contact/{contact.pk}/change/",
        "the outgoing messages": "/admin/messaging/outboundmessage/",
        "the enrollments": "/admin/automation/enrollment/",
    }
    for what, path in pages.items():
        response = page.goto(path)
        assert response.status == 200, (what, response.status)
        assert_house_style(page, what)
        if what == "the plan's page":  # its top: the whole page makes a PNG over 300 KB
            height = 1700 if width == "laptop" else 2400
            clip = {"x": 0, "y": 0, "width": WIDTHS[width]["width"], "height": height}
            page.screenshot(path=shots(f"demo-plan{suffix}"), full_page=True, clip=clip)
        if what == "the report":
            assert page.inner_text('[data-key="enrolled"]') == str(len(JOURNEYS))
            height = 2000 if width == "laptop" else 3000
            clip = {"x": 0, "y": 0, "width": WIDTHS[width]["width"], "height": height}
            page.screenshot(path=shots(f"demo-report{suffix}"), full_page=True, clip=clip)

    # Bulk enrollment: reached from the contacts' action, as a marketer does.
    page.goto("/admin/contacts/contact/")
    page.locator(f"input[name=_selected_action][value='{contact.pk}']").check()
    page.select_option("select[name=action]", "enroll_in_plan")
    page.click("button[name=index]")
    page.wait_for_selector("button[name=apply]")
    assert_house_style(page, "the bulk enrollment page")

    # Dark mode: the system's choice, then the admin's switch back to light.
    page.emulate_media(color_scheme="dark")
    for path in ("/admin/", f"/admin/automation/plan/{plan.pk}/report/"):
        page.goto(path)
        assert_house_style(page, f"{path} in dark mode", background=DARK_BG)
    quiet = page.evaluate(
        "[getComputedStyle(document.querySelector('.help')).color,"
        " getComputedStyle(document.querySelector('.cockpit-card')).backgroundColor]"
    )
    assert contrast(*quiet) >= 4.5, quiet
    page.evaluate("localStorage.setItem('theme', 'light')")
    page.reload()
    assert_house_style(page, "the report, switched to light in a dark system")

    # Logged out: Django's own page, in the house style too.
    page.click("#logout-form button")
    page.wait_for_url(re.compile(r"/admin/logout/$"))
    assert_house_style(page, "the logged-out page")
