"""Outbound sending and delivery status.

The life of an outbound message (`OutboundMessage.status`):

    outbound_queue ──▶ HELD (quiet hours) ──release job──▶ QUEUED ──▶ SENDING ──▶ SENT ──▶ DELIVERED …
                   └─▶ QUEUED ─────────────────────────────────┘   ▲       │
                                                                    └───────┘ transient error (backoff)

- `outbound_queue` writes, inside the caller's transaction (the sender, its lane: reply
  or campaign, its cost in segments), and hands it over on commit: an unpaced sender's
  message to a send task, a paced sender's to its dispatcher (`dispatch`, whose
  docstring tells the order and pacing rules: a contact's texts one after the other, a
  sender's limit shared by every worker, the reply lane first, leases).
- `outbound_send` checks opt-out (cancels) and the WhatsApp window, then claims the row
  with one guarded UPDATE (QUEUED → SENDING, only in its contact's turn; or takes the one
  its dispatcher handed it), calls the backend with no transaction open, then records the
  outcome. Of two tasks for the same message only one claim matches; the other does
  nothing: never two sends. An opt-out committed between the check and the claim cancels
  the QUEUED row, or the handed-over one its task has not taken
  (automation.engine.consent.contact_opt_out), so the claim or the take does not match.
- Transient errors put the message back to QUEUED with `send_after` = now + backoff; the
  sender is woken for then, and `outbound_release_due` (beat, every minute) wakes anything
  whose time has passed, so a lost task or broker message never loses the SMS. In eager
  mode (no broker) a send is tried once, with a short timeout, and left to the release job
  on failure: a webhook never waits on retries.
- A message stuck in SENDING (the worker died during the HTTP call) is re-queued by the
  release job after SENDING_STALE_AFTER when no provider sid is known for it. Twilio
  calls the StatusCallback (which carries our id) within seconds of accepting a message,
  so after that long "no sid" almost surely means "never accepted". This is
  at-least-once: a duplicate is possible only if Twilio accepted the first call and no
  callback reached us for SENDING_STALE_AFTER (e.g. PUBLIC_BASE_URL unset). We prefer a
  rare duplicate to a silently lost message.
"""

from messaging.services.delivery import DeliveryApplied, delivery_status_apply
from messaging.services.outbound import (
    outbound_cancel_unsent,
    outbound_enqueue,
    outbound_queue,
    outbound_render_queue,
)
from messaging.services.policy import (
    MAX_ATTEMPTS,
    RetryLater,
    backoff_seconds,
    eager_pause,
    status_callback_url,
)
from messaging.services.release import outbound_release_due
from messaging.services.sending import SendOutcome, outbound_send

__all__ = [
    "MAX_ATTEMPTS",
    "DeliveryApplied",
    "RetryLater",
    "SendOutcome",
    "backoff_seconds",
    "delivery_status_apply",
    "eager_pause",
    "outbound_cancel_unsent",
    "outbound_enqueue",
    "outbound_queue",
    "outbound_release_due",
    "outbound_render_queue",
    "outbound_send",
    "status_callback_url",
]
