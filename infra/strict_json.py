"""Strict JSON: what the product takes from outside as JSON (a plan document, an event's
body). Python's parser accepts more than a database can keep or the code should meet:
``NaN`` and ``Infinity``, numbers too large for a float (read as infinity), nesting deep
enough to exhaust the stack, and text holding a NUL character or half of a UTF-16 pair (a
lone surrogate, from an escape like ``\\ud800``): PostgreSQL stores neither, and such text
cannot even be printed as UTF-8. Here all of that is refused, with the reason and where.

Shared infrastructure: imports no app (the import-linter contract says so)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

MAX_DEPTH = 20  # objects and lists inside each other; a plan needs 6, an event's data a few
_SURROGATE = re.compile("[\ud800-\udfff]")
Path = tuple[str | int, ...]


class JsonRefused(ValueError):
    """The text is not JSON the product takes. `problems`: (path, reason) pairs, the path
    empty (the whole text) as `json_strict_parse` raises it."""

    def __init__(self, problems: list[tuple[Path, str]]):
        self.problems = problems
        super().__init__("; ".join(reason for _, reason in problems))


def json_strict_parse(text: str | bytes) -> Any:
    """Parse `text` (str, or UTF-8 bytes with or without a byte order mark) as JSON proper:
    NaN, Infinity and numbers beyond a float's range are refused, and nesting too deep to
    parse is a reason like any other (never a RecursionError); JsonRefused saying why. What
    the value holds is `json_refusals`' to judge (the caller names the places it refuses)."""
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise JsonRefused([((), f"not UTF-8 text ({exc})")]) from exc
    text = text.removeprefix("\ufeff")
    try:
        return json.loads(text, parse_constant=_constant_refuse, parse_float=_float_finite)
    except RecursionError as exc:
        raise JsonRefused([((), f"nested more than {MAX_DEPTH} levels deep")]) from exc
    except ValueError as exc:  # JSONDecodeError, and the refusals above
        raise JsonRefused([((), str(exc))]) from exc


def json_refusals(value: Any, *, max_depth: int = MAX_DEPTH, limit: int = 20) -> Iterator[tuple[Path, str]]:
    """(path, reason) for each value in `value` (parsed JSON, or data built like it) that
    the product does not take: text holding a NUL character or a lone surrogate (keys too:
    the path is then the object's), a number that is not finite, nesting deeper than
    `max_depth`. The path leads from the top to the value (keys and list indexes). At most
    `limit` of them, in the document's order; no recursion, whatever the depth."""
    found = 0
    stack: list[tuple[Any, Path]] = [(value, ())]
    while stack and found < limit:
        item, path = stack.pop()
        reason = None
        if isinstance(item, str):
            reason = text_refusal(item)
        elif isinstance(item, float) and not math.isfinite(item):
            reason = f"{item} is not a number JSON can carry"
        elif isinstance(item, dict | list):
            if len(path) >= max_depth:
                reason = f"is nested more than {max_depth} levels deep"
            elif isinstance(item, dict):
                children = []
                for key, child in item.items():
                    key_reason = text_refusal(key) if isinstance(key, str) else None
                    if key_reason:
                        found += 1
                        yield path, f"a key {key_reason}"
                    else:
                        children.append((child, (*path, key)))
                stack.extend(reversed(children))  # in the document's order
            else:
                stack.extend(reversed([(child, (*path, i)) for i, child in enumerate(item)]))
        if reason:
            found += 1
            yield path, reason


def text_refusal(text: str) -> str | None:
    """Why `text` cannot be kept as text (a NUL character, a lone surrogate), or None."""
    if "\x00" in text:
        return "contains a NUL character (\\u0000), which text cannot hold"
    m = _SURROGATE.search(text)
    if m:
        code = f"\\u{ord(m.group()):04x}"
        return f"contains {code}, half of a character (a lone surrogate), which text cannot hold"
    return None


def _constant_refuse(name: str):
    raise ValueError(f"{name} is not a JSON value")


def _float_finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:20]}{'…' if len(text) > 20 else ''} is too large")
    return value
