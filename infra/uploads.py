"""A size limit on an uploaded file, enforced while it streams in (before it is stored).

Django reads a multipart request's whole body the first time a view (or the CSRF check)
touches ``request.POST`` or ``request.FILES``, keeping each file in memory or on disk. A
door that takes a file installs ``upload_limit`` first: a request whose Content-Length is
already too large is refused without its body being read at all, and a file that grows
past the limit is stopped at the chunk that crosses it — nothing past the limit is kept.

Django reads the body for the CSRF check, so such a door is ``csrf_exempt`` and runs the
check itself (``csrf_protect``) once the limit is in place, as Django's documentation on
upload handlers says.
"""

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest, HttpResponse, QueryDict
from django.utils.datastructures import MultiValueDict

# Room for the form's other fields and the multipart headers around the file.
ENVELOPE_BYTES = 64 * 1024


def size_label(size: int) -> str:
    """A byte count in a person's words: ``20 MB``, ``64 KB``, ``900 bytes``."""
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size:,} bytes"


class MaxBytesUploadHandler(FileUploadHandler):
    """First among a request's upload handlers: passes each file's chunks on to the next
    handlers (which store them) and stops the upload at the first chunk past `max_bytes`.
    `refused` says whether it did (or whether the Content-Length refused it already)."""

    def __init__(self, request: HttpRequest, *, max_bytes: int):
        super().__init__(request)
        self.max_bytes = max_bytes
        self.refused = False

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if self.refused:  # by its Content-Length: an empty form, the body left unread
            return QueryDict(encoding=encoding), MultiValueDict()
        return None  # the multipart parser reads it, through receive_data_chunk

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > self.max_bytes:
            self.refused = True
            # The rest of the body (at most ENVELOPE_BYTES, the Content-Length was checked)
            # is read and dropped, so that the client reads the answer.
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handler makes the file


def upload_limit(request: HttpRequest, *, max_bytes: int) -> MaxBytesUploadHandler:
    """Before anything reads the request's form: refuse a file past `max_bytes` as it
    streams in. The handler's `refused` is True at once when the Content-Length says the
    body is larger than such a file can be — then do not touch the form: its body is never
    read."""
    handler = MaxBytesUploadHandler(request, max_bytes=max_bytes)
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    handler.refused = length > max_bytes + ENVELOPE_BYTES
    request.upload_handlers.insert(0, handler)
    return handler


class RequestSizeLimitMiddleware:
    """No request body past ``MAX_REQUEST_BYTES`` is read at all: its Content-Length alone
    answers 413, before the CSRF check or a view would read (and spool to disk) the whole
    upload. The doors that take files keep their own, smaller limits (``upload_limit``, or
    a form's size check); this one bounds every door at once, those to come included."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.MAX_REQUEST_BYTES:
            return HttpResponse(
                f"The request is larger than {size_label(settings.MAX_REQUEST_BYTES)}.",
                status=413,
                content_type="text/plain",
            )
        return self.get_response(request)
