"""Carrier compliance (docs/reference.md §5): the keywords, and what a message means for consent.

``compliance_intent`` is the one home of that judgement: the engine's routing acts on it
and the simulator's Try it asks it which messages compliance settles, so a marketer sees
exactly what a real contact would get. Pure: the caller normalises the reply (matching
lives in automation) and passes Twilio's ``OptOutType`` when there is one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from contacts.revocation import revocation_rule

OPT_OUT_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"})
OPT_IN_KEYWORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_KEYWORDS = frozenset({"HELP", "INFO"})

# Words a plan may never use as a keyword: they always mean opt-out or help.
RESERVED_KEYWORDS = OPT_OUT_KEYWORDS | HELP_KEYWORDS


class Intent(StrEnum):
    OPT_OUT = "opt_out"
    HELP = "help"
    OPT_IN = "opt_in"


@dataclass(frozen=True)
class ComplianceIntent:
    """What a message asks of compliance, and by which rule (for the consent log)."""

    kind: Intent
    rule: str  # "keyword STOP", "OptOutType STOP", "en: “stop texting me”" …
    detail: str  # the normalised message, with Twilio's OptOutType when it set one
    revocation: bool = False  # asked in words (FCC 24-24), not by a keyword


def compliance_intent(*, text: str, normalized: str, opt_out_type: str = "") -> ComplianceIntent | None:
    """The compliance meaning of a message whose normalised form is `normalized`: an
    opt-out (a keyword, Twilio's OptOutType STOP, or a plain request to stop), help, an
    opt-in word, or None. An opt-in word from a contact who has not opted out is also an
    ordinary reply (see ``compliance_settles``)."""
    opt_out_type = opt_out_type.strip().upper()
    detail = f"{normalized} (OptOutType {opt_out_type})" if opt_out_type else normalized
    by_type = f"OptOutType {opt_out_type}"
    if opt_out_type == "STOP":
        return ComplianceIntent(Intent.OPT_OUT, by_type, detail)
    if normalized in OPT_OUT_KEYWORDS:
        return ComplianceIntent(Intent.OPT_OUT, f"keyword {normalized}", detail)
    if normalized in HELP_KEYWORDS:
        return ComplianceIntent(Intent.HELP, f"keyword {normalized}", detail)
    revoked = revocation_rule(text)
    if revoked:
        return ComplianceIntent(Intent.OPT_OUT, revoked, detail, revocation=True)
    if opt_out_type == "HELP":
        return ComplianceIntent(Intent.HELP, by_type, detail)
    if opt_out_type == "START":
        return ComplianceIntent(Intent.OPT_IN, by_type, detail)
    if normalized in OPT_IN_KEYWORDS:
        return ComplianceIntent(Intent.OPT_IN, f"keyword {normalized}", detail)
    return None


def compliance_settles(intent: ComplianceIntent | None, *, opted_out: bool) -> bool:
    """Whether compliance answers the message alone, so that no plan sees it: an opt-out
    or help, and anything from an opted-out contact. An opt-in word from anyone else goes
    on to the plans (after it is recorded as consent)."""
    return opted_out or (intent is not None and intent.kind != Intent.OPT_IN)
