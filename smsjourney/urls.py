from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("tracking.urls")),  # POST /twilio/sms/, GET /healthz
    path("", include("messaging.urls")),  # POST /twilio/status/
    path("api/", include("contacts.urls")),  # GET /api/contacts/…
    path("", include("automation.urls")),
]
