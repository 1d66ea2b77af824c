"""The health page (docs/cockpit.md, "Health"): is the product answering people, in a
marketer's words — the workers seen lately, how long the oldest message has waited to be
read, each sender's queue, the texts that failed (what Twilio's code means and what to do),
and the last run of each periodic job; red where something is wrong. Wired in
smsjourney/urls.py for whoever may see the senders (Marketers, superusers); linked from the
admin's home. A thin door onto the selectors that /metrics reads too (docs/reference.md §9)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from automation.engine.inbound import ROUTE_GRACE
from infra.jobs import SEEN_RECENTLY, heartbeats, jobs_state
from messaging.durations import duration_words
from messaging.models import DeliveryStatus
from messaging.selectors import outbound_failing, outbound_waiting, sender_queues, sender_throttled
from messaging.twilio_errors import twilio_error
from tracking.selectors import inbound_unrouted

REFRESH_SECONDS = 30
FAILING_WINDOW = timedelta(hours=24)  # failed texts this recent make the page red

# What each periodic job does, as a marketer reads it (CELERY_BEAT_SCHEDULE's names).
JOB_WORDS = {
    "route-waiting-inbound": "Reads messages no worker took (the safety net)",
    "process-timeouts": "Sends reminders and moves on journeys whose wait is over",
    "expire-enrollments": "Ends journeys past their lifetime",
    "send-due-messages": "Sends texts held for quiet hours, and retries",
    "report-days": "Counts the plan reports' figures per day",
}


@dataclass
class Section:
    """One part of the page: `ok` False turns it (and the page) red; `problem` says why."""

    ok: bool = True
    problem: str = ""
    rows: list = field(default_factory=list)


def _ago(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "never"
    seconds = max((now - when).total_seconds(), 0)
    return "just now" if seconds < 60 else f"{duration_words(seconds)} ago"


def _workers(now: datetime) -> Section:
    seen = heartbeats(now=now)
    recent = [h for h in seen if now - h.seen_at <= SEEN_RECENTLY]
    rows = [
        (h.name, h.get_kind_display(), _ago(h.seen_at, now), now - h.seen_at <= SEEN_RECENTLY) for h in seen
    ]
    if settings.CELERY_BROKER_URL and not any(h.kind == "worker" for h in recent):
        problem = (
            "No worker has been seen in the last two minutes: messages are stored but nobody reads "
            "or answers them. Ask an administrator to start the workers."
        )
        return Section(False, problem, rows)
    if not settings.CELERY_BROKER_URL and settings.IN_PROCESS_JOBS and not recent:
        problem = (
            "The server's background work has not run in the last two minutes: replies and reminders "
            "may not go. Ask an administrator to restart the server."
        )
        return Section(False, problem, rows)
    return Section(True, "", rows)


def _routing(now: datetime) -> tuple[Section, dict]:
    unrouted = inbound_unrouted()
    lag = unrouted.lag_seconds(now)
    facts = {
        "count": unrouted.count,
        "lag": lag,
        "lag_words": duration_words(lag) if unrouted.count else "none",
    }
    if lag > ROUTE_GRACE.total_seconds():
        problem = (
            f"{unrouted.count} message{'s' if unrouted.count != 1 else ''} from contacts waiting to be read; "
            f"the oldest for {duration_words(lag)}. People are not being answered."
        )
        return Section(False, problem), facts
    return Section(True), facts


def _senders() -> Section:
    rows = [(q, sender_throttled(q)) for q in sender_queues()]
    throttled = [q.label for q, slowed in rows if slowed]
    if throttled:
        return Section(
            True, f"Twilio asked {', '.join(throttled)} to slow down: its texts wait a moment.", rows
        )
    return Section(True, "", rows)


def _failing(now: datetime) -> Section:
    rows = [(f, twilio_error(f.code)) for f in outbound_failing(since=now - FAILING_WINDOW)]
    total = sum(f.count for f, _ in rows)
    if not total:
        return Section(True, "", rows)
    return Section(False, f"{total} text{'s' if total != 1 else ''} failed or went undelivered in the last "
                   "24 hours: see what each error means below.", rows)  # fmt: skip


def _jobs(now: datetime) -> Section:
    rows = []
    late = []
    for job in jobs_state():
        is_late = job.late(now)
        words = JOB_WORDS.get(job.job, job.job)
        if is_late:
            late.append(words.lower())
        every = duration_words(job.every.total_seconds()) if job.every else ""
        rows.append((job, words, _ago(job.last_success_at, now), is_late, every))
    if late:
        return Section(False, f"A periodic job has not run lately: {'; '.join(late)}.", rows)
    return Section(True, "", rows)


def health_view(request: HttpRequest) -> TemplateResponse:
    now = timezone.now()
    routing, routing_facts = _routing(now)
    sections = {
        "workers": _workers(now),
        "routing": routing,
        "senders": _senders(),
        "failing": _failing(now),
        "jobs": _jobs(now),
    }
    failed_url = None
    if request.user.has_perm("messaging.view_outboundmessage"):
        query = urlencode({"status__in": f"{DeliveryStatus.FAILED},{DeliveryStatus.UNDELIVERED}"})
        failed_url = reverse("admin:messaging_outboundmessage_changelist") + "?" + query
    context = {
        **admin.site.each_context(request),
        "title": "Health",
        "ok": all(s.ok for s in sections.values()),
        "problems": [s.problem for s in sections.values() if s.problem and not s.ok],
        "notes": [s.problem for s in sections.values() if s.problem and s.ok],
        **sections,
        "routing_facts": routing_facts,
        "waiting": outbound_waiting(),
        "failed_url": failed_url,
        "broker": bool(settings.CELERY_BROKER_URL),
        "in_process": not settings.CELERY_BROKER_URL and settings.IN_PROCESS_JOBS,
        "refresh": REFRESH_SECONDS,
    }
    return TemplateResponse(request, "cockpit/health.html", context)
