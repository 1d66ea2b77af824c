"""Plan `http` steps (CONTRACT §6): the call to a marketer's web service, off the request
path and outside any transaction, and its answer handed back to the interpreter as an
event. Owner: engine.

Guards, so that a plan can neither reach inside our network nor hang a worker:
- the URL's host must resolve only to public addresses (loopback, private, link-local,
  reserved and multicast ones are refused) unless ``HTTP_STEP_ALLOW_PRIVATE=1``; and the
  call connects to the address that was checked: requests-hardened (Saleor's) resolves
  the name once, refuses a private answer and pins the connection to it (TLS is still
  verified against the name), so a name whose DNS answer changes between the check and
  the call (DNS rebinding) reaches nothing inside;
- redirects are not followed (a 3xx is a failure);
- a 10 s timeout to connect and to read, and at most MAX_ANSWER_BYTES of the answer read.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
from collections.abc import Mapping
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from requests_hardened import Config, Manager

from automation.flow import Event
from automation.models import Enrollment, EnrollmentStatus
from automation.revisions import revision_flow
from automation.services.enrollments import enrollment_text_context
from contacts.services import contact_lock
from messaging.rendering import RenderError, sms_body_render

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10
MAX_ANSWER_BYTES = 64 * 1024


class Refused(Exception):
    """The call was not made: the reason."""


def _manager(*, public_only: bool) -> Manager:
    return Manager(
        Config(
            ip_filter_enable=public_only,
            ip_filter_allow_loopback_ips=False,
            never_redirect=True,
            default_timeout=(TIMEOUT_SECONDS, TIMEOUT_SECONDS),
        )
    )


_PUBLIC_ONLY = _manager(public_only=True)  # connects only to the public address it checked
_OPEN = _manager(public_only=False)  # HTTP_STEP_ALLOW_PRIVATE=1


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
    if step is None or step.type != "http":
        return False
    answer = _call(step.data, context=enrollment_text_context(enrollment=enrollment))
    return _answer_apply(
        enrollment_id=enrollment_id, contact_id=enrollment.contact_id, visit=visit, answer=answer
    )


def _answer_apply(*, enrollment_id: int, contact_id: int, visit: int, answer: dict) -> bool:
    from automation.services.interpreter import enrollment_advance, enrollment_loaded

    with transaction.atomic():
        contact = contact_lock(contact_id=contact_id)
        enrollment = (
            Enrollment.objects.select_for_update()
            .filter(pk=enrollment_id, visit=visit, status=EnrollmentStatus.ACTIVE)
            .first()
        )
        if contact is None or enrollment is None:
            return False
        enrollment_loaded(enrollment)
        enrollment.contact = contact
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
        url = sms_body_render(template=data["url"], context=context)
        request = f"{data['method']} {url}"[:120]
        body = _body(data.get("body"), context=context)
        _url_check(url)
        manager = _OPEN if settings.HTTP_STEP_ALLOW_PRIVATE else _PUBLIC_ONLY
        with manager.get_session() as session:
            response = session.request(
                data["method"],
                url,
                json=body,
                headers=dict(data.get("headers") or {}),
                timeout=TIMEOUT_SECONDS,
                allow_redirects=False,
                stream=True,
            )
            try:
                raw = response.raw.read(MAX_ANSWER_BYTES + 1, decode_content=True)
            finally:
                response.close()
    except (Refused, RenderError, requests.RequestException, OSError) as exc:
        logger.info("http step: %s", exc)
        return {"ok": False, "status": None, "json": None, "error": str(exc)[:500], "request": request}
    parsed = None
    if len(raw) <= MAX_ANSWER_BYTES:
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None
    return {
        "ok": 200 <= response.status_code < 300,
        "status": response.status_code,
        "json": parsed,
        "error": "",
        "request": request,
    }


def _body(data, *, context: dict):
    """The JSON body: a template rendered to text (sent as JSON when it parses as JSON, else
    as a JSON string), or an object whose text values are templates."""
    if isinstance(data, str):
        text = sms_body_render(template=data, context=context)
        try:
            return json.loads(text)
        except ValueError:
            return text
    if isinstance(data, Mapping):
        return {str(k): _body(v, context=context) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_body(v, context=context) for v in data]
    return data


def _url_check(url: str) -> None:
    """Refuse what is not http(s), and hosts that resolve to non-public addresses."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused(f"{url[:100]!r} is not an http(s) URL")
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
