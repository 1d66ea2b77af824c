"""Reply matching: pure functions, no database (DESIGN §3, CONTRACT §5)."""

import re
import string

_SPACES = re.compile(r"\s+")
# Also inverted ! and ?, curly quotes and the ellipsis.
_STRIP = string.punctuation + "\u00a1\u00bf\u2018\u2019\u201c\u201d\u2026"


def reply_normalize(text: str) -> str:
    """Trim, strip surrounding punctuation, collapse inner white space, case-fold.

    Returned upper-cased so it compares directly with keywords: ``"  quote! "`` → ``"QUOTE"``.
    """
    collapsed = _SPACES.sub(" ", (text or "").strip())
    return collapsed.strip(_STRIP + " ").casefold().upper()


def keyword_normalize(word: str) -> str:
    """A keyword as authored (``" Quote "``) in the form replies are compared with."""
    return reply_normalize(word)


def is_single_word(word: str) -> bool:
    normalized = keyword_normalize(word)
    return bool(normalized) and " " not in normalized


def transition_matches(*, match: str, pattern: str, normalized_reply: str) -> bool:
    """Whether a normalised reply satisfies one transition's match rule."""
    key = keyword_normalize(pattern)
    if match == "any":
        return bool(normalized_reply)
    if match == "keyword":
        return normalized_reply == key
    if match == "first_word":
        return normalized_reply.split(" ", 1)[0] == key
    if match == "contains":
        words = re.split(r"[^\w]+", normalized_reply)
        return key in words
    if match == "regex":
        try:
            return re.search(pattern, normalized_reply, flags=re.IGNORECASE) is not None
        except re.error:
            return False
    return False
