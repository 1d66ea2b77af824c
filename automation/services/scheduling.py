"""Time in the journey: expiry, reply timeouts. Owner: time (issue 4)."""

from datetime import datetime


def enrollment_prompt_sent(*, outbound_id: int, sent_at: datetime) -> None:
    """Called by messaging when a state's prompt was accepted by Twilio: if the enrollment
    is still in that state, start its reply timeout (later of prompt sent and last inbound)."""
    # Placeholder until issue 4: no timeouts yet.
    return None


def enrollment_expire_due(*, now: datetime | None = None, batch_size: int = 5000, dry_run: bool = False) -> int:
    """Expire every active enrollment whose expires_at has passed; return how many."""
    raise NotImplementedError


def enrollment_timeouts_fire(*, now: datetime | None = None, dry_run: bool = False) -> int:
    """Fire every due reply timeout; return how many."""
    raise NotImplementedError
