"""The report's rows and figures (plain data; `automation.cockpit.reports` fills them)."""

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from automation.models import EnrollmentStatus, Plan

SIGNIFICANCE = 0.05
MIN_PER_BRANCH = 30
LATEST_TEXTS = 5
LATEST_POOL = 500  # the plan's latest free texts the report picks each step's from
MAX_COUNTED = 12  # values shown per ask step (the most frequent)
MAX_LINKS = 20  # tracked URLs shown (the most clicked)
# Ways an enrollment moves from one step to another (the other vias end it or start it).
MOVES = ("reply", "timeout", "event", "http", "step")

OUTCOMES = [
    EnrollmentStatus.ACTIVE,
    EnrollmentStatus.COMPLETED,
    EnrollmentStatus.EXPIRED,
    EnrollmentStatus.OPTED_OUT,
    EnrollmentStatus.EXITED,
    EnrollmentStatus.FAILED,
]


@dataclass
class FunnelRow:
    """A step: how many enrollments reached it, and where they went from it."""

    step_id: str
    name: str
    is_start: bool
    is_final: bool
    reached: int
    percent: float  # of the enrollments in the cohort
    kind: str = ""
    went: list[tuple[str, int]] = field(default_factory=list)  # (where, how many), most first


@dataclass
class BranchRow:
    name: str
    weight: float
    enrolled: int
    goals: list[tuple[str, int, float, float | None]]  # (goal, reached, rate %, p-value vs. first)
    revenue: Decimal | None = None  # the value of the events that converted its goals

    def significant(self, p: float | None, others: int) -> bool:
        return p is not None and p < SIGNIFICANCE and min(self.enrolled, others) >= MIN_PER_BRANCH


@dataclass
class SplitReport:
    step_id: str
    name: str
    branches: list[BranchRow]
    goal_names: list[str]


@dataclass
class AnswerReport:
    step_id: str
    name: str
    counts: list[tuple[str, int]] = field(default_factory=list)  # numbers and words, most first
    texts: list[str] = field(default_factory=list)  # the latest free texts
    private: int = 0  # emails and phones: counted, not shown
    total: int = 0


@dataclass
class GoalRow:
    goal_id: int
    name: str
    conversions: int
    points: int
    revenue: Decimal | None = None  # the value of the events that converted it (None: none had one)


@dataclass
class LinkRow:
    """A tracked URL of the plan's texts: in how many messages it went, how many of them
    were clicked (by a person: previews are not counted), and the clicks in all."""

    url: str
    sent: int
    clicked: int
    clicks: int

    @property
    def rate(self) -> float:
        return percent_of(self.clicked, self.sent)


@dataclass
class DeliveryRow:
    status: str
    label: str
    count: int
    percent: float


@dataclass
class PlanReport:
    plan: Plan
    date_from: date | None
    date_to: date | None
    enrolled: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)  # status value → count
    funnel: list[FunnelRow] = field(default_factory=list)
    goals: list[GoalRow] = field(default_factory=list)
    engagement_value: int = 0
    delivery: list[DeliveryRow] = field(default_factory=list)
    messages: int = 0
    # How the messages went (priced apart): SMS (per segment), MMS (with media, per
    # message), WhatsApp (per message).
    sms: int = 0
    sms_segments: int = 0
    mms: int = 0
    whatsapp: int = 0
    splits: list[SplitReport] = field(default_factory=list)
    answers: list[AnswerReport] = field(default_factory=list)
    links: list[LinkRow] = field(default_factory=list)
    counted_at: datetime | None = None  # the daily roll-up's last run (None: all counted now)
    trend: Any = None  # a reports.trends.Trend: per day (or week) of the range
    messages_by_step: list[Any] = field(default_factory=list)  # reports.messages.MessageRow

    @property
    def outcome_rows(self) -> list[tuple[str, str, int]]:
        return [(s.value, s.label, self.outcomes.get(s.value, 0)) for s in OUTCOMES]

    @property
    def conversions(self) -> int:
        return sum(g.conversions for g in self.goals)

    @property
    def revenue(self) -> Decimal | None:
        """The value of the events (docs/reference.md §7: a purchase's amount) that converted the
        plan's goals; None when no conversion carried one."""
        values = [g.revenue for g in self.goals if g.revenue is not None]
        return sum(values, Decimal(0)) if values else None

    @property
    def has_revenue(self) -> bool:
        return self.revenue is not None or any(b.revenue is not None for s in self.splits for b in s.branches)


def percent_of(part: int, whole: int) -> float:
    """`part` as a percentage of `whole`, to one decimal (0 of nothing)."""
    return round(100.0 * part / whole, 1) if whole else 0.0
