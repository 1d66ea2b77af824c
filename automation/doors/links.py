"""``GET /l/<code>`` (docs/reference.md §7): a tracked link. A thin door over
``automation.engine.links.link_visit``: 302 to the link's URL, 404 for an unknown code.
Never cached (each click counts), and the code is not handed on to the site it leads to."""

from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.views.decorators.http import require_safe

from automation.engine.links import link_visit


@require_safe
def link_redirect(request: HttpRequest, code: str) -> HttpResponseRedirect:
    url = link_visit(code=code, method=request.method, user_agent=request.headers.get("User-Agent", ""))
    if url is None:
        raise Http404("No such link.")
    response = HttpResponseRedirect(url)
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex"
    return response
