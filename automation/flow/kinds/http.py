"""`http`: call a web service off the request path (10 s in all); a 2xx answer goes to
`next`, anything else (or a refused private address) to `on_failure`; `save` copies values
of the JSON answer to contact fields, each found by a dotted path from the answer's top.
What a template puts into `url` is URL-encoded; a text `body` is sent as one JSON string,
an object body's text values each as a JSON string (docs/reference.md §6). The call itself is
``automation.engine.http_steps``: after commit, and its answer comes back as an event."""

import json
import re

from django import forms

from automation.flow.forms import ExitField, StepForm, template_area
from automation.flow.kinds.base import WAIT, Exit, Go, Step, StepKind
from automation.flow.read import SLUG, Reader, field_path_problem

METHODS = ("GET", "POST")
MAX_HEADERS = 20
MAX_HEADER = 1000
NAME_RULE = "is not a secret's name (lower-case letters, digits and -)"
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}")  # an HTTP token (RFC 9110)
MAX_BODY_VALUES = 200
_JSON_PATH = re.compile(r"[^.\s]+(\.[^.\s]+){0,19}")  # `points`, `data.points`, `items.0.id`


def json_path_get(data, path: str):
    """The value at `path` in a JSON answer, a dotted path from its top: `points` reads
    {"points": 7}, `data.points` reads {"data": {"points": 42}}, `items.0.id` the first
    item's id. None when any part is missing, or the value is an object or a list."""
    value = data
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value if isinstance(value, str | int | float | bool) else None


def answer_summary(answer) -> str:
    """`POST https://… → 200 {"points": 5}` for the step history (the simulator shows it)."""
    said = answer.get("status") or answer.get("error") or "no answer"
    body = json.dumps(answer.get("json"), ensure_ascii=False)[:80] if answer.get("json") is not None else ""
    return " ".join(p for p in (answer.get("request", ""), "→", str(said), body) if p)


def _pairs(text: str, sep: str, what: str) -> dict[str, str]:
    """Lines "name<sep>value" → {name: value}; ValidationError naming the bad line."""
    out = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, found, value = line.partition(sep)
        if not found or not name.strip() or not value.strip():
            raise forms.ValidationError(f"Line {n} is not {what}.")
        out[name.strip()] = value.strip()
    return out


def _body_check(r: Reader, body) -> None:
    """Each text value of an object body is a template (sent, rendered, as a JSON string)."""
    from automation.flow.context import text_template_error

    values = []

    def walk(value, path: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{path}.{key}")
        elif isinstance(value, list):
            for n, item in enumerate(value):
                walk(item, f"{path}.{n}")
        else:
            values.append((path, value))

    walk(body, "body")
    if len(values) > MAX_BODY_VALUES:
        r.bad("body", f"has {len(values)} values; at most {MAX_BODY_VALUES} are allowed")
        return
    for path, value in values:
        if isinstance(value, str):
            error = text_template_error(template=value)
            if error:
                r.bad(path, error)


def _headers_read(r: Reader, headers: dict) -> dict:
    """Each header: a text sent as written, or {"secret": name}, a web service secret's
    value (automation.models.HttpSecret), kept out of the plan."""
    out = {}
    for name, value in headers.items():
        if not _HEADER_NAME.fullmatch(name):
            r.bad(f"headers.{name}", f"{name!r} is not a header name")
        elif isinstance(value, str):
            if len(value) > MAX_HEADER or "\r" in value or "\n" in value:
                r.bad(f"headers.{name}", f"must be one line of at most {MAX_HEADER} characters")
            else:
                out[name] = value
        elif isinstance(value, dict):
            secret = r.child(value, f"headers.{name}", allowed=("secret",)).get("secret")
            if isinstance(secret, str) and SLUG.fullmatch(secret):
                out[name] = {"secret": secret}
            elif secret is not None:  # a missing one is said already
                r.bad(f"headers.{name}.secret", f"{secret!r} {NAME_RULE}")
        else:
            r.bad(f"headers.{name}", 'must be text, or {"secret": "<name>"} for a web service secret')
    return out


class HttpForm(StepForm):
    method = forms.ChoiceField(choices=[(m, m) for m in METHODS], initial="GET")
    url = forms.CharField(
        max_length=2000,
        label="URL",
        help_text="Written out, from https://; {{ contact.phone }} and other values are URL-encoded where "
        "they go, e.g. https://shop.example.com/points?phone={{ contact.phone }}",
    )
    body = template_area(
        "Body (POST)",
        rows=3,
        help_text="Sent as JSON. A JSON object whose text values may use {{ … }}, each sent as text: "
        '{"phone": "{{ contact.phone }}", "source": "sms"}. Anything else is sent as one JSON string.',
    )
    headers = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One a line: Name: value, sent as written. Anyone who sees the plan sees these: "
        "put API keys in a secret (below).",
    )
    secret_headers = forms.CharField(
        required=False,
        label="Headers from secrets",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One a line: Name: secret, e.g. Authorization: shop-api-key. The value is kept by an "
        "admin under Web service secrets; the plan holds only its name.",
    )
    save = forms.CharField(
        required=False,
        label="Save from the answer",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One a line: contact field = dotted path from the top of the JSON answer, e.g. "
        'attributes.points = data.points reads {"data": {"points": 42}}; items.0.id the first item\'s id. '
        "A path the answer lacks saves nothing.",
    )
    next = ExitField(label="When it answers 2xx, go to")
    on_failure = ExitField(label="Otherwise, go to")

    @classmethod
    def initial_of(cls, data):
        body = data.get("body")
        headers = data.get("headers") or {}
        return {
            "method": data.get("method", "GET"),
            "url": data.get("url", ""),
            "body": json.dumps(body, ensure_ascii=False) if isinstance(body, dict | list) else (body or ""),
            "headers": "\n".join(f"{k}: {v}" for k, v in headers.items() if isinstance(v, str)),
            "secret_headers": "\n".join(
                f"{k}: {v['secret']}" for k, v in headers.items() if not isinstance(v, str)
            ),
            "save": "\n".join(f"{k} = {v}" for k, v in (data.get("save") or {}).items()),
            "next": data.get("next") or "",
            "on_failure": data.get("on_failure") or "",
        }, {}

    def clean_headers(self):
        return _pairs(self.cleaned_data["headers"], ":", "Name: value")

    def clean_secret_headers(self):
        pairs = _pairs(self.cleaned_data["secret_headers"], ":", "Name: secret")
        for name, secret in pairs.items():
            if name in (self.cleaned_data.get("headers") or {}):
                raise forms.ValidationError(f"{name} is among the headers above too: keep one.")
            if not SLUG.fullmatch(secret):
                raise forms.ValidationError(f"{secret!r} {NAME_RULE}.")
        return {name: {"secret": secret} for name, secret in pairs.items()}

    def clean_body(self):
        body = self.cleaned_data["body"]
        start = body.lstrip()[:2]
        if start[:1] in ("{", "[") and start not in ("{{", "{%", "{#"):
            try:
                json.loads(body)
            except ValueError as exc:
                raise forms.ValidationError(
                    f"This looks like JSON but is not ({exc}). Put each {{{{ … }}}} value in quotes, "
                    'e.g. "name": "{{ contact.first_name }}": it is sent as text.'
                ) from exc
        return body

    def clean_save(self):
        return _pairs(self.cleaned_data["save"], "=", "field = path")

    def data_of(self, cleaned, rows):
        data = {"method": cleaned["method"], "url": cleaned["url"]}
        body = cleaned["body"].strip()
        if body:
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
            data["body"] = parsed if isinstance(parsed, dict | list) else cleaned["body"]
        headers = (cleaned["headers"] or {}) | (cleaned["secret_headers"] or {})
        if headers:
            data["headers"] = headers
        if cleaned["save"]:
            data["save"] = cleaned["save"]
        return data | {"next": cleaned["next"], "on_failure": cleaned["on_failure"]}


class Http(StepKind):
    type = "http"
    keys = ("method", "url", "body", "headers", "save", "next", "on_failure")
    calls_web_service = True
    description = "Call a web service"
    form_class = HttpForm

    def example(self) -> dict:
        return {
            "method": "GET",
            "url": "https://shop.example.com/points?phone={{ contact.phone }}",
            "next": None,
            "on_failure": None,
        }

    def read(self, r: Reader) -> dict:
        data = {"method": r.choice("method", METHODS, default="GET") or "GET", "url": r.text("url")}
        url = data["url"]
        if "url" in r.raw and r.raw["url"] in ("", None):
            r.bad("url", "is required: the address to call, starting with https://")
        elif url and not url.startswith(("https://", "http://")):
            r.bad(
                "url",
                f"{url[:80]!r} must start with https:// or http:// (what {{{{ … }}}} puts in is "
                "URL-encoded, so the address itself is written out)",
            )
        body = r.get("body", None)
        if body is not None:
            if isinstance(body, str):
                data["body"] = r.text("body")
            elif isinstance(body, dict | list):
                _body_check(r, body)
                data["body"] = body
            else:
                r.bad("body", "must be a template (text) or a JSON object")
        headers = r.get("headers", None)
        if headers is not None:
            if not isinstance(headers, dict) or len(headers) > MAX_HEADERS:
                r.bad("headers", f"must be an object of at most {MAX_HEADERS} headers")
            else:
                data["headers"] = _headers_read(r, headers)
        save = r.get("save", None)
        if save is not None:
            if not isinstance(save, dict):
                r.bad("save", "must be an object field: path")
            else:
                for field, path in save.items():
                    problem = field_path_problem(field)
                    if problem:
                        r.bad(f"save.{field}", problem)
                    elif not isinstance(path, str) or not _JSON_PATH.fullmatch(path):
                        r.bad(
                            f"save.{field}",
                            f"{path!r} is not a dotted path from the top of the JSON answer, "
                            "e.g. points, data.points or items.0.id",
                        )
                data["save"] = save
        data["next"] = r.exit("next")
        data["on_failure"] = r.exit("on_failure", required=False)
        return data

    def exits(self, data):
        return [
            Exit("next", "answered (2xx)", data["next"]),
            Exit("on_failure", "failed", data.get("on_failure")),
        ]

    def texts(self, data) -> list[str]:
        return []

    def secrets(self, data) -> list[tuple[str, str]]:
        return [
            (f"header {k}", v["secret"])
            for k, v in (data.get("headers") or {}).items()
            if not isinstance(v, str)
        ]

    def label(self, step: Step) -> str:
        return f"{step.data['method']} {step.data['url']}"

    def enter(self, step: Step, rt):
        rt.http_call(step=step)
        return WAIT

    def on_timer(self, step: Step, rt):
        # The answer never came back (a lost task): the call counts as failed.
        return Go(step.data.get("on_failure"))

    def on_http_answer(self, step: Step, rt):
        answer = rt.event.data
        rt.note(answer_summary(answer))
        if not answer.get("ok"):
            return Go(step.data.get("on_failure"))
        for field, path in (step.data.get("save") or {}).items():
            value = json_path_get(answer.get("json"), path)
            if value is not None:
                rt.field_set(field, value)
        return Go(step.data["next"])
