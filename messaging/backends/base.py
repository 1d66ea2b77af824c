"""The SMS backend interface: one method, two kinds of failure."""

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Outgoing:
    """One message to hand to the provider: to whom, what (a text and its media, or an
    approved WhatsApp template: `content_sid` and its rendered `content_variables`), from
    which sender ("": the default; its own Messaging Service when it has one), and where
    its status callbacks go."""

    to: str
    body: str = ""
    media_urls: tuple[str, ...] = ()
    status_callback: str = ""
    sender: str = ""
    messaging_service_sid: str = ""
    content_sid: str = ""
    content_variables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SendResult:
    """What the provider answered: its message id and its first status."""

    sid: str
    status: str


class SendError(Exception):
    """The message was not accepted by the provider."""

    def __init__(self, message: str = "", *, code: str = "") -> None:
        super().__init__(message)
        self.code = str(code or "")
        self.message = message


class TransientSendError(SendError):
    """Worth trying again later: 429/20429, 5xx, timeouts, connection errors.
    `retry_after`: the seconds the provider asked us to wait (its Retry-After), if any."""

    def __init__(self, message: str = "", *, code: str = "", retry_after: float | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class PermanentSendError(SendError):
    """Never worth retrying as is: Twilio's 4xx error JSON ``{"code": N, "message": …}``."""

    def __init__(self, code: int | str, message: str = "") -> None:
        super().__init__(message, code=str(code))


class BaseSmsBackend:
    """Subclass and implement `send`. Backends are cheap to build; expensive state
    (HTTP sessions) is kept per process by the backend module itself.

    `send` hands one message over: `to` and `sender` are addresses as Twilio writes them
    (``+1…``, a short code, ``whatsapp:+1…``); `messaging_service_sid` sends through that
    Messaging Service instead of `sender`; neither: the default sender of the settings
    (TWILIO_MESSAGING_SERVICE_SID, else TWILIO_FROM_NUMBER). `content_sid` with
    `content_variables`: an approved template goes instead of `body` (WhatsApp outside its
    24-hour window, docs/reference.md §8)."""

    def __init__(self, *, timeout: float | None = None) -> None:
        self.timeout = timeout

    def send(self, message: Outgoing) -> SendResult:
        raise NotImplementedError
