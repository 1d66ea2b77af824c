"""Reply matching on its own (automation.flow.matching): normalisation, every match kind, and
regular expressions on a linear-time engine."""

import pytest

from automation.flow.matching import regex_problem, reply_normalize, rule_match


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
def test_each_rule_match_kind_takes_the_replies_it_should_and_no_others(match, pattern, reply, expected):
    rule = {"match": match, "pattern": pattern, "words": [pattern]}
    assert rule_match(rule=rule, text=reply, normalized=reply_normalize(reply))[0] is expected


@pytest.mark.parametrize(
    ("rule", "reply", "value"),
    [
        ({"match": "number", "min": 1, "max": 5}, " 4 ", 4),
        ({"match": "number", "min": 1, "max": 5}, "4.5", 4.5),
        ({"match": "number", "min": 1, "max": 5}, "6", None),
        ({"match": "number"}, "-3", -3),
        ({"match": "number"}, "four", None),
        ({"match": "email"}, " Ann@Example.COM. ", "ann@example.com"),
        ({"match": "email"}, "ann at example", None),
        ({"match": "phone"}, "(212) 555-0123", "+12125550123"),
        ({"match": "phone"}, "12", None),
        ({"match": "date"}, "2026-05-01", "2026-05-01"),
        ({"match": "date"}, "5/1/2026", "2026-05-01"),
        ({"match": "date"}, "soon", None),
        ({"match": "any"}, "  Whatever you say  ", "Whatever you say"),
        ({"match": "keyword", "words": ["yes", "yep"]}, "Yep!", "Yep!"),
    ],
)
def test_value_kinds_parse_what_they_save(rule, reply, value):
    matched, parsed = rule_match(rule=rule, text=reply, normalized=reply_normalize(reply))
    assert matched is (value is not None)
    assert parsed == value


@pytest.mark.timeout(10)
def test_a_catastrophic_pattern_runs_in_linear_time():
    # On a backtracking engine this takes minutes (31 s already for 29 a's).
    reply = reply_normalize("a" * 1500 + "#x")
    assert (
        rule_match(rule={"match": "regex", "pattern": r"^(\w+\s?)+$"}, text=reply, normalized=reply)[0]
        is False
    )
    long = "A" * 1500 + "B"
    assert (
        rule_match(rule={"match": "regex", "pattern": r"^(a|aa)+$"}, text=long, normalized=long)[0] is False
    )


@pytest.mark.parametrize("pattern", [r"(a)\1", r"(?=a)b", r"(?<!a)b", "(", "a{1001}"])
def test_patterns_the_engine_cannot_run_are_refused_with_a_reason(pattern):
    problem = regex_problem(pattern)
    assert problem is not None
    assert "cannot be used as a regular expression" in problem


def test_ordinary_patterns_are_accepted():
    assert regex_problem(r"^(yes|yeah|yep)$") is None
    assert regex_problem(r"^\d{1,2}$") is None
