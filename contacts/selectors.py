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
