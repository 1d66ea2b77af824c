"""`http`: call a web service off the request path (10 s timeout); a 2xx answer goes to
`next`, anything else (or a refused private address) to `on_failure`; `save` copies
values of the JSON answer to contact fields. The call itself is
``automation.services.webhooks``: after commit, and its answer comes back as an event."""

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


class Http(StepKind):
    type = "http"
    keys = ("method", "url", "body", "headers", "save", "next", "on_failure")
    description = "Call a web service"

    def read(self, r: Reader) -> dict:
        data = {"method": r.choice("method", METHODS, default="GET") or "GET", "url": r.text("url")}
        url = data["url"]
        if url and not url.lstrip().startswith(("https://", "http://", "{{")):
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
        if not answer.get("ok"):
            return Go(step.data.get("on_failure"))
        for field, path in (step.data.get("save") or {}).items():
            value = json_path_get(answer.get("json"), path)
            if value is not None:
                rt.field_set(field, value)
        return Go(step.data["next"])
