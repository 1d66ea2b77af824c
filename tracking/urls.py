"""URLs of the tracking app (included from smsjourney.urls)."""

from django.urls import path

from smsjourney.health import healthz

urlpatterns: list = [
    path("healthz", healthz, name="healthz"),
]
