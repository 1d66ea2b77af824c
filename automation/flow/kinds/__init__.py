"""The registry of step kinds: adding a kind is one module and one line here."""

from automation.flow.kinds.ask import Ask
from automation.flow.kinds.base import Exit, StepKind
from automation.flow.kinds.delay import Delay
from automation.flow.kinds.enter_plan import EnterPlan
from automation.flow.kinds.http import Http
from automation.flow.kinds.send import Send
from automation.flow.kinds.set_fields import SetFields
from automation.flow.kinds.split_field import SplitField
from automation.flow.kinds.split_random import SplitRandom
from automation.flow.kinds.wait_event import WaitEvent

__all__ = ["KINDS", "Exit", "StepKind"]

KINDS: dict[str, StepKind] = {
    kind.type: kind
    for kind in (
        Send(),
        Ask(),
        WaitEvent(),
        SplitRandom(),
        SplitField(),
        SetFields(),
        Delay(),
        Http(),
        EnterPlan(),
    )
}
