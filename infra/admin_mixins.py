"""Admin building blocks every app shares (below every app: it imports none)."""


class ReadOnlyAdminMixin:
    """History is written by the engine, never edited by hand: view only, for everyone."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInlineMixin(ReadOnlyAdminMixin):
    extra = 0
    can_delete = False
    show_change_link = True

    def get_readonly_fields(self, request, obj=None):
        return self.fields or [f.name for f in self.model._meta.fields]


def test_contacts_filter(lookup: str) -> type:
    """A list filter that leaves the simulator's test contacts out of a list (and its count)
    unless a person asks for them; `lookup` leads to ``Contact.is_test``
    (``"is_test"``, ``"contact__is_test"``)."""
    from django.contrib import admin

    class TestContactsFilter(admin.SimpleListFilter):
        title = "test contacts"
        parameter_name = "test_contacts"

        def lookups(self, request, model_admin):
            return [("include", "Included"), ("only", "Only them")]

        def choices(self, changelist):
            yield {
                "selected": self.value() is None,
                "query_string": changelist.get_query_string(remove=[self.parameter_name]),
                "display": "Left out",
            }
            for value, label in self.lookup_choices:
                yield {
                    "selected": self.value() == value,
                    "query_string": changelist.get_query_string({self.parameter_name: value}),
                    "display": label,
                }

        def queryset(self, request, queryset):
            if self.value() == "include":
                return queryset
            return queryset.filter(**{lookup: self.value() == "only"})

    return TestContactsFilter
