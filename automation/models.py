from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django_fsm import FSMField, transition


class Plan(models.Model):
    """A journey (Sitecore's Marketing Automation plan). What it does lives in its
    revisions (docs/reference.md §6): immutable once published; new enrollments take the latest
    published one (`published`), an enrollment keeps the one it started in."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        ARCHIVED = "archived", "Archived"

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    status = FSMField(max_length=16, choices=Status.choices, default=Status.DRAFT, protected=True)
    published = models.ForeignKey(
        "PlanRevision",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The revision new enrollments take.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["status"])]

    def __str__(self) -> str:
        return self.name

    # Lifecycle. `plan_activate` (services) checks there is a published revision first.
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


class PlanRevision(models.Model):
    """One version of a plan's document (docs/reference.md §6, in its normal form). A published
    revision never changes (``save`` refuses); at most one unpublished revision per plan
    is its draft, edited until it is published."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    document = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["plan", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "number"], name="revision_number_unique_in_plan"),
            models.UniqueConstraint(
                fields=["plan"], condition=models.Q(published_at__isnull=True), name="one_draft_per_plan"
            ),
        ]

    def __str__(self) -> str:
        state = "" if self.published_at else " (draft)"
        return f"{self.plan} revision {self.number}{state}"

    def save(self, *args, **kwargs):
        if self.pk is not None and kwargs.get("update_fields") is None:
            raise ValueError("Save a revision with update_fields: a published revision never changes.")
        super().save(*args, **kwargs)


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
    revision = models.ForeignKey(PlanRevision, on_delete=models.PROTECT, related_name="enrollments")
    step_id = models.CharField(max_length=50, help_text="The step of its revision it is at.")
    status = FSMField(
        max_length=16, choices=EnrollmentStatus.choices, default=EnrollmentStatus.ACTIVE, protected=True
    )
    enrolled_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    step_entered_at = models.DateTimeField()
    # Counts the steps entered: a timer or a web service's answer meant for an earlier
    # visit of a step is recognised and ignored.
    visit = models.PositiveIntegerField(default=0)
    # The step's timer: an ask's or wait_event's timeout, a delay's end. An ask's timeout
    # is armed when its text is sent and pushed on by every inbound message.
    prompt_sent_at = models.DateTimeField(null=True, blank=True)
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    timeout_at = models.DateTimeField(null=True, blank=True)
    other_count = models.PositiveSmallIntegerField(
        default=0, help_text="Unmatched replies answered at this visit of the step."
    )
    branches = models.JSONField(default=dict, blank=True, help_text="Split step id → the branch name taken.")
    end_reason = models.CharField(max_length=200, blank=True)
    # The sender the contact last wrote to in this journey (docs/reference.md §8); NULL until
    # they write: the plan's entry sender, else the default.
    sender = models.ForeignKey(
        "messaging.Sender", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

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
    """One step entered by an enrollment (or where it ended): the history behind the report
    (funnel, where contacts went from each step, A/B branches, answers) and timelines.

    A row says the enrollment came to `step_id` from `from_step_id` (empty on enrolling)
    `via` what; `value` is what made it go: the answer given at an ask step (`value_kind`
    number, choice or text; only that one was private, e.g. an email) or the branch taken
    at a split (`branch`). An end row (completed, expired, …) has `step_id` = the step it
    ended at. `plan` is the enrollment's, kept here so reports read a plan's rows without
    joining its enrollments (bench/report.py)."""

    class ValueKind(models.TextChoices):
        NUMBER = "number", "Number"
        CHOICE = "choice", "Choice"
        TEXT = "text", "Free text"
        PRIVATE = "private", "Private (not kept)"
        BRANCH = "branch", "Branch"

    class Via(models.TextChoices):
        ENROLL = "enroll", "Enrolled"
        REPLY = "reply", "Reply"
        TIMEOUT = "timeout", "Timer"
        EVENT = "event", "Event"
        HTTP = "http", "Web service answer"
        STEP = "step", "Went on at once"
        COMPLETE = "complete", "Completed"
        EXPIRY = "expiry", "Expired"
        OPT_OUT = "opt_out", "Opted out"
        EXIT = "exit", "Exited"
        FAIL = "fail", "Failed"

    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="steps")
    # Indexed by the report's indexes below (plan first): no index of its own.
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="+", db_index=False)
    step_id = models.CharField(max_length=50, blank=True)
    from_step_id = models.CharField(max_length=50, blank=True)
    via = models.CharField(max_length=16, choices=Via.choices)
    detail = models.CharField(max_length=200, blank=True, help_text="The branch taken, the value saved …")
    value = models.CharField(max_length=200, blank=True)
    value_kind = models.CharField(max_length=10, blank=True, choices=ValueKind.choices)
    interaction = models.ForeignKey(
        "tracking.Interaction", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    occurred_at = models.DateTimeField()

    class Meta:
        ordering = ["occurred_at", "id"]
        indexes = [
            models.Index(fields=["plan", "step_id", "enrollment"]),
            models.Index(fields=["enrollment", "occurred_at"]),
            # The report's branches and answers (bench/report.py): only rows that carry one.
            models.Index(
                fields=["plan", "value_kind", "from_step_id", "value", "enrollment"],
                name="step_values_idx",
                condition=~models.Q(value_kind=""),
            ),
            models.Index(
                fields=["plan", "-occurred_at"], name="step_texts_idx", condition=models.Q(value_kind="text")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_via_display()} → {self.step_id}"

    def save(self, *args, **kwargs):
        if self.plan_id is None and self.enrollment_id is not None:
            self.plan_id = self.enrollment.plan_id
        super().save(*args, **kwargs)


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
    skipped_no_consent = models.PositiveIntegerField(
        default=0, help_text="Contacts without marketing consent on record: not enrolled."
    )
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
    branches = models.JSONField(
        default=dict, blank=True, help_text="The marketer's choice at A/B splits: split step id → branch."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["plan", "user"], name="one_simulator_contact_per_plan_and_user")
        ]

    def __str__(self) -> str:
        return f"Test contact of {self.user} for {self.plan}"


class HttpSecret(models.Model):
    """A value a plan's `http` step sends as a header without the plan holding it (an API
    key): the plan names it (`{"Authorization": {"secret": "shop-api-key"}}`, docs/reference.md §6),
    so exports, revisions and their diffs carry the name only. Only users given its
    permissions (superusers; not the Marketers group) see this model, and its admin never
    shows a value back."""

    name = models.CharField(
        max_length=100,
        unique=True,
        validators=[RegexValidator(r"\A[a-z0-9][a-z0-9-]{0,99}\Z", "Lower-case letters, digits and -.")],
        help_text="What plans call it, e.g. shop-api-key.",
    )
    value = models.CharField(max_length=2000, help_text="The whole header value, e.g. Bearer sk_live_…")
    note = models.CharField(max_length=200, blank=True, help_text="What it is for, whose it is.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "web service secret"

    def __str__(self) -> str:
        return self.name


# The roll-ups the report and the dashboard read have a module of their own.
from automation.rollups import DashboardDay, ReportDay  # noqa: E402, F401
