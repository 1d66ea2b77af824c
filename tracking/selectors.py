"""Reads of tracking's data that other apps' pages and /metrics use (docs/architecture.md §4)."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Min

from tracking.models import Interaction


@dataclass(frozen=True)
class Unrouted:
    """Inbound messages stored and not routed yet (none given up): how many, and when the
    oldest of them was stored (None when there is none)."""

    count: int
    oldest_at: datetime | None

    def lag_seconds(self, now: datetime) -> float:
        """How long the oldest has waited (0 when none waits)."""
        return max((now - self.oldest_at).total_seconds(), 0.0) if self.oldest_at else 0.0


def inbound_unrouted() -> Unrouted:
    """One aggregate query over the partial index ``tracking_inbound_unrouted`` (a small set:
    what the workers have not taken yet)."""
    found = Interaction.objects.filter(
        direction=Interaction.Direction.INBOUND, routed_at__isnull=True, route_failed_at__isnull=True
    ).aggregate(count=Count("id"), oldest_at=Min("created_at"))
    return Unrouted(count=found["count"] or 0, oldest_at=found["oldest_at"])
