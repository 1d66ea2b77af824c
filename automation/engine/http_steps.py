"""Plan `http` steps (docs/reference.md §6): the call to a marketer's web service, off the request
path and outside any transaction, and its answer handed back to the interpreter as an
event.

What a contact's values can do to the call (issue 18): nothing to its shape. In `url` what
a template puts in is percent-encoded (``messaging.rendering.url_render``), and a path
segment that is `.` or `..` is refused; a text `body` is sent as one JSON string, an object
body keeps its keys and non-text values as written and sends each text value, rendered, as
a JSON string (rendered text is never parsed as JSON). A header may name a web service
secret (``automation.models.HttpSecret``): its value is read here, at the call, and sent.

Guards, so that a plan can neither reach inside our network nor hang a worker (the request
itself: ``automation.engine.http_transport``): public addresses only unless
``HTTP_STEP_ALLOW_PRIVATE=1`` (checked here, and pinned by the transport against DNS
rebinding); no redirects; one total deadline (``settings.HTTP_STEP_TIMEOUT``, 10 s); at
most 64 KiB of the answer read.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from automation.engine.enrollments import enrollment_text_context
from automation.engine.http_transport import HttpFailed, http_request_send
from automation.engine.revisions import revision_flow
from automation.flow import Event
from automation.locks import enrollment_lock
from automation.models import Enrollment, EnrollmentStatus, HttpSecret
from contacts.locks import contact_lock
from messaging.rendering import RenderError, sms_body_render, url_render

logger = logging.getLogger(__name__)


class Refused(Exception):
    """The call was not made: the reason."""


def http_step_run(*, enrollment_id: int, visit: int) -> bool:
    """Call the web service of the http step enrollment `enrollment_id` is at (visit
    `visit`), then hand the answer to the interpreter. False when the enrollment moved on
    meanwhile (its timer gave up, it ended): nothing is called then."""
    enrollment = (
        Enrollment.objects.select_related("contact")
        .filter(pk=enrollment_id, visit=visit, status=EnrollmentStatus.ACTIVE)
        .first()
    )
    if enrollment is None:
        return False
    step = revision_flow(enrollment.revision_id).steps.get(enrollment.step_id)
    if step is None or not step.kind.calls_web_service:
        return False
    answer = _call(step.data, context=enrollment_text_context(enrollment=enrollment))
    return _answer_apply(
        enrollment_id=enrollment_id, contact_id=enrollment.contact_id, visit=visit, answer=answer
    )


def _answer_apply(*, enrollment_id: int, contact_id: int, visit: int, answer: dict) -> bool:
    from automation.engine.interpreter import enrollment_advance

    with transaction.atomic():
        contact = contact_lock(contact_id=contact_id)
        if contact is None:
            return False
        enrollment = enrollment_lock(enrollment_id=enrollment_id, contact=contact, visit=visit)
        if enrollment is None:
            return False
        return enrollment_advance(
            enrollment=enrollment,
            contact=contact,
            event="http_answer",
            now=timezone.now(),
            external=Event(type="http_answer", data=answer),
        )


def _call(data, *, context: dict) -> dict:
    """{"ok": bool, "status": int|None, "json": …, "error": str} — never raises."""
    request = data["method"]
    try:
        url = url_render(template=data["url"], context=context)
        request = f"{data['method']} {url}"[:120]
        body = _body(data.get("body"), context=context)
        _url_check(url)
        answer = http_request_send(
            method=data["method"],
            url=url,
            json_body=body,
            headers=_headers(data.get("headers") or {}),
            public_only=not settings.HTTP_STEP_ALLOW_PRIVATE,
            seconds=settings.HTTP_STEP_TIMEOUT,
        )
    except (Refused, RenderError, HttpFailed) as exc:
        logger.info("http step: %s", exc)
        return {"ok": False, "status": None, "json": None, "error": str(exc)[:500], "request": request}
    parsed = None
    if answer.body is not None:
        try:
            parsed = json.loads(answer.body)
        except ValueError:
            parsed = None
    return {
        "ok": 200 <= answer.status < 300,
        "status": answer.status,
        "json": parsed,
        "error": "",
        "request": request,
    }


def _headers(headers: Mapping) -> dict[str, str]:
    """The headers to send: text as written; {"secret": name} the value of that web service
    secret, read here and nowhere else (no template sees one)."""
    names = {value["secret"] for value in headers.values() if isinstance(value, Mapping)}
    kept = dict(HttpSecret.objects.filter(name__in=names).values_list("name", "value")) if names else {}
    out = {}
    for header, value in headers.items():
        if isinstance(value, Mapping):
            if value["secret"] not in kept:
                raise Refused(
                    f"the secret “{value['secret']}” (header {header}) is not set: an admin adds it "
                    "under Web service secrets"
                )
            out[header] = kept[value["secret"]]
        else:
            out[header] = value
    return out


def _body(data, *, context: dict):
    """The JSON body: a text is a template, sent as one JSON string; an object or a list
    keeps its keys and its non-text values as written, and each text value is a template
    sent as a JSON string. What a template renders is never read as JSON."""
    if isinstance(data, str):
        return sms_body_render(template=data, context=context)
    if isinstance(data, Mapping):
        return {str(k): _body(v, context=context) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_body(v, context=context) for v in data]
    return data


def _url_check(url: str) -> None:
    """Refuse what is not http(s), a `.` or `..` path segment, and hosts that resolve to
    non-public addresses."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise Refused(f"{url[:100]!r} is not an http(s) URL")
    for segment in parts.path.split("/"):
        if unquote(segment) in (".", ".."):
            # A value of `..` stays `..` when encoded, and would take the call a level up.
            raise Refused(f"the URL's path has a segment {unquote(segment)!r}, which would change the path")
    if settings.HTTP_STEP_ALLOW_PRIVATE:
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise Refused(f"{parts.hostname} does not resolve") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if not address.is_global or address.is_multicast:
            raise Refused(
                f"{parts.hostname} is a private address ({address}); HTTP_STEP_ALLOW_PRIVATE=1 allows it"
            )
