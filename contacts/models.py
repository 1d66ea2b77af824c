from django.conf import settings
from django.db import models
from django.db.models import Value

from contacts.phone import phone_normalize


class Contact(models.Model):
    """A person we text, keyed by their E.164 phone number (xConnect's contact)."""

    phone = models.CharField(max_length=20, unique=True, help_text="E.164, e.g. +14155550100")
    # Every column but the phone and the timestamps also has a database default (db_default):
    # the inbound webhook creates a new number's contact inside its one INSERT statement
    # (tracking.services), which names only those three. The ORM still uses `default`.
    first_name = models.CharField(max_length=100, blank=True, default="", db_default="")
    last_name = models.CharField(max_length=100, blank=True, default="", db_default="")
    email = models.EmailField(blank=True, default="", db_default="")
    timezone = models.CharField(
        max_length=64,
        blank=True,
        default="",
        db_default="",
        help_text="IANA name, e.g. America/New_York. Empty: implied by the number.",
    )
    locale = models.CharField(max_length=16, blank=True, default="", db_default="")
    opted_out = models.BooleanField(default=False, db_default=False)
    opted_out_at = models.DateTimeField(null=True, blank=True)
    consent_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When marketing consent was recorded (its source is in the consent log). "
        "Empty: none — no plan entered by an event, no bulk or manual enrollment texts them.",
    )
    attributes = models.JSONField(
        default=dict,
        db_default=Value({}, output_field=models.JSONField()),
        blank=True,
        help_text="Custom attributes.",
    )
    engagement_value = models.IntegerField(
        default=0, db_default=0, help_text="Sum of the points of goals converted."
    )
    is_test = models.BooleanField(
        default=False,
        db_default=False,
        help_text="A simulator contact: never texted for real, left out of reports.",
    )
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["last_name", "first_name"]),
            # The few simulator contacts, left out of reports (automation.cockpit.reports) cheaply.
            models.Index(fields=["id"], name="contact_is_test_idx", condition=models.Q(is_test=True)),
        ]

    def __str__(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return f"{name} ({self.phone})" if name else self.phone

    @property
    def consent(self) -> str:
        """Whether marketing texts may be sent (docs/reference.md §3, §5): opted_out, opted_in or none."""
        if self.opted_out:
            return "opted_out"
        return "opted_in" if self.consent_at else "none"

    def clean(self) -> None:
        super().clean()
        if self.phone:
            from django.core.exceptions import ValidationError

            try:
                self.phone = phone_normalize(self.phone)
            except ValidationError as exc:
                raise ValidationError({"phone": exc.messages}) from exc


class ConsentEvent(models.Model):
    """The consent log: every opt-out, opt-in and consent, who or what caused it, and when.
    An opt-in (an opt-out taken back) is only ever the contact's own message (source
    keyword); consent a person records has their name and its reason (detail)."""

    class Kind(models.TextChoices):
        OPT_OUT = "opt_out", "Opted out"
        OPT_IN = "opt_in", "Opted in"
        CONSENT = "consent", "Gave marketing consent"

    class Source(models.TextChoices):
        KEYWORD = "keyword", "Keyword from the contact"
        REVOCATION = "revocation", "Message asking to stop (any wording)"
        API = "api", "API"
        EVENT = "event", "Event with opt_in"
        ADMIN = "admin", "Admin"
        CARRIER = "carrier", "Carrier error (21610)"
        IMPORT = "import", "Import"

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="consent_events")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    source = models.CharField(max_length=16, choices=Source.choices)
    detail = models.CharField(max_length=200, blank=True, help_text="The keyword, error code, …")
    text = models.TextField(blank=True, help_text="The contact's message, exactly as it came.")
    rule = models.CharField(max_length=100, blank=True, help_text="Which rule recognised it.")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(
        max_length=200,
        blank=True,
        help_text="The person who recorded it, by name (kept when their user is deleted).",
    )
    occurred_at = models.DateTimeField()

    class Meta:
        ordering = ["occurred_at", "id"]
        indexes = [models.Index(fields=["contact", "occurred_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} via {self.get_source_display()}"


class ContactImport(models.Model):
    """A file of contacts imported in the background (contacts.imports), with its progress:
    first every row is checked (nothing is written when one is bad), then the contacts are
    written in batches."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        CHECKING = "checking", "Checking the rows"
        IMPORTING = "importing", "Importing"
        DONE = "done", "Done"
        FAILED = "failed", "Refused (nothing imported)"

    file_name = models.CharField(max_length=200, blank=True)
    file_format = models.CharField(max_length=8)
    content = models.TextField(help_text="The uploaded file, as text (emptied once imported).")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0, help_text="Rows in the file.")
    processed = models.PositiveIntegerField(default=0, help_text="Rows checked or written so far.")
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    problems = models.JSONField(default=list, blank=True, help_text="Why the file was refused.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "contact import"

    def __str__(self) -> str:
        return f"Import #{self.pk} {self.file_name}".strip()

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        # Checking is the first half of the work, writing the second.
        done = self.processed + (self.total if self.status == self.Status.IMPORTING else 0)
        return int(100 * done / (2 * self.total)) if self.total else 0
