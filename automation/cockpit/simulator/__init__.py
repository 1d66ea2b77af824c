"""Try-it: a marketer chats with a plan as a test contact, through the real engine.

Each (plan, user) pair has its own test contact, made by the simulator and recorded as
such (``SimulatorContact``; ``Contact.is_test``, which the admin does not let anyone edit),
numbered in the fictional North American range NXX-555-0100…0199 (numbers that are never
assigned), so nothing a marketer types can reach a real phone; messaging sends to test
contacts with the ``locmem`` backend whatever ``SMS_BACKEND`` says, and reports, exports
and the API leave them out. "Reset" deletes only a contact the simulator made.

A message is handed to ``tracking.services.inbound_message_receive`` shaped like Twilio's
webhook payload: compliance keywords, transitions, fallbacks, goals and replies are all
the interpreter's own. The engine enrolls real contacts only in active plans at their
published revision; the simulator tries what the marketer is editing. So when the test
contact is not enrolled yet and the plan is not active, or has a draft, or the marketer
chose branches at its A/B splits, its message is recorded and the contact enrolled
directly with ``enrollment_start`` at the plan's draft (else its published revision), as
if the message had been an entry message, with the chosen branches taken as drawn. From
then on every message goes through the engine as usual.

Timers need not be waited for: "Skip the wait" fires the test enrollment's timer (a
delay, a silence timeout, a wait for an event) now. "Send an event" does what a shop's
``POST /api/events/`` would (a purchase moves a wait for it, converts the goals on it,
enters a plan entered by it). What each step did (the value saved,
the branch taken, the web service's answer) is in its step history.
"""

from automation.cockpit.simulator.state import (
    MAX_MESSAGE_LENGTH,
    SIMULATOR_AREA_CODES,
    SimulatorSplit,
    SimulatorState,
    SimulatorTurn,
    simulator_branches_set,
    simulator_contact,
    simulator_fast_forward,
    simulator_reset,
    simulator_revision,
    simulator_state,
)
from automation.cockpit.simulator.turns import simulator_event, simulator_send

__all__ = [
    "MAX_MESSAGE_LENGTH",
    "SIMULATOR_AREA_CODES",
    "SimulatorSplit",
    "SimulatorState",
    "SimulatorTurn",
    "simulator_branches_set",
    "simulator_contact",
    "simulator_event",
    "simulator_fast_forward",
    "simulator_reset",
    "simulator_revision",
    "simulator_send",
    "simulator_state",
]
