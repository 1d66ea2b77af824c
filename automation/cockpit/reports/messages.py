"""Figures per message for the plan report: for each step that sends a text (a `send`, an
`ask`), how many of its texts went out, were delivered, failed, were clicked, and the
replies and opt-outs that followed; and how people came to the end of the journey.

- sent: handed to Twilio (accepted, sent, delivered, read, undelivered, failed); texts
  still held or queued, and the canceled, are not;
- delivered: delivered, read, or partially delivered (an MMS); failed: failed or
  undelivered;
- clicked: the texts of which a person opened a tracked link, over those delivered;
- replies: the contact's messages that the step took (an answer, or "STOP" is not one),
  including a last answer that ended the journey;
- opt-outs: enrollments that opted out when this step's text was the last they got.
"""

from dataclasses import dataclass

from automation.cockpit.reports.rows import percent_of
from messaging.models import DeliveryStatus

SENT = {
    DeliveryStatus.ACCEPTED,
    DeliveryStatus.SENT,
    DeliveryStatus.PARTIALLY_DELIVERED,
    DeliveryStatus.DELIVERED,
    DeliveryStatus.READ,
    DeliveryStatus.UNDELIVERED,
    DeliveryStatus.FAILED,
}
DELIVERED = {DeliveryStatus.DELIVERED, DeliveryStatus.READ, DeliveryStatus.PARTIALLY_DELIVERED}
FAILED = {DeliveryStatus.FAILED, DeliveryStatus.UNDELIVERED}


@dataclass
class MessageRow:
    step_id: str
    name: str
    text: str
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    clicked: int = 0
    replies: int = 0
    opted_out: int = 0

    @property
    def delivered_rate(self) -> float:
        return percent_of(self.delivered, self.sent)

    @property
    def clicked_rate(self) -> float:
        return percent_of(self.clicked, self.delivered)

    @property
    def opted_out_rate(self) -> float:
        return percent_of(self.opted_out, self.delivered)


def report_messages(
    flow,
    *,
    statuses: dict[tuple[str, str], int],
    clicked: dict[str, int],
    replies: dict[str, int],
    opted_out: dict[str, int],
) -> list["MessageRow"]:
    """The rows, in the report's step order, of the steps that send a text."""
    out = []
    for step_id in flow.order:
        step = flow.steps[step_id]
        text = step.kind.prompt(step.data)
        if not text:
            continue
        row = MessageRow(step_id=step_id, name=step.name, text=text)
        for (at, status), n in statuses.items():
            if at != step_id:
                continue
            row.sent += n if status in SENT else 0
            row.delivered += n if status in DELIVERED else 0
            row.failed += n if status in FAILED else 0
        row.clicked = clicked.get(step_id, 0)
        row.replies = replies.get(step_id, 0)
        row.opted_out = opted_out.get(step_id, 0)
        out.append(row)
    return out


def completed_ways(step, *, told: int, timed: int) -> tuple[list[tuple[str, int]], int]:
    """How `told + timed` enrollments came to complete at `step`: `told` by a message (the
    event a wait awaited — the goal it stands for —, else the contact's answer), `timed` by
    its timer. Returns the (words, count) lines and the replies among them."""
    awaited = step.kind.awaited_event(step.data) if step else None
    ways = []
    if told:
        ways.append((f"completed: {awaited} came" if awaited else "completed: answered", told))
    if timed:
        ways.append(("completed: the wait timed out", timed))
    return ways, 0 if awaited else told
