"""URLs of the automation app (included from smsjourney.urls)."""

from django.urls import path

from automation.doors.links import link_redirect
from automation.doors.twilio import inbound_sms_webhook, twilio_status

urlpatterns: list = [
    path("twilio/sms/", inbound_sms_webhook, name="twilio_sms"),  # POST: Twilio's inbound webhook
    path("twilio/status/", twilio_status, name="twilio_status"),  # POST: delivery status callbacks
    path("l/<str:code>", link_redirect, name="link_redirect"),  # GET: a tracked link (docs/reference.md §7)
]
