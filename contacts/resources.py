"""Contacts as CSV, both ways (django-import-export).

Import rules:
- rows are matched on the phone number, normalised to E.164 first (``(415) 555-0100``
  and ``+14155550100`` are the same contact); numbers without a country code are read
  in ``PHONE_DEFAULT_REGION``;
- a bad row (no or invalid phone, invalid e-mail or timezone, the same phone twice, a
  simulator number) is reported with its row number (1 = the first row after the
  header) and the reason, and then nothing of the file is imported;
- the opt-out status is never changed by an import: the ``opted_out`` column is
  exported for information and ignored on the way in (consent changes only through
  the contact's keywords, the API, the admin or the carrier, and are logged).

Export leaves out test contacts (the simulator's), and a text cell that a spreadsheet would
run as a formula (it starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is
written with a leading apostrophe, as OWASP advises; an import takes that apostrophe off
again. (django-import-export's IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT only strips a
leading ``=``.) The phone column is exempt: it is validated E.164, digits after a ``+``.
"""

from functools import cache
from zoneinfo import available_timezones

import tablib
from django.core.exceptions import ValidationError
from import_export import fields, resources, widgets

from contacts.models import Contact
from contacts.phone import phone_normalize

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def formula_escape(value):
    """A cell as a spreadsheet may show it but never run it."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def formula_unescape(value):
    if isinstance(value, str) and value.startswith("'") and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value


@cache
def _timezones() -> frozenset[str]:
    return frozenset(available_timezones())


class ContactResource(resources.ModelResource):
    opted_out = fields.Field(
        attribute="opted_out", column_name="opted_out", readonly=True, widget=widgets.BooleanWidget()
    )

    class Meta:
        model = Contact
        fields = ("phone", "first_name", "last_name", "email", "timezone", "locale", "opted_out")
        export_order = fields
        import_id_fields = ("phone",)
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = True
        use_transactions = True

    def before_import(self, dataset, **kwargs):
        self._seen_phones: dict[str, int] = {}
        super().before_import(dataset, **kwargs)

    def export_field(self, field, instance, **kwargs):
        value = super().export_field(field, instance, **kwargs)
        return value if field.column_name == "phone" else formula_escape(value)

    def before_import_row(self, row, row_number=None, **kwargs):
        for key, value in list(row.items()):
            row[key] = formula_unescape(value)
        raw = str(row.get("phone") or "")
        try:
            phone = phone_normalize(raw)
        except ValidationError as exc:
            raise ValidationError({"phone": exc.messages}) from exc
        first = self._seen_phones.setdefault(phone, row_number)
        if first != row_number:
            raise ValidationError({"phone": f"{phone} is already in row {first} of this file."})
        row["phone"] = phone
        zone = str(row.get("timezone") or "").strip()
        if zone and zone not in _timezones():
            raise ValidationError({"timezone": f"{zone[:64]} is not a known timezone (e.g. Europe/Paris)."})
        super().before_import_row(row, row_number=row_number, **kwargs)

    def after_init_instance(self, instance, new, row, **kwargs):
        if not new and instance.is_test:
            raise ValidationError({"phone": f"{instance.phone} belongs to a simulator test contact."})
        super().after_init_instance(instance, new, row, **kwargs)

    def import_data(self, dataset, dry_run=False, raise_errors=False, use_transactions=None, **kwargs):
        problem = _dataset_problem(dataset)
        if problem:  # the file as a whole is unusable: say so, touch nothing
            result = self.get_result_class()()
            result.diff_headers = list(dataset.headers or [])
            result.append_base_error(self.get_error_result_class()(ValidationError(problem)))
            return result
        # All or nothing: any bad row rolls the whole file back, validation errors included.
        kwargs["rollback_on_validation_errors"] = True
        return super().import_data(
            dataset, dry_run=dry_run, raise_errors=raise_errors, use_transactions=True, **kwargs
        )

    def filter_export(self, queryset, **kwargs):
        return super().filter_export(queryset, **kwargs).filter(is_test=False)


def _dataset_problem(dataset) -> str | None:
    """Why a loaded file cannot be imported at all (no header row, no phone column)."""
    headers = [str(h).strip() for h in (dataset.headers or []) if h is not None]
    if not headers:
        return (
            "The file's columns cannot be read. A CSV or TSV file needs a header row naming "
            "its columns (phone, first_name, last_name, email, timezone, locale); a JSON file "
            'a list of objects such as {"phone": "+14155550100", "first_name": "Ann"}; an HTML '
            "file a table whose <thead> names the columns."
        )
    if "phone" not in headers:
        return f"The file needs a 'phone' column (its columns: {', '.join(headers[:10])})."
    return None


def contacts_import_csv(*, data: str, dry_run: bool = False):
    """Import contacts from CSV text; returns django-import-export's Result. Nothing is
    saved when any row is bad (see `result.has_errors()` / `result.has_validation_errors()`)."""
    dataset = tablib.Dataset().load(data, format="csv")
    return ContactResource().import_data(dataset, dry_run=dry_run)


def import_problems(result) -> list[str]:
    """The bad rows of an import result, as ``row N: reason`` lines."""
    if result.base_errors:  # the file as a whole is unusable: rows would only repeat it
        return [
            " ".join(getattr(error.error, "messages", [str(error.error)])) for error in result.base_errors
        ]
    problems = []
    for invalid in result.invalid_rows:
        for field_name, messages in invalid.field_specific_errors.items():
            for message in messages:
                problems.append(f"row {invalid.number}: {field_name}: {message}")
        for message in invalid.non_field_specific_errors:
            problems.append(f"row {invalid.number}: {message}")
    for number, errors in result.row_errors():
        for error in errors:
            problems.append(f"row {number}: {error.error}")
    return problems
