"""URLs of the automation app (included from smsjourney.urls)."""

from django.urls import path

from automation.apis import inbound_sms_webhook, twilio_status
from automation.link_views import link_redirect

urlpatterns: list = [
    path("twilio/sms/", inbound_sms_webhook, name="twilio_sms"),  # POST: Twilio's inbound webhook
    path("twilio/status/", twilio_status, name="twilio_status"),  # POST: delivery status callbacks
    path("l/<str:code>", link_redirect, name="link_redirect"),  # GET: a tracked link (CONTRACT §7)
]
