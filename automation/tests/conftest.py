"""Fixtures of automation's tests, and the helpers beside them: tracked links as a contact
meets them — the codes in a text, a plan that sends a link and waits for its first click,
and a tap on a link from a phone's browser (`click`)."""

import re

import pytest

from automation.tests.factories import ask, plan_make, send
from conftest import TEST_PUBLIC_BASE_URL

SHORT = re.compile(re.escape(TEST_PUBLIC_BASE_URL) + r"/l/([A-Za-z0-9_-]{12})")
BROWSER = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1"
)


def codes(text: str) -> list[str]:
    """The tracked links' codes in a text, in order."""
    return SHORT.findall(text)


@pytest.fixture
def click(client, django_capture_on_commit_callbacks):
    """``click(code, agent=BROWSER, method="get")``: a tap on the tracked link (its on-commit
    work runs); the redirect answered."""

    def get(code: str, *, agent: str = BROWSER, method: str = "get"):
        with django_capture_on_commit_callbacks(execute=True):
            return getattr(client, method)(f"/l/{code}", HTTP_USER_AGENT=agent)

    return get


def link_plan(**top):
    """SPRING enters; a text with a link, then a wait for its first click (a day at most)."""
    return plan_make(
        entry={"trigger": "keyword", "keywords": ["SPRING"]},
        steps=[
            send("offer", "Spring sale: https://shop.example.com/spring?utm=sms. Ends Sunday!", "wait"),
            {"id": "wait", "type": "wait_event", "event": "link_click", "next": "thanks",
             "timeout": {"after": "P1D", "next": None}},
            ask("thanks", "Glad you looked! Reply SIZE for your size guide."),
        ],
        **top,
    )  # fmt: skip
