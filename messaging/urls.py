"""URLs of the messaging app (included from smsjourney.urls)."""

from django.urls import path

from messaging import apis

urlpatterns: list = [
    path("twilio/status/", apis.twilio_status, name="twilio_status"),
]
