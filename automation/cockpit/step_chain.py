"""A step saved together with the new steps its ways out ask for.

In a step's form every way out may be pointed at "A new step: <what it does>" (the exit
choice `new:<kind>`). Saving such a form saves nothing yet: the page of the first new
step follows, then of the next (a new step may ask for more), and when the last one is
filled in, all of them are put into the draft at once — each new step on the way out
that asked for it — and the draft is checked as one (`plan_draft_save`): a plan that
would not work is refused and nothing is changed. No step is ever saved half written.

What is waiting travels with the page, signed (`chain_dumps`), so that nothing is kept
on the server for a page left open; a token that was changed, is a day old or is for
another plan is refused (`ChainBroken`). Pure but for the signature."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from django.core import signing

from automation.flow.edit import exit_set, step_exits, step_insert, step_replace
from automation.flow.forms import NEW
from automation.flow.kinds import KINDS

SALT = "automation.cockpit.step_chain"
MAX_AGE = 24 * 3600  # seconds a page of a new step may stay open
MAX_NEW = 20  # new steps asked for at once


class ChainBroken(ValueError):
    """The waiting steps cannot be read back (changed, too old, another plan's, or the
    draft changed under them); the message says so in words."""


@dataclass
class Chain:
    """What waits to be saved: `edits` in order — the step edited (`replaces` its id) or
    added (`after`: [step id, exit field]) —, and `queue`: the ways out still asking for a
    new step, as [step id, exit field, kind]."""

    plan_id: int
    edits: list[dict[str, Any]] = field(default_factory=list)
    queue: list[list[str]] = field(default_factory=list)


def new_exits(step: dict) -> list[tuple[str, str]]:
    """(exit field, kind) of each way out of `step` pointed at a new step."""
    out = []
    for way in step_exits(step):
        if isinstance(way.target, str) and way.target.startswith(NEW):
            out.append((way.field, way.target.removeprefix(NEW)))
    return out


def _queue(step: dict) -> list[list[str]]:
    return [[step["id"], field_, kind] for field_, kind in new_exits(step) if kind in KINDS]


def chain_start(
    plan_id: int, step: dict, *, replaces: str | None = None, after: tuple[str, str] | None = None
) -> Chain | None:
    """The chain of a step whose form was saved (`replaces` the step edited, `after` where
    a step added goes), or None when no way out of it asks for a new step."""
    queue = _queue(step)
    if not queue:
        return None
    edit = {"replaces": replaces, "after": list(after) if after else None, "step": step}
    return _bounded(Chain(plan_id=plan_id, edits=[edit], queue=queue))


def chain_add(chain: Chain, step: dict) -> Chain:
    """`chain` with the new step filled in for its first waiting way out (and the ways out
    of that step which ask for more)."""
    source, exit_field, _kind = chain.queue[0]
    edit = {"replaces": None, "after": [source, exit_field], "step": step}
    return _bounded(Chain(chain.plan_id, [*chain.edits, edit], [*chain.queue[1:], *_queue(step)]))


def _bounded(chain: Chain) -> Chain:
    if len(chain.edits) + len(chain.queue) > MAX_NEW:
        raise ChainBroken(f"At most {MAX_NEW} new steps can be made at once: choose fewer.")
    return chain


def chain_document(document: dict, chain: Chain) -> dict:
    """`document` with the chain's edits made, in order. Ways out still waiting for their
    step keep their `new:` mark (the document is for showing, not saving, until the queue
    is empty). ChainBroken when the draft no longer has a step an edit is about."""
    doc = document
    try:
        for edit in chain.edits:
            if edit["replaces"] is not None:
                doc = step_replace(doc, edit["replaces"], edit["step"])
            else:
                after = tuple(edit["after"]) if edit["after"] else None
                doc = step_insert(doc, edit["step"], after=after)  # KeyError: no such way out
    except (KeyError, TypeError, IndexError) as exc:
        raise ChainBroken(
            "The draft changed since this page was opened (a step it is about is gone): nothing "
            "was saved. Open the plan again and make the change there."
        ) from exc
    return doc


def markers_ended(document: dict) -> dict:
    """`document` with every way out still waiting for a new step ending the journey: what
    can be checked before the new steps are filled in."""
    doc = copy.deepcopy(document)
    for step in doc["steps"]:
        for field_, _kind in new_exits(step):
            exit_set(step, field_, None)
    return doc


def chain_dumps(chain: Chain) -> str:
    return signing.dumps(
        {"plan": chain.plan_id, "edits": chain.edits, "queue": chain.queue}, salt=SALT, compress=True
    )


def chain_loads(token: str, *, plan_id: int) -> Chain:
    """The chain a page carried; ChainBroken when it was changed, is too old or is another
    plan's."""
    try:
        data = signing.loads(token, salt=SALT, max_age=MAX_AGE)
    except signing.SignatureExpired as exc:
        raise ChainBroken("This page was open for more than a day: nothing was saved. Start again.") from exc
    except signing.BadSignature as exc:
        raise ChainBroken(
            "This page's steps waiting to be saved cannot be read back: nothing was saved. Start again."
        ) from exc
    if data.get("plan") != plan_id or not data.get("queue"):
        raise ChainBroken("This page is about another plan's steps: nothing was saved.")
    if len(data["queue"]) + len(data["edits"]) > MAX_NEW:
        raise ChainBroken(f"At most {MAX_NEW} new steps can be made at once: nothing was saved.")
    return Chain(plan_id=plan_id, edits=data["edits"], queue=data["queue"])
