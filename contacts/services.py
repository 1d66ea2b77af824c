"""Contact services. Owner: engine (issue 3). Signatures are shared with other apps."""

from django.contrib.auth.models import AbstractBaseUser

from contacts.models import Contact


def contact_get_or_create_locked(*, phone: str) -> tuple["Contact", bool]:
    """Inside an atomic block: return the contact for an E.164 `phone`, created if new,
    with its row locked (SELECT … FOR UPDATE). Safe against concurrent first messages."""
    raise NotImplementedError


def contact_opt_out(
    *, contact: "Contact", source: str, detail: str = "", actor: AbstractBaseUser | None = None
) -> bool:
    """Opt the contact out, end its active enrollments as opted_out, cancel its unsent
    messages, write the consent log. Returns False if it was opted out already."""
    raise NotImplementedError


def contact_opt_in(
    *, contact: "Contact", source: str, detail: str = "", actor: AbstractBaseUser | None = None
) -> bool:
    """Opt an opted-out contact back in (no enrollment resumes). False if it was not opted out."""
    raise NotImplementedError
