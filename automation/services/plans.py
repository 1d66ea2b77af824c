"""Plan authoring services. Owner: admin (issue 2)."""

from automation.models import Plan


def plan_validate(*, plan: Plan) -> list[str]:
    """Everything that keeps `plan` from working, as sentences that say what to fix."""
    raise NotImplementedError


def plan_activate(*, plan: Plan) -> Plan:
    raise NotImplementedError


def plan_pause(*, plan: Plan) -> Plan:
    raise NotImplementedError


def plan_archive(*, plan: Plan) -> Plan:
    raise NotImplementedError


def plan_load_demo() -> Plan:
    """Create or update the `quote-and-buy` demo plan exactly as CONTRACT §4 says (idempotent)."""
    raise NotImplementedError
