from datetime import timedelta

from django.conf import settings
from django.db import models
from django_fsm import FSMField, transition


class Plan(models.Model):
    """A journey (Sitecore's Marketing Automation plan): states joined by keyword transitions."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        ARCHIVED = "archived", "Archived"

    class EntryTrigger(models.TextChoices):
        ANY = "any", "Any message from a contact with no active enrollment in it"
        KEYWORD = "keyword", "One of the entry keywords"

    class Reentry(models.TextChoices):
        AFTER_END = "after_end", "Again once the previous enrollment has ended"
        NEVER = "never", "Only once per contact"

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    status = FSMField(max_length=16, choices=Status.choices, default=Status.DRAFT, protected=True)
    entry_trigger = models.CharField(
        max_length=16, choices=EntryTrigger.choices, default=EntryTrigger.KEYWORD
    )
    entry_keywords = models.CharField(
        max_length=200, blank=True, help_text="Comma-separated single words, e.g. JOIN, DEAL."
    )
    reentry = models.CharField(max_length=16, choices=Reentry.choices, default=Reentry.AFTER_END)
    interrupts_other_plans = models.BooleanField(
        default=True,
        help_text="An entry keyword of this plan ends the contact's enrollment in another plan (as exited).",
    )
    enrollment_lifetime = models.DurationField(
        default=timedelta(days=7), help_text="Enrollments expire this long after enrolling."
    )
    expiry_text = models.TextField(blank=True, help_text="Optional text sent when an enrollment expires.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["status"])]

    def __str__(self) -> str:
        return self.name

    # Lifecycle. `plan_activate` (services) validates before calling activate().
    @transition(
        field=status,
        source=[Status.DRAFT, Status.PAUSED],
        target=Status.ACTIVE,
        custom={"label": "Activate", "admin": True},
    )
    def activate(self) -> None:
        pass

    @transition(
        field=status, source=Status.ACTIVE, target=Status.PAUSED, custom={"label": "Pause", "admin": True}
    )
    def pause(self) -> None:
        pass

    @transition(
        field=status,
        source=[Status.DRAFT, Status.ACTIVE, Status.PAUSED],
        target=Status.ARCHIVED,
        custom={"label": "Archive", "admin": True},
    )
    def archive(self) -> None:
        pass


class PlanState(models.Model):
    """A step of a plan: what to send and which goal to record on entry, how long to wait."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="states")
    name = models.CharField(max_length=100)
    position = models.PositiveSmallIntegerField(default=0)
    is_start = models.BooleanField(default=False, help_text="Where new enrollments begin.")
    is_final = models.BooleanField(default=False, help_text="Entering it completes the enrollment.")
    message = models.ForeignKey(
        "messaging.SmsMessage", null=True, blank=True, on_delete=models.PROTECT, related_name="states"
    )
    goal = models.ForeignKey(
        "tracking.Goal", null=True, blank=True, on_delete=models.PROTECT, related_name="states"
    )
    fallback_text = models.TextField(
        blank=True, help_text="Sent (at most once per visit) when a reply matches no transition."
    )
    timeout = models.DurationField(
        null=True,
        blank=True,
        help_text="Silence after the prompt is sent before moving to the timeout state.",
    )
    timeout_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="timeout_from"
    )

    class Meta:
        ordering = ["plan", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "name"], name="state_name_unique_in_plan"),
            models.UniqueConstraint(
                fields=["plan"], condition=models.Q(is_start=True), name="one_start_state_per_plan"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Transition(models.Model):
    """Move from one state to another when a reply matches."""

    class Match(models.TextChoices):
        KEYWORD = "keyword", "The whole reply is the keyword"
        FIRST_WORD = "first_word", "The first word is the keyword"
        CONTAINS = "contains", "The reply contains the word"
        REGEX = "regex", "The reply matches the regular expression"
        ANY = "any", "Any reply"

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="transitions")
    from_state = models.ForeignKey(PlanState, on_delete=models.CASCADE, related_name="transitions_out")
    to_state = models.ForeignKey(PlanState, on_delete=models.CASCADE, related_name="transitions_in")
    match = models.CharField(max_length=16, choices=Match.choices, default=Match.KEYWORD)
    pattern = models.CharField(
        max_length=200,
        blank=True,
        help_text=(
            "The keyword (one word), or a regular expression. A regular expression is matched "
            "against the normalised reply: trimmed, punctuation and symbols at both ends removed, "
            "spaces collapsed, upper-cased — and case-insensitively; use ^…$ to match the whole "
            "reply (without them, [1-3] also matches “10”). Back-references and look-arounds "
            "are not available."
        ),
    )
    priority = models.SmallIntegerField(default=0, help_text="Lower is tried first.")
    goal = models.ForeignKey(
        "tracking.Goal", null=True, blank=True, on_delete=models.PROTECT, related_name="transitions"
    )

    class Meta:
        ordering = ["from_state", "priority", "id"]

    def __str__(self) -> str:
        return f"{self.from_state} —{self.pattern or self.match}→ {self.to_state}"


class EnrollmentStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    EXPIRED = "expired", "Expired"
    OPTED_OUT = "opted_out", "Opted out"
    EXITED = "exited", "Exited"
    FAILED = "failed", "Failed"


class Enrollment(models.Model):
    """A contact's way through a plan. Status moves only through its transitions."""

    Status = EnrollmentStatus

    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="enrollments")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="enrollments")
    current_state = models.ForeignKey(PlanState, on_delete=models.PROTECT, related_name="enrollments")
    status = FSMField(
        max_length=16, choices=EnrollmentStatus.choices, default=EnrollmentStatus.ACTIVE, protected=True
    )
    enrolled_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    state_entered_at = models.DateTimeField()
    # Reply timeout: set once the state's prompt is sent; pushed on by every inbound message.
    prompt_sent_at = models.DateTimeField(null=True, blank=True)
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    timeout_at = models.DateTimeField(null=True, blank=True)
    fallback_sent = models.BooleanField(
        default=False, help_text="The current state's fallback text went out."
    )
    end_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["enrolled_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["contact", "plan"],
                condition=models.Q(status="active"),
                name="one_active_enrollment_per_contact_plan",
            ),
        ]
        indexes = [
            models.Index(
                fields=["expires_at"],
                name="enrollment_active_expiry_idx",
                condition=models.Q(status="active"),
            ),
            models.Index(
                fields=["timeout_at"],
                name="enrollment_active_timeout_idx",
                condition=models.Q(status="active", timeout_at__isnull=False),
            ),
            models.Index(fields=["contact", "status"]),
            models.Index(fields=["plan", "status"]),
            models.Index(fields=["plan", "enrolled_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.contact} in {self.plan} [{self.status}]"

    # Transitions change state only — services do the I/O around them.
    @transition(field=status, source=EnrollmentStatus.ACTIVE, target=EnrollmentStatus.COMPLETED)
    def complete(self) -> None:
        pass

    @transition(field=status, source=EnrollmentStatus.ACTIVE, target=EnrollmentStatus.EXPIRED)
    def expire(self) -> None:
        pass

    @transition(field=status, source=EnrollmentStatus.ACTIVE, target=EnrollmentStatus.OPTED_OUT)
    def opt_out(self) -> None:
        pass

    @transition(field=status, source=EnrollmentStatus.ACTIVE, target=EnrollmentStatus.EXITED)
    def exit(self) -> None:
        pass

    @transition(field=status, source=EnrollmentStatus.ACTIVE, target=EnrollmentStatus.FAILED)
    def fail(self) -> None:
        pass


class EnrollmentStep(models.Model):
    """One state entered by an enrollment: the history behind funnels and timelines."""

    class Via(models.TextChoices):
        ENROLL = "enroll", "Enrolled"
        REPLY = "reply", "Reply"
        TIMEOUT = "timeout", "Timeout"
        EXPIRY = "expiry", "Expired"
        OPT_OUT = "opt_out", "Opted out"
        EXIT = "exit", "Exited"
        FAIL = "fail", "Failed"

    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="steps")
    state = models.ForeignKey(
        PlanState, null=True, blank=True, on_delete=models.SET_NULL, related_name="steps"
    )
    via = models.CharField(max_length=16, choices=Via.choices)
    interaction = models.ForeignKey(
        "tracking.Interaction", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    occurred_at = models.DateTimeField()

    class Meta:
        ordering = ["occurred_at", "id"]
        indexes = [
            models.Index(fields=["state", "enrollment"]),
            models.Index(fields=["enrollment", "occurred_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_via_display()} → {self.state}"


class BulkEnrollmentJob(models.Model):
    """Enrolling many contacts in a plan at once (admin action or CSV segment), run in
    Celery batches; the counters show its progress."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"

    class Source(models.TextChoices):
        SELECTION = "selection", "Contacts selected in the admin"
        CSV = "csv", "CSV segment"

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="bulk_jobs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.SELECTION)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0, help_text="Contacts to process.")
    processed = models.PositiveIntegerField(default=0)
    enrolled = models.PositiveIntegerField(default=0)
    skipped_opted_out = models.PositiveIntegerField(default=0)
    skipped_enrolled = models.PositiveIntegerField(
        default=0, help_text="Already enrolled (or a once-only plan)."
    )
    skipped_other = models.PositiveIntegerField(
        default=0, help_text="Test contacts, plan not active, errors."
    )
    not_found = models.PositiveIntegerField(default=0, help_text="CSV phone numbers with no contact.")
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "bulk enrollment"

    def __str__(self) -> str:
        return f"Bulk enrollment #{self.pk} in {self.plan}"

    @property
    def percent(self) -> int:
        return int(100 * self.processed / self.total) if self.total else 100


class BulkEnrollmentBatch(models.Model):
    """A batch of a bulk enrollment job whose counts were added to the job: a batch task
    delivered twice (acks_late, a worker restart) adds its counts once."""

    job = models.ForeignKey(BulkEnrollmentJob, on_delete=models.CASCADE, related_name="batches")
    index = models.PositiveIntegerField()
    counted_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "index"], name="bulk_batch_counted_once")]

    def __str__(self) -> str:
        return f"Batch {self.index} of {self.job}"


class SimulatorContact(models.Model):
    """A test contact the simulator made for one marketer trying one plan. Only the
    simulator creates these rows, and "Reset" deletes only a contact that has one: no field
    a marketer can edit (``is_test``, ``attributes``) makes a real contact resettable."""

    contact = models.OneToOneField("contacts.Contact", on_delete=models.CASCADE, related_name="simulator")
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="simulator_contacts")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["plan", "user"], name="one_simulator_contact_per_plan_and_user")
        ]

    def __str__(self) -> str:
        return f"Test contact of {self.user} for {self.plan}"


class PlanGraphStamp(models.Model):
    """One row whose `token` changes whenever any row of the journey graph changes: a plan,
    a state, a transition, an SMS message type or a goal — by any path (admin, services,
    ``QuerySet.update()``, ``loaddata``, SQL), because database triggers rewrite it
    (migration ``plan_graph_version``), in the writing transaction.

    The per-process graph cache (``automation.graph``) is valid while the token it was
    built under is the one the database holds; routing reads it in queries it runs
    anyway. No row (e.g. after a test flush) means "no cache": the graph is read afresh."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    token = models.BigIntegerField()

    class Meta:
        verbose_name = "plan graph stamp"

    def __str__(self) -> str:
        return f"graph stamp {self.token}"
