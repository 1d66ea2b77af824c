"""Plans the benchmarks load. `branching_20` is the demo journey grown to 20 steps with
branches (splits on a field and at random, set, delays, a wait for an event, a survey):
the same ids on the benchmark's path (invited --QUOTE--> quoted --BUY--> purchased), so
the webhook benchmark drives both plans alike and shows whether plan size costs a reply
anything."""

from automation.engine.demo_plan import DEMO_DOCUMENT


def _ask(step_id, text, rules, **extra):
    return {"id": step_id, "type": "ask", "text": text, "rules": rules, **extra}


def _rule(words, target, **extra):
    return {"match": "keyword", "words": words, "next": target, **extra}


def branching_20() -> dict:
    steps = [
        _ask(
            "invited",
            "Hi! Reply QUOTE to get your exclusive discount.",
            [_rule(["QUOTE"], "quoted"), _rule(["INFO2"], "info"), _rule(["VIP"], "vip-split")],
            name="Invited",
            other={"text": "Sorry, we didn't catch that. Reply QUOTE for your discount."},
            timeout={"after": "PT24H", "next": "reminded"},
        ),
        _ask("reminded", "Still interested? Reply QUOTE.", [_rule(["QUOTE"], "quoted")], name="Reminded"),
        _ask("info", "We sell coffee. Reply QUOTE.", [_rule(["QUOTE"], "quoted")]),
        {"id": "vip-split", "type": "split_field", "field": "attributes.vip",
         "cases": [{"op": "eq", "value": True, "next": "ab-vip"}], "default": "ab"},
        {"id": "ab", "type": "split_random", "branches": [
            {"name": "A", "weight": 50, "next": "tag-a"}, {"name": "B", "weight": 50, "next": "tag-b"}]},
        {"id": "tag-a", "type": "set", "fields": {"attributes.variant": "a"}, "next": "quoted"},
        {"id": "tag-b", "type": "set", "fields": {"attributes.variant": "b"}, "next": "quoted"},
        {"id": "ab-vip", "type": "split_random", "branches": [
            {"name": "A", "weight": 1, "next": "quoted-vip"}, {"name": "B", "weight": 1, "next": "pause"}]},
        {"id": "pause", "type": "delay", "for": "PT1H", "next": "quoted-vip"},
        _ask(
            "quoted",
            "Your quote: 15% off your next order. Reply BUY to claim it.",
            [_rule(["BUY"], "purchased"), _rule(["LATER"], "wait-buy"), _rule(["RATE"], "survey")],
            name="Quoted",
            goal="quote-requested",
            other={"text": "Sorry, we didn't catch that. Reply BUY to claim your discount."},
        ),
        _ask("quoted-vip", "VIP quote: 25% off. Reply BUY.", [_rule(["BUY"], "purchased")]),
        {"id": "wait-buy", "type": "wait_event", "event": "purchase", "next": "purchased",
         "timeout": {"after": "P3D", "next": "bye"}},
        {"id": "purchased", "name": "Purchased", "type": "send", "goal": "purchase",
         "text": "Thanks for your purchase! Your discount is applied.", "next": "later"},
        {"id": "later", "type": "delay", "for": "P1D", "next": "survey"},
        _ask("survey", "How was it, 1-5?", [
            {"match": "number", "min": 4, "max": 5, "save_as": "attributes.score", "next": "promoter"},
            {"match": "number", "min": 1, "max": 3, "save_as": "attributes.score", "next": "detractor"}],
            timeout={"after": "P1D", "next": "bye"}),
        {"id": "promoter", "type": "send", "text": "Thanks! Review: https://example.com/r", "next": "email"},
        _ask("detractor", "Why?", [{"match": "any", "save_as": "attributes.fb", "next": "email"}]),
        _ask("email", "Your email for offers?", [{"match": "email", "save_as": "email", "next": "bye"},
                                                 _rule(["NO"], "bye")]),
        {"id": "bye", "type": "send", "text": "Bye!", "next": "vip-note"},
        {"id": "vip-note", "type": "set", "fields": {"attributes.done": True}, "next": None},
    ]  # fmt: skip
    assert len(steps) == 20
    return {**DEMO_DOCUMENT, "name": "Quote and buy (20 steps)", "start": "invited", "steps": steps}
