"""URLs of the tracking app (included from smsjourney.urls)."""

from django.urls import path

from smsjourney.health import healthz
from tracking.apis import inbound_sms_webhook

urlpatterns: list = [
    path("twilio/sms/", inbound_sms_webhook, name="twilio_sms"),
    path("healthz", healthz, name="healthz"),
]
