"""Automation services, re-exported: `from automation.services import enrollment_route`."""

from automation.services.engine import enrollment_route
from automation.services.enrollments import enrollment_end, enrollment_enter_state, enrollment_start
from automation.services.plans import (
    plan_activate,
    plan_archive,
    plan_load_demo,
    plan_pause,
    plan_validate,
)
from automation.services.scheduling import (
    enrollment_expire_due,
    enrollment_prompt_sent,
    enrollment_timeouts_fire,
)

__all__ = [
    "enrollment_end",
    "enrollment_enter_state",
    "enrollment_expire_due",
    "enrollment_prompt_sent",
    "enrollment_route",
    "enrollment_start",
    "enrollment_timeouts_fire",
    "plan_activate",
    "plan_archive",
    "plan_load_demo",
    "plan_pause",
    "plan_validate",
]
