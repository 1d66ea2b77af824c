"""Reply matching: pure functions, no database (DESIGN §3, CONTRACT §5).

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


def transition_matches(*, match: str, pattern: str, normalized_reply: str) -> bool:
    """Whether a normalised reply satisfies one transition's match rule."""
    if match == "any":
        return bool(normalized_reply)
    if match == "regex":
        try:
            return _regex(pattern).search(normalized_reply) is not None
        except re2.error:
            return False
    key = keyword_normalize(pattern)
    if match == "keyword":
        return normalized_reply == key
    if match == "first_word":
        return normalized_reply.split(" ", 1)[0] == key
    if match == "contains":
        words = re.split(r"[^\w]+", normalized_reply)
        return key in words
    return False
