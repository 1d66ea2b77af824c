"""What Twilio's error codes mean and what to do about them, in a marketer's words (the
admin's health page, docs/cockpit.md). The usual codes of a messaging program; Twilio's
own list is https://www.twilio.com/docs/api/errors. Pure data: no database."""

from dataclasses import dataclass


@dataclass(frozen=True)
class TwilioError:
    code: str
    meaning: str
    action: str


_CODES = [
    TwilioError("20003", "Twilio refused our credentials.",
                "An administrator must check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN: nothing can be sent until then."),
    TwilioError("20429", "Too many requests: Twilio asked us to slow down.",
                "Nothing to do: the texts are retried. If it lasts, lower the sender's limit (MPS) on the Senders page."),
    TwilioError("429", "Too many requests: Twilio asked us to slow down.",
                "Nothing to do: the texts are retried. If it lasts, lower the sender's limit (MPS) on the Senders page."),
    TwilioError("21211", "The phone number is not a valid number.",
                "Correct the contact's number; their journey ended as failed."),
    TwilioError("21408", "Our account may not send to that country or region.",
                "An administrator must allow the country in Twilio's console (Messaging > Geo permissions)."),
    TwilioError("21606", "The number we send from cannot send this kind of message.",
                "An administrator must check the sender (SMS-capable number, or a Messaging Service)."),
    TwilioError("21610", "The person replied STOP to this number at their carrier.",
                "Nothing to do: they are opted out here too. Never text them again unless they opt back in."),
    TwilioError("21612", "Twilio cannot send between these two numbers.",
                "Check the sender and the contact's number (country, kind of number)."),
    TwilioError("21614", "The number cannot receive texts (a landline, or not a mobile).",
                "Use another number for the contact; their journey ended as failed."),
    TwilioError("21617", "The text is longer than Twilio allows.",
                "Shorten the step's text (the plan page shows each text's length in segments)."),
    TwilioError("21635", "The number is a landline.",
                "Use another number for the contact; their journey ended as failed."),
    TwilioError("30001", "Twilio's queue for this sender overflowed.",
                "Lower the sender's limit (MPS) so that texts wait here rather than at Twilio."),
    TwilioError("30002", "The Twilio account is suspended.",
                "An administrator must contact Twilio: nothing can be sent until then."),
    TwilioError("30003", "The phone is switched off or out of reach.",
                "Usually temporary: nothing to do. If it repeats for one contact, their number may be gone."),
    TwilioError("30004", "The carrier blocked the text.",
                "The person may have blocked us, or the carrier filtered the text: check the wording (no link shorteners, say who you are)."),
    TwilioError("30005", "The number does not exist, or no longer does.",
                "Remove or correct the contact's number."),
    TwilioError("30006", "The number cannot receive texts (a landline, or the carrier does not deliver to it).",
                "Use another number for the contact."),
    TwilioError("30007", "The carrier filtered the text as spam.",
                "Review the wording (say who you are, how to stop, no link shorteners) and the sender's registration (A2P 10DLC, toll-free verification)."),
    TwilioError("30008", "The carrier did not deliver it, for a reason it did not give.",
                "Usually temporary. If many fail, ask an administrator to look in Twilio's console."),
    TwilioError("30032", "The toll-free number is not verified.",
                "An administrator must finish the toll-free verification in Twilio's console."),
    TwilioError("30034", "The number is not registered for A2P 10DLC messaging in the US.",
                "An administrator must register the brand and campaign in Twilio's console."),
    TwilioError("63016", "WhatsApp: more than 24 hours since the person last wrote, and the step has no template.",
                "Give the step an approved WhatsApp template, or text them over SMS."),
    TwilioError("63018", "WhatsApp's rate limit for this sender was reached.",
                "Nothing to do: the texts are retried. If it lasts, lower the sender's limit (MPS)."),
]  # fmt: skip
TWILIO_ERRORS = {e.code: e for e in _CODES}


def twilio_error(code: str) -> TwilioError:
    """What `code` means; a plain explanation for a code this table does not know."""
    found = TWILIO_ERRORS.get(str(code or ""))
    if found is not None:
        return found
    if not code:
        return TwilioError("", "No error code: the text failed before Twilio had it (see its error).",
                           "Open the failed texts to read each one's error.")  # fmt: skip
    return TwilioError(
        str(code), "An error this page does not explain.", f"Look up error {code} in Twilio's error list."
    )
