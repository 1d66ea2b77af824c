"""`http`: call a web service off the request path (10 s timeout); a 2xx answer goes to
`next`, anything else (or a refused private address) to `on_failure`; `save` copies
values of the JSON answer to contact fields. The call itself is
``automation.services.webhooks``: after commit, and its answer comes back as an event."""

import json

from django import forms

from automation.flow.forms import ExitField, StepForm, template_area
from automation.flow.kinds.base import WAIT, Exit, Go, Step, StepKind
from automation.flow.read import Reader, field_path_problem

METHODS = ("GET", "POST")
MAX_HEADERS = 20


def json_path_get(data, path: str):
    """`data.points` / `data.items.0.id` in a JSON answer (the leading `data` is the
    answer itself); None when any part is missing."""
    parts = path.split(".")
    if parts and parts[0] == "data":
        parts = parts[1:]
    value = data
    for part in parts:
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value if value is None or isinstance(value, str | int | float | bool) else None


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


class HttpForm(StepForm):
    method = forms.ChoiceField(choices=[(m, m) for m in METHODS], initial="GET")
    url = forms.CharField(
        max_length=2000, label="URL", help_text="May use {{ contact.phone }} and other contact values."
    )
    body = template_area(
        "Body (POST)", rows=3, help_text="Sent as JSON: a JSON object, or text with {{ … }} values."
    )
    headers = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One a line: Name: value",
    )
    save = forms.CharField(
        required=False,
        label="Save from the answer",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One a line: contact field = path in the JSON answer, e.g. attributes.points = data.points",
    )
    next = ExitField(label="When it answers 2xx, go to")
    on_failure = ExitField(label="Otherwise, go to")

    @classmethod
    def initial_of(cls, data):
        body = data.get("body")
        return {
            "method": data.get("method", "GET"),
            "url": data.get("url", ""),
            "body": json.dumps(body, ensure_ascii=False) if isinstance(body, dict | list) else (body or ""),
            "headers": "\n".join(f"{k}: {v}" for k, v in (data.get("headers") or {}).items()),
            "save": "\n".join(f"{k} = {v}" for k, v in (data.get("save") or {}).items()),
            "next": data.get("next") or "",
            "on_failure": data.get("on_failure") or "",
        }, {}

    def clean_headers(self):
        return _pairs(self.cleaned_data["headers"], ":", "Name: value")

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
        for key in ("headers", "save"):
            if cleaned[key]:
                data[key] = cleaned[key]
        return data | {"next": cleaned["next"], "on_failure": cleaned["on_failure"]}


class Http(StepKind):
    type = "http"
    keys = ("method", "url", "body", "headers", "save", "next", "on_failure")
    description = "Call a web service"
    form_class = HttpForm

    def read(self, r: Reader) -> dict:
        data = {"method": r.choice("method", METHODS, default="GET") or "GET", "url": r.text("url")}
        url = data["url"]
        if "url" in r.raw and r.raw["url"] in ("", None):
            r.bad("url", "is required: the address to call, starting with https://")
        elif url and not url.lstrip().startswith(("https://", "http://", "{{")):
            r.bad("url", f"{url[:80]!r} must start with https:// or http://")
        body = r.get("body", None)
        if body is not None:
            if isinstance(body, str):
                data["body"] = r.text("body")
            elif isinstance(body, dict | list):
                data["body"] = body
            else:
                r.bad("body", "must be a template (text) or a JSON object")
        headers = r.get("headers", None)
        if headers is not None:
            if (
                not isinstance(headers, dict)
                or len(headers) > MAX_HEADERS
                or not all(
                    isinstance(k, str) and isinstance(v, str) and len(v) <= 1000 for k, v in headers.items()
                )
            ):
                r.bad("headers", f"must be an object of at most {MAX_HEADERS} text headers")
            else:
                data["headers"] = headers
        save = r.get("save", None)
        if save is not None:
            if not isinstance(save, dict):
                r.bad("save", "must be an object field: path")
            else:
                for field, path in save.items():
                    problem = field_path_problem(field)
                    if problem:
                        r.bad(f"save.{field}", problem)
                    elif not isinstance(path, str) or not path:
                        r.bad(f"save.{field}", "must be a dotted path into the answer, e.g. data.points")
                data["save"] = save
        data["next"] = r.exit("next")
        data["on_failure"] = r.exit("on_failure", required=False)
        return data

    def exits(self, data):
        return [Exit("next", "2xx", data["next"]), Exit("on_failure", "failure", data.get("on_failure"))]

    def texts(self, data) -> list[str]:
        return []

    def label(self, step: Step) -> str:
        return f"{step.data['method']} {step.data['url'][:60]}"

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
