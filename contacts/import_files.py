"""Reading a contact import's file (contacts.imports): bounded before it is read as a table.

- ``contacts_file_check`` — what the upload's request does, without reading the file as a
  table: its rows are counted in one pass over its text, and refused past
  ``CONTACT_IMPORT_MAX_ROWS``; its columns are read from its head only (the header row,
  the first object or item, the start of the table), so a file without a phone column,
  or not of its format, is refused at once.
- ``contacts_dataset_load`` — the background task's read of the whole file (tablib),
  after the same count: a file of too many rows is never read.

The count is at least the table's rows — CSV/TSV: the lines after the header; JSON: the
objects; YAML: the list items; HTML: the table rows after the head — but for a YAML list
written inline (``[…]``), which the whole read counts.
"""

import json
import re
from itertools import islice

import tablib
from django.conf import settings
from django.core.exceptions import ValidationError
from tablib.exceptions import InvalidDimensions

from contacts.resources import dataset_problem

FORMATS = ("csv", "tsv", "json", "yaml", "html")
# How much of a file its head is read from at most (its columns are named well within it).
HEAD_CHARS = 64 * 1024

_SPACE = re.compile(r"\s*")
_YAML_ITEM = re.compile(r"^-(?:[ \t]|$)", re.MULTILINE)  # a top-level list item (not "---")
_JSON_SHAPE = (
    'a JSON file must be a list of objects such as [{"phone": "+14155550100", "first_name": "Ann"}].'
)


def contacts_rows_count(*, content: str, file_format: str) -> int:
    """The file's rows, counted without reading it as a table: passes over its text in C
    (milliseconds for 20 MB). See the module's docstring for what is counted."""
    if file_format in ("csv", "tsv"):
        lines = max(content.count("\n"), content.count("\r"))
        if content and not content.endswith(("\n", "\r")):
            lines += 1
        return max(lines - 1, 0)  # the header
    if file_format == "json":
        return content.count("{")
    if file_format == "yaml":
        return content.count("\n-") + content.startswith("-")
    return max(content.lower().count("<tr") - 1, 0)  # html: the head's row


def contacts_file_check(*, content: str, file_format: str) -> int:
    """Check a file before it is queued for import, without reading it as a table: its
    format, its rows (counted) and its columns (from its head). The rows counted; raises
    ValidationError with the reason."""
    rows = _rows_check(content, file_format)
    head = _head(content, file_format)
    if head is not None:
        _read(head, file_format)
    return rows


def contacts_dataset_load(*, content: str, file_format: str) -> tablib.Dataset:
    """Read a whole file as a dataset, its rows counted first; raise ValidationError when
    it has too many, cannot be read, or names no phone column."""
    _rows_check(content, file_format)
    dataset = _read(content, file_format)
    if dataset.height > settings.CONTACT_IMPORT_MAX_ROWS:
        raise ValidationError(_too_many(dataset.height))
    return dataset


def _too_many(rows: int) -> str:
    return (
        f"The file has {rows:,} rows; at most {settings.CONTACT_IMPORT_MAX_ROWS:,} are imported at "
        "once: split it."
    )


def _rows_check(content: str, file_format: str) -> int:
    if file_format not in FORMATS:
        raise ValidationError(f"{file_format} is not a format contacts are imported from.")
    rows = contacts_rows_count(content=content, file_format=file_format)
    if rows > settings.CONTACT_IMPORT_MAX_ROWS:
        raise ValidationError(_too_many(rows))
    return rows


def _read(content: str, file_format: str) -> tablib.Dataset:
    try:
        dataset = tablib.Dataset().load(content, format=file_format)
    except InvalidDimensions as exc:
        raise ValidationError(
            f"The file cannot be read as {file_format.upper()}: its rows do not all have the same columns."
        ) from exc
    except Exception as exc:  # every reader has its own errors: all mean "unreadable"
        raise ValidationError(f"The file cannot be read as {file_format.upper()}: {exc}"[:300]) from exc
    problem = dataset_problem(dataset)
    if problem:
        raise ValidationError(problem)
    return dataset


def _head(content: str, file_format: str) -> str | None:
    """The start of the file that names its columns, as a small file of its format; None
    when there is none to cut (a YAML file of inline lists: the task reads the whole)."""
    if file_format in ("csv", "tsv"):
        end = content.find("\n", 0, HEAD_CHARS)
        return content[: end + 1] if end >= 0 else content[:HEAD_CHARS]
    if file_format == "json":
        return _json_head(content)
    if file_format == "yaml":
        items = [m.start() for m in islice(_YAML_ITEM.finditer(content, 0, HEAD_CHARS), 2)]
        if len(items) == 2:
            return content[: items[1]]  # the first item
        return content if len(content) <= HEAD_CHARS else None
    start = content.lower().find("<table")  # html: its first table, from its start
    return content[max(start, 0) : max(start, 0) + HEAD_CHARS]


def _json_head(content: str) -> str:
    """A JSON list of the file's first element (one ``raw_decode``, not the whole file)."""
    start = _SPACE.match(content).end()
    if not content.startswith("[", start):
        raise ValidationError(f"The file cannot be read as JSON: {_JSON_SHAPE}")
    first = _SPACE.match(content, start + 1).end()
    if content.startswith("]", first):
        return "[]"
    try:
        _, end = json.JSONDecoder().raw_decode(content, first)
    except ValueError as exc:
        raise ValidationError(f"The file cannot be read as JSON: {exc}"[:300]) from exc
    return content[start:end] + "]"
