"""Reply matching on its own (automation.matching): normalisation, every match kind, and
regular expressions on a linear-time engine."""

import pytest

from automation.matching import regex_problem, reply_normalize, transition_matches


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("  quote! ", "QUOTE"),
        ("Stop.", "STOP"),
        ("«STOP»", "STOP"),
        ("STOP。", "STOP"),
        ("「stop」", "STOP"),
        ("STOP‼", "STOP"),
        ("¡stop!", "STOP"),
        ("\u201cStop\u201d", "STOP"),
        ("stop 🛑", "STOP"),
        ("\u200bstop\u00a0", "STOP"),
        ("  buy   it  now ", "BUY IT NOW"),
        ("straße", "STRASSE"),  # case folded, not just upper-cased
        ("", ""),
        ("?!…", ""),
    ],
)
def test_replies_are_normalised(text, normalized):
    assert reply_normalize(text) == normalized


@pytest.mark.parametrize(
    ("match", "pattern", "reply", "expected"),
    [
        ("keyword", "quote", "  Quote! ", True),
        ("keyword", "quote", "quote please", False),
        ("first_word", "BUY", "buy it now", True),
        ("first_word", "BUY", "please buy", False),
        ("contains", "deal", "is the DEAL still on?", True),
        ("contains", "deal", "ideal", False),
        ("any", "", "anything", True),
        ("any", "", "…", False),
        # A regex runs on the normalised (trimmed, case-folded) reply, case-insensitively.
        ("regex", "^yes$", "  Yes! ", True),
        ("regex", r"^\d{5}$", "12345.", True),
        ("regex", "[1-3]", "10", True),  # no anchors: matches inside a longer reply
        ("regex", "^[1-3]$", "10", False),
        ("regex", "(", "(", False),  # never raises on a broken pattern
    ],
)
def test_match_kinds(match, pattern, reply, expected):
    assert (
        transition_matches(match=match, pattern=pattern, normalized_reply=reply_normalize(reply)) is expected
    )


@pytest.mark.timeout(10)
def test_a_catastrophic_pattern_runs_in_linear_time():
    # On a backtracking engine this takes minutes (31 s already for 29 a's).
    reply = reply_normalize("a" * 1500 + "#x")
    assert transition_matches(match="regex", pattern=r"^(\w+\s?)+$", normalized_reply=reply) is False
    assert transition_matches(match="regex", pattern=r"^(a|aa)+$", normalized_reply="A" * 1500 + "B") is False


@pytest.mark.parametrize("pattern", [r"(a)\1", r"(?=a)b", r"(?<!a)b", "(", "a{1001}"])
def test_patterns_the_engine_cannot_run_are_refused_with_a_reason(pattern):
    problem = regex_problem(pattern)
    assert problem is not None
    assert "cannot be used as a regular expression" in problem


def test_ordinary_patterns_are_accepted():
    assert regex_problem(r"^(yes|yeah|yep)$") is None
    assert regex_problem(r"^\d{1,2}$") is None
