"""``GET /metrics`` (docs/reference.md §9): Prometheus' text format, for whoever holds
``METRICS_TOKEN`` (unset: 404; no or another bearer token: 401).

Every figure covers every web and worker process of every machine, so any scrape of any
web process sees the same:

- the counters and the reply histogram are read from the store every process counts into
  (``infra.metrics``: Redis with a broker, a file of the machine without one);
- the gauges are read from the database at scrape time, each with one aggregate query on an
  index (the waiting inbound messages, the texts waiting and why, each sender's queue, the
  periodic jobs' last successes, the workers seen) — plus, per sender, whether Twilio made
  it back off (the limiter's state, on Redis with a broker); enrollments by status, a pass
  over every enrollment, at most every 30 seconds (kept in the same store, so every process
  shows the same count: ``infra.metrics.snapshot``).

Wired here, in the project package, because it reads every app (docs/architecture.md §4).
prometheus-client writes the format (a registry of its own per scrape: none of the
library's per-process defaults, which would differ from one process to the next).
"""

from __future__ import annotations

import hmac
import logging

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from automation.selectors import enrollments_by_status
from infra.jobs import SEEN_RECENTLY, heartbeats, jobs_state
from infra.metrics import COUNTERS, REPLY_BUCKETS, REPLY_HELP, REPLY_SECONDS, counters_read, snapshot
from messaging.models import Lane
from messaging.selectors import outbound_waiting, sender_queues, sender_throttled
from tracking.selectors import inbound_unrouted

logger = logging.getLogger(__name__)


class StoredCounters:
    """The counters and the reply histogram, as every process counted them. When their store
    does not answer (Redis away), the scrape goes on without them: the gauges matter most then."""

    def collect(self):
        try:
            values = counters_read()
        except Exception as exc:
            logger.warning("metrics: the counters' store does not answer (%s); served without them", exc)
            return
        for name, (help_text, label, always) in COUNTERS.items():
            family = CounterMetricFamily(name, help_text, labels=[label] if label else None)
            seen = {key.split("|", 1)[1] for key in values if key.split("|", 1)[0] == name}
            for value in sorted(set(always) | seen):
                family.add_metric([value] if label else [], values.get(f"{name}|{value}", 0.0))
            yield family
        buckets, total = [], 0.0
        for le in [f"{b:g}" for b in REPLY_BUCKETS] + ["+Inf"]:
            total += values.get(f"{REPLY_SECONDS}|bucket|{le}", 0.0)
            buckets.append((le, total))
        yield HistogramMetricFamily(
            REPLY_SECONDS, REPLY_HELP, buckets=buckets, sum_value=values.get(f"{REPLY_SECONDS}|sum", 0.0)
        )


def _gauge(name: str, help_text: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, help_text, labels=labels)


class DatabaseGauges:
    """What is true now, read from the database (and the limiter) at scrape time."""

    def collect(self):
        now = timezone.now()
        unrouted = inbound_unrouted()
        yield GaugeMetricFamily(
            "smsjourney_unrouted_messages",
            "Inbound messages stored and not yet routed.",
            value=unrouted.count,
        )
        yield GaugeMetricFamily(
            "smsjourney_routing_lag_seconds",
            "Age of the oldest inbound message not yet routed (0 when none).",
            value=unrouted.lag_seconds(now),
        )
        waiting = _gauge(
            "smsjourney_outbound_waiting",
            "Texts not yet handed to Twilio: queued, held (quiet hours, state hours, the cap), paced, "
            "retrying.",
            ["reason"],
        )
        for reason, count in outbound_waiting().items():
            waiting.add_metric([reason], count)
        yield waiting
        yield from _sender_gauges()
        enrollments = _gauge("smsjourney_enrollments", "Enrollments by status.", ["status"])
        # A pass over every enrollment (bench/metrics.py: 0.27 s on 1,000,000): at most every 30 s.
        for status, count in snapshot("enrollments", enrollments_by_status).items():
            enrollments.add_metric([status], count)
        yield enrollments
        jobs = _gauge(
            "smsjourney_job_last_success_timestamp_seconds",
            "The last successful run of each periodic job (Unix time; 0: never).",
            ["job"],
        )
        for job in jobs_state():
            jobs.add_metric([job.job], job.last_success_at.timestamp() if job.last_success_at else 0.0)
        yield jobs
        seen = [h for h in heartbeats(now=now) if now - h.seen_at <= SEEN_RECENTLY]
        workers = _gauge(
            "smsjourney_workers_seen",
            "Processes doing the background work seen in the last two minutes (Celery workers; "
            "without a broker, web processes running the jobs).",
            ["kind"],
        )
        for kind in ("worker", "in_process"):
            workers.add_metric([kind], sum(1 for h in seen if h.kind == kind))
        yield workers


def _sender_gauges():
    """The send pipeline's queue per sender and lane, each sender's limit, and the senders
    Twilio made back off (messaging.selectors: three queries, one limiter read a sender)."""
    queues = sender_queues()
    waiting = _gauge(
        "smsjourney_sender_waiting",
        "Texts queued per sender and lane (reply: answers to a contact; campaign: plan and bulk texts).",
        ["sender", "lane"],
    )
    segments = _gauge(
        "smsjourney_sender_waiting_segments",
        "Segments those texts cost the sender's limit.",
        ["sender", "lane"],
    )
    limit = _gauge(
        "smsjourney_sender_mps", "The sender's limit in segments a second (0: not paced).", ["sender"]
    )
    rate = _gauge(
        "smsjourney_sender_rate",
        "Segments a second Twilio accepted from it over the last minute.",
        ["sender"],
    )
    throttled = _gauge(
        "smsjourney_sender_throttled",
        "1 while Twilio has the sender backing off (a 429 or a 63018), else 0.",
        ["sender"],
    )
    for q in queues:
        sender = q.address or "default"
        for lane, count, cost in (
            (Lane.REPLY.label.lower(), q.reply_waiting, q.reply_segments),
            (Lane.CAMPAIGN.label.lower(), q.campaign_waiting, q.campaign_segments),
        ):
            waiting.add_metric([sender, lane], count)
            segments.add_metric([sender, lane], cost)
        limit.add_metric([sender], q.mps or 0)
        rate.add_metric([sender], q.rate_now)
        throttled.add_metric([sender], 1 if sender_throttled(q) else 0)
    return [waiting, segments, limit, rate, throttled]


def _authorized(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode())


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not settings.METRICS_TOKEN:
        raise Http404("Metrics are not served here.")
    if not _authorized(request):
        response = HttpResponse("A bearer token is required.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoredCounters())
    registry.register(DatabaseGauges())
    try:
        body = generate_latest(registry)
    except Exception:
        logger.exception("metrics: a figure could not be read")
        return HttpResponse(
            "A figure could not be read; see the log.\n", status=503, content_type="text/plain"
        )
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
