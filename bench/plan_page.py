"""Benchmark: a big plan's pages (the change page, one step's page, the report, Try it) and
its diagram's layout, against a 4-step plan in the same run.

    .venv/bin/python bench/plan_page.py [--sizes 4,20,40,60,100] [--rules 50] [--revisions 20] [--repeat 3]
                                        [--database-url URL] [--keep]

Each plan is N `ask` steps with `--rules` keyword rules each, imported (and published)
through `plan_import` as a marketer's file would be, `--revisions` times (its description
changed each time, so the change page lists that many revisions), in two shapes:

- ``spread``: rule j of step i goes to step (31 i + 17 j + 1) mod N, so at 100 steps every
  step has 50 different next steps (about 280 KB of JSON: issue 18's plan, whose change page
  took 30.5 s and had its worker killed);
- ``parallel``: every rule of a step goes to the next step but its last one, which goes
  back to the start (49 arrows between the same two boxes).

For each plan the script signs in a superuser with Django's test client and times, cold
(the first request, nothing cached: no revision read, nothing drawn) and warm (best of
``--repeat`` more): the
plan's change page, its first step's page, its report, Try it before and after a
conversation starts (one message sent, so the current step is highlighted), and the layout
alone (`automation.cockpit.diagram.diagram_layout`, uncached). Every page must answer 200. It
prints seconds, the ratio to the 4-step plan of the same shape, and the page's size.
Goal (issue 18): every page well under a second at 100 steps, cold or warm.

Uses its own PostgreSQL database (``sj_bench_plan_page``, recreated, dropped at the end
unless ``--keep``), or with ``--database-url`` an existing one, migrated, where its plans
(slugs ``bench-page-*``) are deleted at the end unless ``--keep``. Runs in-process with
production settings (DEBUG=0); no server, no broker.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DBNAME = "sj_bench_plan_page"
SLUG = "bench-page"


def django_setup(url: str) -> None:
    os.environ.update(
        DATABASE_URL=url,
        DEBUG="0",
        SECRET_KEY="bench-only-secret-key-" + "x" * 40,
        ALLOWED_HOSTS="testserver",
        SECURE_SSL_REDIRECT="0",
        SMS_BACKEND="console",
        SMS_QUIET_HOURS="",
        LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="smsjourney.settings",
    )
    os.environ.pop("CELERY_BROKER_URL", None)
    import django

    django.setup()
    from django.conf import settings

    # No collectstatic here: the admin's static URLs from the finders, as the tests do.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def plan_document(n: int, rules: int, shape: str) -> dict:
    """N ask steps of `rules` keyword rules each (see the module's docstring)."""
    from automation.engine.demo_plan import DEMO_DOCUMENT

    ids = [f"s{i:03d}" for i in range(n)]

    def target(i: int, j: int) -> str:
        if shape == "spread":
            return ids[(31 * i + 17 * j + 1) % n]
        return ids[0] if j == rules - 1 else ids[(i + 1) % n]

    steps = [
        {
            "id": ids[i],
            "name": f"Question {i}",
            "type": "ask",
            "text": f"Question {i}: reply with one of the words.",
            "rules": [{"match": "keyword", "words": [f"W{j}"], "next": target(i, j)} for j in range(rules)],
        }
        for i in range(n)
    ]
    return {
        **DEMO_DOCUMENT,
        "slug": f"{SLUG}-{shape}-{n}",
        "name": f"Bench {shape} {n} x {rules}",
        "entry": {"trigger": "keyword", "keywords": [entry_keyword(n, shape)], "sender": None},
        "goals": [],
        "start": ids[0],
        "steps": steps,
    }


def entry_keyword(n: int, shape: str) -> str:
    return f"BENCH{shape[0].upper()}{n}"


def plans_delete(user) -> None:
    """The bench's plans, their revisions and the test contact's enrollments in them."""
    from automation.cockpit.simulator import simulator_reset
    from automation.models import Plan, PlanRevision

    plans = Plan.objects.filter(slug__startswith=SLUG)
    for plan in plans:
        simulator_reset(plan=plan, user=user)
    plans.update(published=None)
    PlanRevision.objects.filter(plan__in=plans).delete()
    plans.delete()


def timed(fn) -> tuple[float, object]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def measure(client, plan, *, shape: str, repeat: int) -> dict[str, tuple[float, float, int]]:
    """(cold, warm) seconds and bytes of each page, and of the layout alone."""
    from django.core.cache import cache

    from automation.cockpit.diagram import diagram_layout, flow_nodes_edges
    from automation.engine.revisions import revision_cache_clear, revision_flow

    base = f"/admin/automation/plan/{plan.pk}"
    first_step = plan.published.document["steps"][0]["id"]
    pages = {
        "change page": lambda: client.get(f"{base}/change/"),
        "step page": lambda: client.get(f"{base}/steps/{first_step}/"),
        "report": lambda: client.get(f"{base}/report/"),
        "Try it": lambda: client.get(f"{base}/try/"),
    }
    out = {}
    for name, get in pages.items():
        cache.clear()
        revision_cache_clear()
        runs = []
        for _ in range(1 + repeat):
            seconds, response = timed(get)
            assert response.status_code == 200, (name, response.status_code)
            runs.append(seconds)
        out[name] = (runs[0], min(runs[1:]), len(response.content))
    # A conversation: the plan's keyword, the first rule's word, then the page with the
    # current step lit.
    for text in (entry_keyword(len(plan.published.document["steps"]), shape), "W0"):
        response = client.post(f"{base}/try/", {"text": text})
        assert response.status_code == 302, response.status_code
    cache.clear()
    revision_cache_clear()
    runs = []
    for _ in range(1 + repeat):
        seconds, response = timed(pages["Try it"])
        assert response.status_code == 200 and b' current" data-step-id=' in response.content
        runs.append(seconds)
    out["Try it, talking"] = (runs[0], min(runs[1:]), len(response.content))
    nodes, edges = flow_nodes_edges(revision_flow(plan.published_id))
    runs = [timed(lambda: diagram_layout(nodes, edges))[0] for _ in range(1 + repeat)]
    out["layout alone"] = (runs[0], min(runs[1:]), 0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="4,20,40,60,100", help="steps per plan, comma-separated")
    parser.add_argument("--rules", type=int, default=50, help="keyword rules per ask step")
    parser.add_argument("--shapes", default="spread,parallel")
    parser.add_argument("--repeat", type=int, default=3, help="warm requests per page (the best is shown)")
    parser.add_argument("--revisions", type=int, default=20, help="published revisions of each plan")
    parser.add_argument("--database-url", help="an existing database to use (not dropped)")
    parser.add_argument("--keep", action="store_true", help="keep the database (or the plans)")
    args = parser.parse_args()
    sizes = sorted({int(s) for s in args.sizes.split(",")} | {4})

    from bench.common import database_drop, database_recreate, machine_busy

    url = args.database_url or database_recreate(DBNAME)
    django_setup(url)
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    from automation.engine.plans import plan_import
    from automation.models import Plan

    call_command("migrate", verbosity=0)
    user_model = get_user_model()
    user = user_model.objects.filter(username="bench-page").first() or user_model.objects.create_superuser(
        "bench-page", "bench@example.com", "x"
    )
    client = Client()
    client.force_login(user)
    plans_delete(user)
    busy0, total0 = machine_busy()
    try:
        for shape in args.shapes.split(","):
            results: dict[int, dict] = {}
            for n in sizes:
                document = plan_document(n, args.rules, shape)
                size = len(json.dumps(document))
                seconds, imported = timed(lambda document=document: plan_import(document=document))
                for r in range(2, args.revisions + 1):  # the page lists them
                    plan_import(document={**document, "description": f"Revision {r}"})
                print(
                    f"{shape}, {n} steps x {args.rules} rules: {size / 1000:.0f} KB, "
                    f"imported in {seconds:.2f} s"
                )
                results[n] = measure(
                    client, Plan.objects.get(pk=imported.plan.pk), shape=shape, repeat=args.repeat
                )
                for name, (cold, warm, size) in results[n].items():
                    ratio = warm / results[4][name][1] if results[4][name][1] else float("nan")
                    print(
                        f"    {name:16} cold {cold:7.3f} s   warm {warm:7.3f} s   warm {ratio:6.1f} x 4 steps"
                        + (f"   {size / 1000:6.0f} KB" if size else "")
                    )
    finally:
        busy1, total1 = machine_busy()
        print(f"machine busy: {100 * (busy1 - busy0) / max(1, total1 - total0):.0f} % of 2 cores")
        if not args.keep:
            if args.database_url:
                plans_delete(user)
            else:
                from django.db import connections

                connections.close_all()
                database_drop(DBNAME)


if __name__ == "__main__":
    main()
