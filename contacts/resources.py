"""Contacts as a file, out (django-import-export's admin export); imports go through
``contacts.imports`` (in the background, with progress).

Export leaves out test contacts (the simulator's), and a text cell that a spreadsheet would
run as a formula (it starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is
written with a leading apostrophe, as OWASP advises; an import takes that apostrophe off
again. (django-import-export's IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT only strips a
leading ``=``.) The phone column is exempt: it is validated E.164, digits after a ``+``.
"""

from import_export import fields, resources, widgets

from contacts.models import Contact

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
COLUMNS = ("phone", "first_name", "last_name", "email", "timezone", "locale")


def formula_escape(value):
    """A cell as a spreadsheet may show it but never run it."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def formula_unescape(value):
    if isinstance(value, str) and value.startswith("'") and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value


def dataset_problem(dataset) -> str | None:
    """Why a loaded file cannot be imported at all (no header row, no phone column)."""
    headers = [str(h).strip() for h in (dataset.headers or []) if h is not None]
    if not headers:
        return (
            "The file's columns cannot be read. A CSV or TSV file needs a header row naming "
            f"its columns ({', '.join(COLUMNS)}); a JSON file "
            'a list of objects such as {"phone": "+14155550100", "first_name": "Ann"}; an HTML '
            "file a table whose <thead> names the columns."
        )
    if "phone" not in headers:
        return f"The file needs a 'phone' column (its columns: {', '.join(headers[:10])})."
    return None


class ContactResource(resources.ModelResource):
    opted_out = fields.Field(
        attribute="opted_out", column_name="opted_out", readonly=True, widget=widgets.BooleanWidget()
    )

    class Meta:
        model = Contact
        fields = (*COLUMNS, "opted_out")
        export_order = fields

    def export_field(self, field, instance, **kwargs):
        value = super().export_field(field, instance, **kwargs)
        return value if field.column_name == "phone" else formula_escape(value)

    def filter_export(self, queryset, **kwargs):
        return super().filter_export(queryset, **kwargs).filter(is_test=False)
