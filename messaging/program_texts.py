"""What carriers audit in a program's texts (CTIA Messaging Principles and Best Practices;
the short code monitoring handbook): the HELP answer, the opt-in confirmation and a plan's
first message should name the program, say how often messages come, say "Msg & data rates
may apply" and how to opt out. Pure: a text in, what it lacks out (in words); the admin and
start-up checks show it as a warning, nothing refuses it."""

from __future__ import annotations

import re

_PROGRAM = re.compile(r"^\s*[\w&'\u2019.\- ]{2,40}:\s")
_FREQUENCY = re.compile(
    r"\b(?:msg|message|text)s?\s+freq(?:uency|\.)?\b|\brecurring\b|"
    r"\b(?:up to\s+)?\d+\s*(?:msgs?|messages|texts)\s*(?:/|per|a|an|each)\s*(?:day|wk|week|mo|month|year)\b",
    re.IGNORECASE,
)
_RATES = re.compile(r"\b(?:msg|message)\s*(?:&|and)\s*data\s+rates\s+(?:may\s+)?apply\b", re.IGNORECASE)
_OPT_OUT = re.compile(
    r"\b(?:reply|text|send)\s+stop\b|\bstop\s+to\s+(?:opt[\s-]?out|unsubscribe|cancel|end|quit)\b",
    re.IGNORECASE,
)


def program_text_missing(text: str, *, program: str = "") -> list[str]:
    """What `text` lacks of what carriers audit, in words ([] when nothing): the program's
    name (a "Name: " at the start, or `program` anywhere), the message frequency, "Msg &
    data rates may apply", how to opt out."""
    text = text or ""
    missing = []
    if not (_PROGRAM.match(text) or (program and program.casefold() in text.casefold())):
        missing.append("the program's name (e.g. “Acme Deals: …” at the start)")
    if not _FREQUENCY.search(text):
        missing.append("how often messages come (e.g. “Msg frequency varies” or “4 msgs/month”)")
    if not _RATES.search(text):
        missing.append("“Msg & data rates may apply”")
    if not _OPT_OUT.search(text):
        missing.append("how to opt out (e.g. “Reply STOP to opt out”)")
    return missing
