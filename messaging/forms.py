from django import forms

from messaging.models import SmsMessage
from messaging.preview import sms_template_error


class SmsMessageForm(forms.ModelForm):
    """An SMS message type; a body that does not render for the sample contact is refused."""

    media_url = forms.URLField(required=False, assume_scheme="https", help_text="Optional image (MMS).")

    class Meta:
        model = SmsMessage
        fields = ["name", "body", "media_url"]
        widgets = {"body": forms.Textarea(attrs={"rows": 4, "cols": 60, "data-sms-preview": "1"})}

    def clean_body(self) -> str:
        body = self.cleaned_data["body"]
        if not body.strip():
            raise forms.ValidationError("Write the text to send.")
        error = sms_template_error(template=body)
        if error:
            raise forms.ValidationError(error)
        return body
