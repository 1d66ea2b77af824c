"""Ten days of a shop's cart rescue, made through the product's doors, for the browser tests
of the dashboard and the report over time (tests/browser/test_dashboard.py,
tests/browser/test_report_over_time.py).

The shop posts `cart_abandoned` (with consent) and `purchase` events to `POST /api/events/`
with its API token; contacts text YES and STOP to the signed webhook `POST /twilio/sms/`;
our texts go to a fake Twilio over HTTP (messaging/tests/fake_twilio.py), which refuses the
texts to a UK number (21408: no permission for the region) and accepts the rest, then
Twilio's signed status callbacks say each was delivered (one undelivered, 30003); people
open the tracked links of the texts they got (`GET /l/<code>`, a phone's browser); the
timers and expiry jobs and the report's roll-up run as cron and the beat run them. Each
thing happens at its time of day (time_machine), the site in UTC.

What happens, by contact (c1 … c12), from 09:00 on the day they abandon a cart (`NOW` is
Thursday 12 March 2026, 16:00), and how the journey ends:

- Mon 2 Mar. c1 opens the reminder's link at 09:30, buys for 30.00 at 10:00: completed,
  purchase came. c2 texts STOP at 10:00: opted out at the wait.
- Fri 6 Mar. c3 buys for 45.00 at 10:00: completed, purchase came. c4 gets the offer at
  13:30, opens its link at 14:00, texts YES at 14:30 and gets the code: completed (ran out
  of steps). c5 gets the offer and says nothing: the wait timed out (the 18:00 run on the 7th).
- Mon 9 Mar. c6, a UK number: Twilio refuses the reminder and the offer (21408), so no reply
  timer runs: expired (Wed 11, the 13:30 run). c7's reminder is undelivered (30003); c7
  buys for 35.00 at 10:00 all the same: completed, purchase came.
- Wed 11 Mar. c8 opens the reminder's link at 09:30, buys for 20.00 at 10:00. c9 gets the
  offer, texts YES at 14:30, gets the code, and texts "thanks!" at 17:00 (no plan answers).
- Thu 12 Mar (today). c10 opens the reminder's link at 09:30, buys for 25.00 at 10:00 and
  texts "Got it, thanks" at 11:00. c11 texts STOP at 10:00. c12 opens the reminder's link
  at 11:00 and gets the offer at 13:30: waiting at the offer now.

The roll-up job (`report-days`) last ran on Wednesday at 20:00: the report reads the days
it kept and counts Thursday's live.
"""

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import time_machine

from conftest import TEST_PUBLIC_BASE_URL, TwilioClient, api_user, command, inbound_payload

NOW = datetime(2026, 3, 12, 16, 0, tzinfo=UTC)  # a Thursday afternoon
PLAN = {
    "format": "smsjourney.plan/1",
    "slug": "cart-rescue",
    "name": "Cart rescue",
    "entry": {"trigger": "event", "event": "cart_abandoned"},
    "lifetime": "P2D",
    "goals": [{"slug": "purchased", "name": "Purchased", "points": 10, "event": "purchase"}],
    "start": "reminder",
    "steps": [
        {"id": "reminder", "name": "Cart reminder", "type": "send", "next": "wait",
         "text": "Shop: you left something in your cart: https://shop.example.com/cart "
                 "Reply STOP to opt out."},
        {"id": "wait", "name": "Waiting for the purchase", "type": "wait_event", "event": "purchase",
         "next": None, "timeout": {"after": "PT4H", "next": "offer"}},
        {"id": "offer", "name": "Ten percent off", "type": "ask",
         "text": "Still thinking? Reply YES for 10% off: https://shop.example.com/cart?code=SAVE10",
         "rules": [{"match": "keyword", "words": ["yes"], "next": "code"}],
         "timeout": {"after": "PT24H", "next": None}},
        {"id": "code", "name": "Code sent", "type": "send", "next": None,
         "text": "Your code is SAVE10, good until midnight."},
    ],
}  # fmt: skip
PHONE = {n: f"+1415555{200 + n:04d}" for n in range(1, 13)}
PHONE[6] = "+442079460106"  # a UK number: the account may not text the UK (21408)
# (day of March, contact, [(hour:minute, what the contact or the shop does)]); timers and
# expiry run every day at 13:30 and 18:00 (and the days between), the roll-up once.
STORIES = {
    2: {1: [("09:30", "click"), ("10:00", "buy 30.00")], 2: [("10:00", "text STOP")]},
    6: {3: [("10:00", "buy 45.00")], 4: [("14:00", "click"), ("14:30", "text YES")], 5: []},
    9: {6: [], 7: [("10:00", "buy 35.00")]},
    11: {
        8: [("09:30", "click"), ("10:00", "buy 20.00")],
        9: [("14:30", "text YES"), ("17:00", "text thanks!")],
    },
    12: {
        10: [("09:30", "click"), ("10:00", "buy 25.00"), ("11:00", "text Got it, thanks")],
        11: [("10:00", "text STOP")],
        12: [("11:00", "click")],
    },
}  # fmt: skip
UNDELIVERED = {PHONE[7]}  # its first text: undelivered, 30003 (the phone was off)
REFUSED = {PHONE[6]}  # every text: refused when sent, 21408
LINK = re.compile(re.escape(TEST_PUBLIC_BASE_URL) + r"(/l/[A-Za-z0-9_-]+)")
PHONE_BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"


@dataclass
class Shop:
    """The fake Twilio, the shop's token, and what each contact was texted."""

    twilio_api: object  # messaging.tests.fake_twilio.FakeTwilio
    token: str
    client: object  # django.test.Client
    called_back: set = field(default_factory=set)
    texts: dict = field(default_factory=dict)  # phone → [body, …]

    def event(self, n: int, type: str, **fields) -> dict:
        body = {"event_id": f"{type}-{n}", "phone": PHONE[n], "type": type, **fields}
        response = self.client.post(
            "/api/events/",
            data=json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Token {self.token}",
        )
        assert response.status_code == 201, response.content
        return response.json()

    def text(self, n: int, body: str) -> None:
        response = TwilioClient(self.client).post("/twilio/sms/", inbound_payload(PHONE[n], body))
        assert response.status_code == 200, response.content

    def click(self, n: int) -> None:
        """The contact opens the link of the latest text they got that had one."""
        path = next(LINK.search(b).group(1) for b in reversed(self.texts[PHONE[n]]) if LINK.search(b))
        response = self.client.get(path, HTTP_USER_AGENT=PHONE_BROWSER)
        assert response.status_code == 302, response

    def callbacks(self) -> None:
        """Twilio's status callback for each text it accepted since the last call (signed,
        to the URL the send asked for): delivered, or undelivered for a phone that was off."""
        for sent in list(self.twilio_api.received):
            form = sent["form"]
            self.texts.setdefault(form["To"], [])
            if sent["sid"] in self.called_back:
                continue
            self.called_back.add(sent["sid"])
            self.texts[form["To"]].append(form["Body"])
            if sent["status"] != 201:
                continue
            first = len(self.texts[form["To"]]) == 1
            status = "undelivered" if form["To"] in UNDELIVERED and first else "delivered"
            payload = {"MessageSid": sent["sid"], "MessageStatus": status, "To": form["To"]}
            if status == "undelivered":
                payload["ErrorCode"] = "30003"
            path = form["StatusCallback"].removeprefix(TEST_PUBLIC_BASE_URL)
            assert TwilioClient(self.client).post(path, payload).status_code == 200


def _at(day: int, hm: str) -> datetime:
    hour, minute = map(int, hm.split(":"))
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def _jobs(shop: Shop, day: int, hm: str) -> None:
    """The timers and the expiry job, as cron runs them (`manage.py process_timeouts`,
    `expire_enrollments`)."""
    with time_machine.travel(_at(day, hm), tick=True):
        command("process_timeouts")
        command("expire_enrollments")
        shop.callbacks()


def cart_fortnight(settings, fake_twilio):
    """Make the ten days (see above), and return the plan."""
    from django.test import Client
    from rest_framework.authtoken.models import Token

    from automation.cockpit.jobs import report_days_refresh_task
    from automation.engine.plans import plan_import

    settings.TIME_ZONE = "UTC"
    settings.SMS_BACKEND = "messaging.backends.twilio.TwilioBackend"
    settings.TWILIO_API_BASE_URL = fake_twilio.base_url
    fake_twilio.refused = dict.fromkeys(REFUSED, (400, 21408))
    with time_machine.travel(_at(1, "12:00"), tick=True):
        plan = plan_import(document=PLAN).plan
        user = api_user("shop", "tracking.add_interaction")
        shop = Shop(fake_twilio, Token.objects.create(user=user).key, Client())
    for day in range(2, 13):
        stories = STORIES.get(day, {})
        with time_machine.travel(_at(day, "09:00"), tick=True):
            for n in stories:
                assert shop.event(n, "cart_abandoned", opt_in=True)["enrolled"] == ["cart-rescue"]
            shop.callbacks()
        moments = sorted({hm for story in stories.values() for hm, _ in story} | {"13:30", "18:00"})
        for hm in moments:
            if hm in ("13:30", "18:00"):
                _jobs(shop, day, hm)
            for n, story in stories.items():
                for when, what in story:
                    if when != hm:
                        continue
                    with time_machine.travel(_at(day, hm), tick=True):
                        verb, _, rest = what.partition(" ")
                        if verb == "click":
                            shop.click(n)
                        elif verb == "buy":
                            shop.event(n, "purchase", event_id=f"order-{n}", value=float(rest))
                        else:
                            shop.text(n, rest)
                        shop.callbacks()
            if day == 12 and hm == "13:30":
                break  # today: it is 16:00 now
        if day == 11:
            with time_machine.travel(_at(11, "20:00"), tick=True):
                assert report_days_refresh_task.apply().result["days"] == 4
    return plan


DAYS = [date(2026, 3, d) for d in range(2, 13)]
ONE_DAY = timedelta(days=1)
