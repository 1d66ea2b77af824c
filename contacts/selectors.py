"""Reads of contacts that other apps use."""

from contacts.models import Contact

# What a marketer's text may show of a contact (messaging.rendering): its own fields only.
TEMPLATE_FIELDS = ("phone", "first_name", "last_name", "email", "timezone", "locale")


def contact_template_values(contact: Contact) -> dict:
    """The contact as a text template sees it: plain values of its own fields and its
    ``attributes`` — never the model instance (no relations, no methods)."""
    values = {name: getattr(contact, name) for name in TEMPLATE_FIELDS}
    values["attributes"] = dict(contact.attributes or {}) if isinstance(contact.attributes, dict) else {}
    values["name"] = f"{contact.first_name} {contact.last_name}".strip()
    return values


CONSENT_COLUMNS = (
    "occurred_at", "phone", "kind", "source", "rule", "text", "detail", "by", "test_contact",
)  # fmt: skip


def consent_log_rows(*, batch_size: int = 2000):
    """Every consent event, oldest first, as the rows of the consent export (docs/reference.md §5,
    an audit): when, whose number, opt-out or opt-in, its source, the rule that recognised
    it, the contact's exact text, the detail, who (a person, for the admin and imports: the
    name kept with the change, else their user's).
    Read in batches by id, so a long log never sits in memory."""
    from contacts.models import ConsentEvent

    last = 0
    while True:
        batch = list(
            ConsentEvent.objects.filter(pk__gt=last)
            .order_by("pk")
            .values_list(
                "pk", "occurred_at", "contact__phone", "kind", "source", "rule", "text", "detail",
                "actor_name", "actor__username", "contact__is_test",
            )[:batch_size]
        )  # fmt: skip
        if not batch:
            return
        last = batch[-1][0]
        for _, at, phone, kind, source, rule, text, detail, name, username, is_test in batch:
            yield (
                at.isoformat(),
                phone,
                kind,
                source,
                rule,
                text,
                detail,
                name or username or "",
                "yes" if is_test else "",
            )
