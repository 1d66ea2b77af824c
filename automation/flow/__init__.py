"""Plans as data (docs/reference.md §6): the format, its step kinds, and the frozen Flow the
interpreter runs. Pure: nothing here touches the database."""

from automation.flow.document import FORMAT, Flow, flow_build, flow_read
from automation.flow.kinds import KINDS
from automation.flow.kinds.base import WAIT, Event, Go, Reply, Step
from automation.flow.problems import FlowInvalid, Problem

__all__ = [
    "FORMAT", "KINDS", "WAIT", "Event", "Flow", "FlowInvalid", "Go", "Problem", "Reply", "Step",
    "flow_build", "flow_read",
]  # fmt: skip
