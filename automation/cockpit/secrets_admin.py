"""Web service secrets (docs/reference.md §6 `http` headers): values a plan names and never holds.
Only users given this model's permissions see these pages (superusers; the Marketers group
has none). A value is written, never shown back: not on the form, not to a user who may
only view, not in the history (which names the fields changed)."""

from django import forms
from django.contrib import admin

from automation.models import HttpSecret


class HttpSecretForm(forms.ModelForm):
    value = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="The whole header value, e.g. Bearer sk_live_…. It is never shown again; "
        "leave this empty to keep the current one.",
    )

    class Meta:
        model = HttpSecret
        fields = ["name", "value", "note"]

    def clean_value(self):
        value = self.cleaned_data["value"]
        if not value:
            if self.instance.pk is None:
                raise forms.ValidationError("Enter the value plans will send.")
            return self.instance.value
        if "\r" in value or "\n" in value:
            raise forms.ValidationError("A header value is one line.")
        return value


@admin.register(HttpSecret)
class HttpSecretAdmin(admin.ModelAdmin):
    form = HttpSecretForm
    list_display = ["name", "note", "updated_at"]
    search_fields = ["name", "note"]
    readonly_fields = ["updated_at"]

    def get_fields(self, request, obj=None):
        if obj is not None and not self.has_change_permission(request, obj):
            return ["name", "note", "updated_at"]  # looking, not changing: never the value
        return ["name", "value", "note", "updated_at"]
