"""Reply matching: pure functions, no database (docs/architecture.md §3, docs/reference.md §5).

Every reply is normalised before it is matched: surrounding white space, punctuation and
symbols of any script stripped (``«STOP»``, ``STOP。``, ``「stop」``, ``¡stop!``), inner
white space collapsed, case folded. Regular expressions run on that normalised text,
case-insensitively, on RE2 (google-re2): linear time in the reply whatever the pattern,
so no pattern can make a worker spin (no backreferences or look-arounds: they are
refused when the pattern is saved).
"""

import functools
import re
import unicodedata

import re2

_SPACES = re.compile(r"\s+")
# Longer replies are matched on their start: Twilio's own limit for one message is 1,600.
MAX_MATCHED_LENGTH = 1600
# RE2 refuses a pattern whose compiled program needs more memory than this.
REGEX_MAX_MEMORY = 1 << 20


def _is_edge_noise(char: str) -> bool:
    """White space, punctuation (P*) or a symbol (S*: emoji, currency, ‼ …) of any script."""
    return char.isspace() or unicodedata.category(char)[0] in "PSZC"


def reply_normalize(text: str) -> str:
    """Trim, strip surrounding punctuation and symbols, collapse inner white space, case-fold.

    Returned upper-cased so it compares directly with keywords: ``"  quote! "`` → ``"QUOTE"``.
    """
    text = (text or "")[:MAX_MATCHED_LENGTH]
    start, end = 0, len(text)
    while start < end and _is_edge_noise(text[start]):
        start += 1
    while end > start and _is_edge_noise(text[end - 1]):
        end -= 1
    return _SPACES.sub(" ", text[start:end]).casefold().upper()


def keyword_normalize(word: str) -> str:
    """A keyword as authored (``" Quote "``) in the form replies are compared with."""
    return reply_normalize(word)


def is_single_word(word: str) -> bool:
    normalized = keyword_normalize(word)
    return bool(normalized) and " " not in normalized


@functools.lru_cache(maxsize=1024)
def _regex(pattern: str):
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    options.max_mem = REGEX_MAX_MEMORY
    return re2.compile(pattern, options)


def regex_problem(pattern: str) -> str | None:
    """Why `pattern` cannot be used to match replies, or None when it can."""
    try:
        _regex(pattern)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        return f"“{pattern}” cannot be used as a regular expression: {reason}."
    return None


def _words_match(match: str, words, normalized_reply: str) -> bool:
    keys = {keyword_normalize(w) for w in words}
    if match == "keyword":
        return normalized_reply in keys
    if match == "first_word":
        return normalized_reply.split(" ", 1)[0] in keys
    return not keys.isdisjoint(re.split(r"[^\w]+", normalized_reply))  # contains


_NUMBER = re.compile(r"[-+]?\d{1,15}(?:[.,]\d{1,10})?")
_TRAILING = ".!?。 \t\r\n"


def number_parse(text: str) -> int | float | None:
    """A reply that is one number (``4``, ``-3``, ``4.5``, ``4,5`` as four and a half)."""
    candidate = (text or "")[:64].strip().rstrip(_TRAILING)
    if not _NUMBER.fullmatch(candidate):
        return None
    value = float(candidate.replace(",", "."))
    return int(value) if value.is_integer() and "." not in candidate and "," not in candidate else value


def email_parse(text: str) -> str | None:
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    candidate = (text or "")[:254].strip().strip("<>").rstrip(_TRAILING).lower()
    try:
        validate_email(candidate)
    except ValidationError:
        return None
    return candidate


def phone_parse(text: str) -> str | None:
    from django.core.exceptions import ValidationError

    from contacts.phone import phone_normalize

    try:
        return phone_normalize((text or "")[:40])
    except ValidationError:
        return None


def date_parse(text: str) -> str | None:
    """A reply that is a date (``2026-05-01``, ``5/1/2026``, ``May 1``): ISO ``YYYY-MM-DD``."""
    from dateutil import parser

    candidate = (text or "").strip().rstrip(_TRAILING)
    if not candidate or len(candidate) > 40 or not re.search(r"\d", candidate):
        return None
    try:
        return parser.parse(candidate, fuzzy=False).date().isoformat()
    except (ValueError, OverflowError):
        return None


_PARSERS = {"number": number_parse, "email": email_parse, "phone": phone_parse, "date": date_parse}


def rule_match(*, rule, text: str, normalized: str) -> tuple[bool, object]:
    """Whether a reply satisfies one `ask` rule (docs/reference.md §6), and the value it yields:
    the parsed value for number/email/phone/date, else the reply as written, trimmed."""
    match = rule["match"]
    written = (text or "")[:MAX_MATCHED_LENGTH].strip()
    parser = _PARSERS.get(match)
    if parser is not None:
        value = parser(written)
        if value is None:
            return False, None
        if match == "number" and (
            (rule.get("min") is not None and value < rule["min"])
            or (rule.get("max") is not None and value > rule["max"])
        ):
            return False, None
        return True, value
    if match == "any":
        return bool(normalized), written
    if match == "regex":
        try:
            return _regex(rule["pattern"]).search(normalized) is not None, written
        except re2.error:
            return False, None
    return _words_match(match, rule["words"], normalized), written
