"""Automation services, re-exported: `from automation.services import enrollment_route`."""

from automation.services.engine import enrollment_route
from automation.services.enrollments import enrollment_end
from automation.services.interpreter import enrollment_advance, enrollment_start
from automation.services.plans import (
    plan_activate,
    plan_archive,
    plan_export,
    plan_import,
    plan_load_demo,
    plan_pause,
    plan_publish,
)
from automation.services.scheduling import (
    enrollment_expire_due,
    enrollment_prompt_sent,
    enrollment_timeouts_fire,
)

__all__ = [
    "enrollment_advance",
    "enrollment_end",
    "enrollment_expire_due",
    "enrollment_prompt_sent",
    "enrollment_route",
    "enrollment_start",
    "enrollment_timeouts_fire",
    "plan_activate",
    "plan_archive",
    "plan_export",
    "plan_import",
    "plan_load_demo",
    "plan_pause",
    "plan_publish",
]
