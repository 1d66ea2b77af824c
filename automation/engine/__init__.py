"""The journey engine (docs/architecture.md §3): plans and their revisions, routing a
message, the interpreter, timers and expiry, events, sending, http steps. Its services,
re-exported: `from automation.engine import enrollment_route`. The engine never imports
the cockpit or the doors."""

from automation.engine.enrollments import enrollment_end
from automation.engine.interpreter import enrollment_advance, enrollment_start
from automation.engine.plans import (
    plan_activate,
    plan_archive,
    plan_export,
    plan_import,
    plan_load_demo,
    plan_pause,
    plan_publish,
)
from automation.engine.routing import enrollment_route
from automation.engine.scheduling import (
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
