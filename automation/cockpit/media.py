"""The media of a message (MMS, WhatsApp: docs/reference.md §3) as the cockpit shows them:
a thumbnail where the site's Content-Security-Policy lets the browser load an image from
that URL, else a plain link — never an ``<img>`` the policy would block. A URL that is not
http(s) is shown as text, never as a link.

The policy is django-csp's ``CONTENT_SECURITY_POLICY`` (smsjourney/settings.py): by default
images load only from the site itself, so a Twilio media URL is a link. An operator who
adds Twilio's media hosts to ``img-src`` gets thumbnails (Twilio answers a media URL with
a redirect to its storage host, which must be allowed too)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

_IMAGE_ENDINGS = (".jpg", ".jpeg", ".png", ".gif", ".webp")
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class MediaShown:
    url: str
    content_type: str
    link: bool  # an http(s) URL: shown as a link
    thumbnail: bool  # an image the policy lets the browser load: shown as one

    @property
    def name(self) -> str:
        """What the link says: the file's last path segment, else the host."""
        parts = urlsplit(self.url)
        return parts.path.rstrip("/").rsplit("/", 1)[-1] or parts.hostname or self.url[:60]


def media_shown(media) -> list[MediaShown]:
    """A message's media ([{"url", "content_type"}], as tracking keeps them) as shown."""
    shown = []
    for item in media or ():
        if not isinstance(item, dict):
            continue
        url, content_type = str(item.get("url") or ""), str(item.get("content_type") or "")
        if not url:
            continue
        try:
            parts = urlsplit(url)
        except ValueError:  # not a URL at all ("https://[oops"): shown as text
            shown.append(MediaShown(url, content_type, link=False, thumbnail=False))
            continue
        link = parts.scheme in _DEFAULT_PORTS and bool(parts.hostname) and _port(parts) is not False
        image = content_type.startswith("image/") or (
            not content_type and parts.path.lower().endswith(_IMAGE_ENDINGS)
        )
        shown.append(MediaShown(url, content_type, link, link and image and csp_allows_image(url)))
    return shown


def csp_allows_image(url: str) -> bool:
    """Whether the site's Content-Security-Policy lets a page load an image from `url`
    (its ``img-src``, else ``default-src``; no policy: yes). ``'self'`` is the site's public
    origin (``PUBLIC_BASE_URL``)."""
    policy = getattr(settings, "CONTENT_SECURITY_POLICY", None)
    directives = (policy or {}).get("DIRECTIVES") if isinstance(policy, dict) else None
    if not directives:
        return True
    sources = directives.get("img-src", directives.get("default-src"))
    if sources is None:
        return True
    target = urlsplit(url)
    return any(_source_matches(str(source), target) for source in sources)


def _source_matches(source: str, target) -> bool:
    """One CSP source expression against an http(s) URL (CSP level 3, without nonces and
    hashes, which do not apply to images)."""
    source = source.strip()
    scheme = target.scheme
    if source == "*":
        return True
    if source == "'self'":
        origin = urlsplit(settings.PUBLIC_BASE_URL or "")
        return bool(origin.hostname) and _same_origin(origin, target)
    if source.startswith("'"):  # 'none', 'unsafe-inline' …
        return False
    if source.endswith(":") and "/" not in source:  # a scheme: https:, http:, data:
        wanted = source[:-1].lower()
        return scheme == wanted or (wanted == "http" and scheme == "https")
    parts = urlsplit(source if "://" in source else f"{scheme}://{source}")
    if parts.scheme != scheme and not (parts.scheme == "http" and scheme == "https"):
        return False
    host, wanted_host = (target.hostname or "").lower(), (parts.hostname or "").lower()
    if source.split("://")[-1].startswith("*."):
        if not host.endswith("." + wanted_host.removeprefix("*.")):
            return False
    elif host != wanted_host:
        return False
    if not parts.netloc.endswith(":*"):
        port = _port(parts)
        if port is False:
            return False
        if port is None:  # the source's default port: the URL's must be its scheme's default
            if _port(target) not in (None, _DEFAULT_PORTS[scheme]):
                return False
        elif port != (_port(target) or _DEFAULT_PORTS[scheme]):
            return False
    path = parts.path
    if not path or path == "/":
        return True
    return target.path.startswith(path) if path.endswith("/") else target.path == path


def _port(parts) -> int | bool | None:
    """The URL's port as written (None: none written; False: not a port)."""
    try:
        return parts.port
    except ValueError:
        return False


def _same_origin(origin, target) -> bool:
    def key(parts):
        return parts.scheme, (parts.hostname or "").lower(), _port(parts) or _DEFAULT_PORTS.get(parts.scheme)

    return key(origin) == key(target)
