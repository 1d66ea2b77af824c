"""What the worst text a marketer can write costs to render (issue 18, point 1).

    .venv/bin/python bench/templates.py [--rounds 200] [--only NAME,…]

In-process, no database, one run: each case is a template rendered by
``messaging.rendering.sms_body_render`` for the preview's sample contact, given a 4,096-
character attribute ``essay`` (the longest value a filter may make), and an enrollment.
Printed per case: the template's length; its first compile (the LRU of compiled texts
emptied), in ms, and the memory the compiled template keeps (KB, tracemalloc: the LRU
holds up to 512 of them); the median wall time of a render with the compiled text
cached (µs, over ``--rounds`` renders) and the peak of memory Python allocates during
one (KB, tracemalloc), each also as a multiple of a plain 160-character text's; whether
the sandbox accepts the template (``sms_template_problem``), and what its render gives:
its length, or the error that fails the contact's message.

The cases. A plain text and a typical personalised one. The report's text (27 nested
``{% with %}``, each doubling a 16-character text: 32 s and 5.4 GB before issue 18).
Then the worst templates that still render: for each costly construct, the largest
number of repeats (a chain of one filter over the 4,096-character essay, or of
``{{ … }}``/``{% firstof %}``/``{% now %}``) for which the render succeeds, found by
bisection, within the 5,000 characters a template may have — the deepest ``{% with %}``
nesting doubling with ``|add``, ``join``, ``truncatewords``, ``truncatechars``, ``slice``,
``cut``, ``upper``, ``title``, ``urlencode``, ``add``, ``floatformat``, ``yesno``, ``date``
and ``{% now %}`` with the longest formats, unknown names, the most output, 8 nested
``{% if %}`` with 40-word conditions. Last, the same chains repeated to the template's
full length, past the caps: how soon such a render fails.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TEMPLATE_LIMIT = 5000  # messaging.rendering.MAX_TEMPLATE_LENGTH (before and after issue 18)
VALUE = 4096  # the longest value a filter may make (issue 18)
PLAIN = (
    "Spring sale: 20% off everything in store and online until Sunday. Show this text at "
    "the till or use code SPRING20 at checkout. Reply STOP to opt out of all SMS."
)
ESSAY = ("a b c d e f g h " * (VALUE // 16))[:VALUE]
V = "contact.attributes.essay"


def cases() -> list[tuple[str, str, str, str]]:
    """(name, head, link, tail): head + link * n + tail for the largest n that renders, or
    (names ending in "full") that fits in a template; head + tail when link is empty."""
    report = (
        "{% with a0='0123456789abcdef' %}"
        + "".join(f"{{% with a{i}=a{i - 1}|add:a{i - 1} %}}" for i in range(1, 28))
        + "{{ a27|length }}"
        + "{% endwith %}" * 28
    )
    condition = " or ".join(["contact.first_name == 'x'"] * 10)  # 39 words, each false
    nested_ifs = f"{{% if {condition} %}}x{{% else %}}" * 8 + "y" + "{% endif %}" * 8
    doubling = (
        "{% with a0='0123456789abcdef' %}{% with a1=a0",
        "|add:a0",
        (" %}{% with a2=a1|add:a1|add:a1 %}{{ a2|length }}{% endwith %}{% endwith %}{% endwith %}"),
    )
    chains = [
        ("join", "{{ " + V + "|slice:':2048'", "|join:''", "|length }}"),
        ("truncatewords", "{{ " + V, "|truncatewords:1600", "|length }}"),
        ("truncatechars", "{{ " + V, "|truncatechars:1600", "|length }}"),
        ("slice", "{{ " + V, "|slice:'1:'", "|length }}"),
        ("cut", "{{ " + V, "|cut:'z'", "|length }}"),
        ("upper", "{{ " + V, "|upper", "|length }}"),
        ("title", "{{ " + V, "|title", "|length }}"),
        ("urlencode", "{{ " + V + "|slice:':1365'", "|urlencode:''|slice:':1365'", "|length }}"),
        ("add", "{{ " + V + "|slice:':16'", "|add:'0123456789abcdef'", "|length }}"),
        ("floatformat", "{{ 1.5", "|floatformat:2", " }}"),
        ("yesno", "{{ 1", "|yesno", " }}"),
        ("date", "", "{{ enrollment.enrolled_at|date:'M' }}", ""),
        ("unknown names", "", "{{ x }}", ""),
        ("firstof", "", "{% firstof x y z %}", ""),
    ]
    return [
        ("plain 160-char text", PLAIN, "", ""),
        (
            "typical personalised",
            "Hi {{ contact.first_name|default:'there' }}! Since {{ enrollment.enrolled_at|date:'M j' }} "
            "{% if contact.attributes.city %}in {{ contact.attributes.city|title }} {% endif %}"
            "you have {{ contact.attributes.points|default:0|add:5 }} points. Reply STOP to opt out.",
            "",
            "",
        ),
        ("report: 27 nested with", report, "", ""),
        ("with 3 deep, doubling", *doubling),
        *((f"{name} chain", head, link, tail) for name, head, link, tail in chains),
        ("join, widest", "{{ " + V + "|slice:':2048'|join:'-'|length }}", "", ""),
        ("date, longest format", "", "{{ enrollment.enrolled_at|date:'" + "M" * 32 + "'|length }}", ""),
        ("now, longest format", "", "{% now '" + "M" * 32 + "' as n %}", "{{ n|length }}"),
        ("most output", "{{ " + V + "|slice:':1600' }}", "{{ " + V + "|slice:':1' }}", ""),
        ("if 8 deep, 40-word conds", nested_ifs, "", ""),
        ("join of the essay", "{{ " + V + "|join:'-'|length }}", "", ""),
        ("output of the essay", "{{ " + V + " }}{{ " + V + "|slice:':1' }}", "", ""),
        *((f"{name} chain, full", head, link, tail) for name, head, link, tail in chains),
    ]


def repeated(render, head: str, link: str, tail: str, *, full: bool) -> str:
    """head + link * n + tail for the largest n that renders (`full`: that fits)."""
    if not link:
        return head + tail
    low, high = 0, max(0, (TEMPLATE_LIMIT - len(head) - len(tail)) // len(link))
    if full or render(head + link * high + tail)[1]:
        return head + link * high + tail
    while low < high:
        mid = (low + high + 1) // 2
        if render(head + link * mid + tail)[1]:
            low = mid
        else:
            high = mid - 1
    return head + link * low + tail


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--only", default="", help="only the cases whose name starts so (comma-separated)")
    args = parser.parse_args()
    os.environ.setdefault("DEBUG", "1")  # the development SECRET_KEY; no database is used
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smsjourney.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from messaging import rendering
    from messaging.preview import sample_context

    # The compiled texts (messaging.rendering._compiled before issue 18: to measure the code before).
    cache = rendering.engine.compiled if hasattr(rendering, "engine") else rendering._compiled
    context = sample_context()
    context["contact"]["attributes"]["essay"] = ESSAY
    context["enrollment"] = {
        "plan": {"name": "Sample plan", "slug": "sample-plan"},
        "state": "Sample step",
        "enrolled_at": datetime(2026, 3, 14, 15, 9, 26, tzinfo=UTC),
    }

    def render(template: str) -> tuple[str, bool]:
        try:
            return f"{len(rendering.sms_body_render(template=template, context=context)):,} chars", True
        except rendering.RenderError as exc:
            return f"fails: {exc}", False

    print(f"{'case':<28}{'chars':>6}{'compile ms':>11}{'kept KB':>8}{'render µs':>10}{'x plain':>8}"
          f"{'peak KB':>8}{'x plain':>8}  accepted? / render")  # fmt: skip
    base = None
    only = tuple(filter(None, args.only.split(",")))
    for name, head, link, tail in cases():
        if only and not name.startswith(only):
            continue
        template = repeated(render, head, link, tail, full=name.endswith("full"))
        cache.cache_clear()
        started = time.perf_counter()
        problem = rendering.sms_template_problem(template)
        compile_ms = (time.perf_counter() - started) * 1000
        cache.cache_clear()
        tracemalloc.start()
        rendering.sms_template_problem(template)
        kept = tracemalloc.get_traced_memory()[0] / 1024
        tracemalloc.stop()
        outcome, _ = render(template)  # compiles (when accepted) and warms up
        samples = []
        for _ in range(args.rounds):
            started = time.perf_counter()
            render(template)
            samples.append(time.perf_counter() - started)
        tracemalloc.start()
        render(template)
        peak = tracemalloc.get_traced_memory()[1] / 1024
        tracemalloc.stop()
        render_us = statistics.median(samples) * 1e6
        base = base or (render_us, peak)
        said = f"refused: {problem}" if problem else "yes"
        print(
            f"{name:<28}{len(template):>6,}{compile_ms:>11.2f}{kept:>8.0f}{render_us:>10.1f}"
            f"{render_us / base[0]:>8.1f}{peak:>8.1f}{peak / base[1]:>8.1f}  {said} / {outcome}"[:230]
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
