import re

from django.conf import settings
from django.db import models

# An event's type (docs/reference.md §7): what `POST /api/events/` takes, and what plans wait for,
# enter on and convert goals on.
EVENT_TYPE = re.compile(r"[a-z0-9_.-]{1,50}")
# The event a person's first click on a tracked link makes (docs/reference.md §7).
LINK_CLICK = "link_click"


class Goal(models.Model):
    """A marketing outcome worth points (Sitecore's goal + engagement value)."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    points = models.PositiveIntegerField(default=0, help_text="Engagement value added per conversion.")
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.points} pts)"


class Interaction(models.Model):
    """One message, inbound or outbound: the contact's timeline (Universal Tracker)."""

    class Channel(models.TextChoices):
        SMS = "sms", "SMS"
        WHATSAPP = "whatsapp", "WhatsApp"
        API = "api", "Event (API)"  # docs/reference.md §7: something the contact did elsewhere

    class Direction(models.TextChoices):
        INBOUND = "inbound", "Inbound"
        OUTBOUND = "outbound", "Outbound"

    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="interactions")
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.SMS)
    direction = models.CharField(max_length=16, choices=Direction.choices)
    # The addresses as Twilio gives them (E.164; later whatsapp:+E164, short codes): for an
    # inbound message From is the contact and To our sender, for an outbound one the reverse.
    from_address = models.CharField(max_length=64, blank=True, default="")
    to_address = models.CharField(max_length=64, blank=True, default="")
    body = models.TextField(blank=True)
    # [{"url": …, "content_type": …}] (MMS: Twilio's MediaUrlN and MediaContentTypeN).
    media = models.JSONField(default=list, blank=True)
    # Twilio's MessageSid. Unique: a redelivered inbound webhook is recognised by it.
    # Outbound messages get theirs when Twilio accepts them (NULL until then).
    provider_sid = models.CharField(max_length=64, unique=True, null=True, blank=True)
    enrollment = models.ForeignKey(
        "automation.Enrollment", null=True, blank=True, on_delete=models.SET_NULL, related_name="interactions"
    )
    raw_payload = models.JSONField(default=dict, blank=True)
    # An event (channel "api", docs/reference.md §7): the caller's idempotency key, unique per API
    # user who posted it (`posted_by`: two shops may both send order 1001; the same event
    # again changes nothing), its value (a purchase's amount: the plans' revenue) and its
    # data. Its type is the body. NULL for messages.
    # NULL, not "", for messages: the constraints below take NULLs as distinct.
    event_id = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    # The API user who posted the event; NULL for messages and for the events the product
    # makes itself (a first click on a tracked link, `link_click:<code>`; the simulator's),
    # whose ids are unique among themselves. An event's sender is part of its identity: a
    # user who posted events is deactivated, not deleted.
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    value = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    created_at = models.DateTimeField(db_index=True)
    # Inbound only: when the journey engine took the message (automation.engine.inbound.
    # inbound_message_route). NULL while it waits for a worker; outbound rows keep NULL.
    routed_at = models.DateTimeField(null=True, blank=True)
    # Inbound only: failed routings (the transaction rolled back each time); after a few the
    # message is given up (route_failed_at) and left for a person.
    # (database defaults: the webhook's one INSERT does not name them)
    route_attempts = models.PositiveSmallIntegerField(default=0, db_default=0)
    route_error = models.TextField(blank=True, default="", db_default="")
    route_failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["posted_by", "event_id"],
                condition=models.Q(posted_by__isnull=False),
                name="tracking_event_id_per_user",
            ),
            models.UniqueConstraint(
                fields=["event_id"],
                condition=models.Q(posted_by__isnull=True),
                name="tracking_event_id_product",
            ),
        ]
        indexes = [
            models.Index(fields=["contact", "created_at"]),
            # The sweeper's look-up of inbound messages no worker has routed (a small set).
            models.Index(
                fields=["created_at"],
                name="tracking_inbound_unrouted",
                condition=models.Q(direction="inbound", routed_at__isnull=True, route_failed_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        arrow = "←" if self.direction == self.Direction.INBOUND else "→"
        return f"{arrow} {self.body[:40]}"


class GoalConversion(models.Model):
    """A goal reached by a contact, at most once per enrollment."""

    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="goal_conversions")
    goal = models.ForeignKey(Goal, on_delete=models.PROTECT, related_name="conversions")
    enrollment = models.ForeignKey(
        "automation.Enrollment",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="goal_conversions",
    )
    interaction = models.ForeignKey(
        Interaction, null=True, blank=True, on_delete=models.SET_NULL, related_name="goal_conversions"
    )
    points = models.PositiveIntegerField(help_text="The goal's points when converted.")
    # The value of the event that converted it (a purchase's amount): the plan's revenue.
    value = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    occurred_at = models.DateTimeField()

    class Meta:
        ordering = ["occurred_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["enrollment", "goal"], name="goal_once_per_enrollment"),
        ]
        indexes = [models.Index(fields=["goal", "occurred_at"])]

    def __str__(self) -> str:
        return f"{self.goal.name} @ {self.occurred_at:%Y-%m-%d %H:%M}"


class TrackedLink(models.Model):
    """A link in one outbound message (docs/reference.md §7): the text carried
    ``<PUBLIC_BASE_URL>/l/<code>`` instead of `url`, one code per message and URL. The
    contact's first click is a ``link_click`` event; every click counts."""

    code = models.CharField(max_length=32, unique=True)
    url = models.URLField(max_length=2000)
    interaction = models.ForeignKey(Interaction, on_delete=models.CASCADE, related_name="links")
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="+")
    enrollment = models.ForeignKey(
        "automation.Enrollment",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tracked_links",
    )
    clicks = models.PositiveIntegerField(
        default=0, help_text="Clicks by people (link previews and HEAD left out)."
    )
    first_clicked_at = models.DateTimeField(null=True, blank=True)
    last_clicked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"/l/{self.code} → {self.url[:60]}"
