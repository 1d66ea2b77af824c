"""The sending queue's figures (messaging.selectors) and how long sending takes in words
(messaging.durations): the page that shows them is tested in
automation/tests/test_sending_queue.py."""

from datetime import timedelta

import pytest
from django.utils import timezone

from messaging.durations import duration_words, send_duration_words, send_seconds
from messaging.models import Lane
from messaging.selectors import sender_queue_for, sender_queues
from messaging.senders import sender_save
from messaging.tests.factories import OutboundMessageFactory


@pytest.mark.parametrize(
    ("contacts", "segments", "mps", "said"),
    [
        (100_000, 1, 1, "about 29 hours"),  # 103,000 s: the pacing keeps a 3 % margin
        (100_000, 1, 100, "about 17 minutes"),  # a short code
        (420, 1, 1, "about 7 minutes"),
        (20_000, 1, 50, "about 7 minutes"),  # bench/campaign.py's 400 s
        (56, 1, 1, "under a minute"),  # 57.7 s
        (60, 1, 1, "about a minute"),
        (3_380, 1, 1, "about 58 minutes"),
        (3_480, 1, 1, "about an hour"),  # 59.7 minutes: said in hours
        (45, 2, 1, "about 2 minutes"),  # two segments a text: twice as long
        (100_000, 2, 1, "about 2 days"),
        (300_000, 1, 1, "about 4 days"),  # 3.6 days
        (0, 1, 1, "under a minute"),
    ],
)
def test_the_time_sending_takes_in_words(contacts, segments, mps, said):
    assert send_duration_words(contacts=contacts, segments_per_text=segments, mps=mps) == said


def test_durations_in_words_at_their_edges():
    assert [duration_words(s) for s in (0, 59.9, 89, 91, 3569, 3600, 5400, 47 * 3600, 48 * 3600)] == [
        "under a minute",
        "under a minute",
        "about a minute",
        "about 2 minutes",
        "about 59 minutes",
        "about an hour",
        "about 2 hours",
        "about 47 hours",
        "about 2 days",
    ]
    with pytest.raises(ValueError, match="more than 0"):
        send_seconds(segments=10, mps=0)


def _waiting(sender, lane, n, *, segments=1, **fields):
    return OutboundMessageFactory.create_batch(n, sender=sender, lane=lane, segments=segments, **fields)


@pytest.mark.django_db
def test_the_queue_per_sender_in_three_queries(django_assert_num_queries):
    now = timezone.now()
    main = sender_save(address="+14155550100", mps=1, name="Main line")  # TWILIO_FROM_NUMBER in tests
    short = sender_save(address="12345", mps=100, name="Campaign short code")
    support = sender_save(address="+15017122661", name="Support")  # no limit
    # The default: texts with no sender and texts from its own row count together.
    _waiting(None, Lane.REPLY, 2)
    _waiting(None, Lane.CAMPAIGN, 2, segments=2)
    _waiting(main, Lane.CAMPAIGN, 1, segments=3)
    _waiting(short, Lane.REPLY, 1)
    _waiting(short, Lane.CAMPAIGN, 4)
    _waiting(support, Lane.CAMPAIGN, 30)
    # Not in the queue: held (quiet hours), being handed over, sent.
    _waiting(short, Lane.CAMPAIGN, 1, status="held")
    _waiting(short, Lane.CAMPAIGN, 1, status="sending")
    # Accepted by Twilio in the last minute (the rate now), and before it (not counted).
    _waiting(short, Lane.CAMPAIGN, 3, segments=2, status="sent", sent_at=now - timedelta(seconds=10))
    _waiting(short, Lane.CAMPAIGN, 5, status="sent", sent_at=now - timedelta(seconds=90))
    _waiting(support, Lane.CAMPAIGN, 1, status="accepted", sent_at=now - timedelta(seconds=30))

    with django_assert_num_queries(3):
        queues = sender_queues(now=now)

    default, *others = queues
    assert [q.address for q in queues] == ["+14155550100", "+15017122661", "12345"]  # the default first
    assert (default.label, default.is_default, default.mps) == ("Main line (+14155550100) — default", True, 1)
    assert (default.reply_waiting, default.campaign_waiting) == (2, 3)
    assert (default.reply_segments, default.campaign_segments) == (2, 7)
    assert default.drain_seconds == pytest.approx(9 * 1.03)  # 2 + 7 segments at 1 a second, 3 % margin
    support_q, short_q = others
    assert (short_q.reply_waiting, short_q.campaign_waiting, short_q.segments_waiting) == (1, 4, 5)
    assert short_q.rate_now == pytest.approx(6 / 60)
    assert short_q.drain_seconds == pytest.approx(0.05 * 1.03)
    assert (short_q.kind, short_q.kind_label) == ("short_code", "Short code")
    # Unpaced: judged by the rate now — 30 segments at 1 a minute.
    assert (support_q.mps, support_q.campaign_waiting) == (None, 30)
    assert support_q.drained_in == "about 30 minutes"


@pytest.mark.django_db
def test_the_default_sender_without_a_row_and_as_a_messaging_service(settings):
    _waiting(None, Lane.CAMPAIGN, 2)
    (default,) = sender_queues()
    assert (default.label, default.kind_label, default.mps) == (
        "+14155550100 — default",
        "Phone number",
        None,
    )
    assert default.drained_in == "now"  # not paced, and nothing went out in the last minute

    settings.TWILIO_MESSAGING_SERVICE_SID = "MG" + "0" * 32
    (default,) = sender_queues()
    assert default.label == f"default (Messaging Service MG{'0' * 32})"
    assert default.kind_label == "Messaging Service"

    settings.TWILIO_MESSAGING_SERVICE_SID = ""
    settings.TWILIO_FROM_NUMBER = ""
    (default,) = sender_queues()
    assert default.label == "default (TWILIO_FROM_NUMBER is not set)"


@pytest.mark.django_db
def test_nothing_waiting_and_an_address_that_is_not_a_sender_yet():
    sender_save(address="12345", mps=100)
    queues = sender_queues()
    assert [q.drained_in for q in queues] == ["nothing waiting", "nothing waiting"]
    assert sender_queue_for(queues=queues, address=None).is_default
    assert sender_queue_for(queues=queues, address="12345").mps == 100
    unknown = sender_queue_for(queues=queues, address="whatsapp:+14155238886")
    assert (unknown.label, unknown.kind, unknown.mps) == (
        "whatsapp:+14155238886 (not a sender yet)",
        "whatsapp",
        None,
    )
