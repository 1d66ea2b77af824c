from django.db import models
from django_fsm import FSMField, transition


class DeliveryStatus(models.TextChoices):
    HELD = "held", "Held (sending hours, frequency cap)"
    QUEUED = "queued", "Queued (waiting to be sent)"
    SENDING = "sending", "Sending"
    ACCEPTED = "accepted", "Accepted by Twilio (not sent yet)"
    SENT = "sent", "Sent"
    PARTIALLY_DELIVERED = "partially_delivered", "Partially delivered"
    DELIVERED = "delivered", "Delivered"
    READ = "read", "Read"
    UNDELIVERED = "undelivered", "Undelivered"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Canceled (not sent)"


# How far along a status is; a status callback never moves a message to a lower rank (a
# late "sent" after "delivered" is ignored, so is a "delivered" after "read").
STATUS_RANK = {
    DeliveryStatus.HELD: 0,
    DeliveryStatus.QUEUED: 1,
    DeliveryStatus.SENDING: 2,
    DeliveryStatus.ACCEPTED: 3,
    DeliveryStatus.SENT: 4,
    DeliveryStatus.PARTIALLY_DELIVERED: 5,
    DeliveryStatus.DELIVERED: 6,
    DeliveryStatus.UNDELIVERED: 6,
    DeliveryStatus.FAILED: 6,
    DeliveryStatus.CANCELED: 6,
    DeliveryStatus.READ: 7,
}


class Lane(models.IntegerChoices):
    """Which of a sender's two queues a message waits in (docs/architecture.md §3): a text
    that answers the contact's own message goes ahead of every plan and bulk text."""

    REPLY = 0, "Reply"
    CAMPAIGN = 1, "Campaign"


class OutboundMessage(models.Model):
    """Delivery of one outbound interaction: where it goes, why, and how far it got."""

    class Purpose(models.TextChoices):
        PROMPT = "prompt", "Step text"
        FALLBACK = "fallback", "Fallback (unmatched reply)"
        REMINDER = "reminder", "Reminder (timeout)"
        EXPIRY = "expiry", "Expiry text"
        HELP = "help", "Help answer"
        OPT_OUT_CONFIRMATION = "opt_out_confirmation", "Opt-out confirmation"
        OPT_IN_CONFIRMATION = "opt_in_confirmation", "Opt-in confirmation"
        BULK = "bulk", "Bulk / campaign"

    interaction = models.OneToOneField(
        "tracking.Interaction", on_delete=models.CASCADE, related_name="outbound"
    )
    contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.CASCADE, related_name="outbound_messages"
    )
    enrollment = models.ForeignKey(
        "automation.Enrollment",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="outbound_messages",
    )
    # The plan step whose text this is ("" for help answers, bulk texts …).
    step_id = models.CharField(max_length=50, blank=True, default="")
    purpose = models.CharField(max_length=32, choices=Purpose.choices)
    to_number = models.CharField(max_length=40)
    from_number = models.CharField(max_length=40, blank=True)
    # The sender it goes from (NULL: the default, TWILIO_FROM_NUMBER or the Messaging Service).
    sender = models.ForeignKey(
        "messaging.Sender", null=True, blank=True, on_delete=models.PROTECT, related_name="outbound_messages"
    )
    lane = models.PositiveSmallIntegerField(choices=Lane.choices, default=Lane.CAMPAIGN)
    # What it costs the sender's limit: SMS segments (an MMS or a WhatsApp message: 1).
    segments = models.PositiveSmallIntegerField(default=1)
    # WhatsApp outside the 24-hour window: the approved template sent instead of the text.
    content_sid = models.CharField(max_length=34, blank=True)
    content_variables = models.JSONField(default=dict, blank=True)
    media_urls = models.JSONField(default=list, blank=True, help_text="Image URLs sent with it (MMS).")
    answers_contact = models.BooleanField(
        default=False, help_text="A reply to the contact's own message: quiet hours do not apply."
    )
    # The first text answering a contact's message: when that message was stored. Its
    # acceptance by Twilio is the reply time /metrics shows (docs/reference.md §9).
    reply_to_at = models.DateTimeField(null=True, blank=True)
    status = FSMField(max_length=24, choices=DeliveryStatus.choices, default=DeliveryStatus.QUEUED)
    send_after = models.DateTimeField(
        null=True, blank=True, help_text="Held until then (quiet hours, frequency cap, retry backoff)."
    )
    hold_reason = models.CharField(
        max_length=200, blank=True, help_text="Why it was held (the timeline says so)."
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    # While SENDING: until when the worker that took it holds it; past that (the worker was
    # killed, its task lost) the release job queues it again.
    lease_until = models.DateTimeField(null=True, blank=True)
    error_code = models.CharField(max_length=16, blank=True)
    error_message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True, help_text="When Twilio accepted it.")
    status_updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            # The release job: messages waiting for their time to come.
            models.Index(
                fields=["send_after"],
                name="outbound_waiting_idx",
                condition=models.Q(status__in=["held", "queued"]),
            ),
            # The loop guard: same text to the same contact recently.
            models.Index(fields=["contact", "created_at"], name="outbound_contact_recent_idx"),
            # The dispatcher: a sender's queued messages, the reply lane first, oldest first.
            models.Index(
                fields=["sender", "lane", "id"],
                name="outbound_dispatch_idx",
                condition=models.Q(status="queued"),
            ),
            # The rate now (messaging.selectors.sender_queues): texts Twilio accepted lately.
            models.Index(fields=["sent_at"], name="outbound_sent_at_idx"),
            # The dashboard's replies and failing sends of a day (automation.cockpit.dashboard_figures).
            models.Index(fields=["created_at"], name="outbound_created_idx"),
            # One contact's texts in order: the ones not handed to Twilio yet.
            models.Index(
                fields=["contact", "id"],
                name="outbound_contact_unsent_idx",
                condition=models.Q(status__in=["queued", "sending"]),
            ),
        ]

    def __str__(self) -> str:
        return f"→ {self.to_number} [{self.status}]"

    # Transitions change state only; no I/O here (services do that).
    @transition(
        field=status, source=[DeliveryStatus.HELD, DeliveryStatus.QUEUED], target=DeliveryStatus.QUEUED
    )
    def release(self) -> None:
        pass

    @transition(field=status, source=[DeliveryStatus.QUEUED], target=DeliveryStatus.SENDING)
    def start_sending(self) -> None:
        self.attempts += 1

    @transition(field=status, source=[DeliveryStatus.SENDING], target=DeliveryStatus.QUEUED)
    def retry_later(self) -> None:
        pass

    @transition(
        field=status,
        source=[DeliveryStatus.HELD, DeliveryStatus.QUEUED, DeliveryStatus.SENDING],
        target=DeliveryStatus.CANCELED,
    )
    def cancel(self) -> None:
        pass

    @transition(
        field=status, source=[DeliveryStatus.QUEUED, DeliveryStatus.SENDING], target=DeliveryStatus.FAILED
    )
    def fail(self) -> None:
        pass


class Sender(models.Model):
    """An address Twilio delivers our messages to and sends from (docs/reference.md §8): an
    E.164 number, a short code or a WhatsApp number; optionally behind a Messaging Service,
    and paced to its carrier limit (`mps`, segments a second; empty: no limit)."""

    class Kind(models.TextChoices):
        NUMBER = "number", "Phone number"
        SHORT_CODE = "short_code", "Short code"
        WHATSAPP = "whatsapp", "WhatsApp"

    address = models.CharField(
        max_length=40, unique=True, help_text="+15017122661, 12345 or whatsapp:+15017122661"
    )
    kind = models.CharField(max_length=12, choices=Kind.choices)
    name = models.CharField(max_length=100, blank=True)
    messaging_service_sid = models.CharField(
        "Messaging Service SID", max_length=34, blank=True, help_text="MG and 32 hex digits; empty: none"
    )
    mps = models.PositiveIntegerField(
        "messages per second",
        null=True,
        blank=True,
        help_text="Segments a second Twilio is handed from this sender at most; empty: no limit.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["address"]

    def __str__(self) -> str:
        return f"{self.name} ({self.address})" if self.name else self.address
