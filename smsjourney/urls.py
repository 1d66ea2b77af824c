from django.contrib import admin
from django.contrib.auth.decorators import permission_required
from django.urls import include, path, reverse_lazy
from django.views.generic import RedirectView

from automation.cockpit.dashboard import dashboard_view
from automation.cockpit.health import health_view
from automation.cockpit.preview import sms_preview_view
from automation.cockpit.queue import sending_queue_view
from smsjourney.health import healthz
from smsjourney.metrics import metrics_view

# The product is its admin: its name on every page, and no "View site" link (there is no
# public site; "/" leads to the admin).
admin.site.site_header = "smsjourney"
admin.site.site_title = "smsjourney"
admin.site.index_title = "Journeys, contacts and messages"
admin.site.site_url = None

urlpatterns = [
    path("", RedirectView.as_view(url=reverse_lazy("admin:index"), permanent=False)),
    # The text preview of the plan page: for those who may edit plans.
    path(
        "admin/preview-text/",
        admin.site.admin_view(
            permission_required("automation.change_plan", raise_exception=True)(sms_preview_view)
        ),
        name="sms_preview",
    ),
    # The sending queue per sender: for those who may see the senders (Marketers, superusers).
    path(
        "admin/sending-queue/",
        admin.site.admin_view(
            permission_required("messaging.view_sender", raise_exception=True)(sending_queue_view)
        ),
        name="sending_queue",
    ),
    # The health page (is the product answering people?): for those who may see the senders.
    path(
        "admin/health/",
        admin.site.admin_view(
            permission_required("messaging.view_sender", raise_exception=True)(health_view)
        ),
        name="health",
    ),
    # The admin's home is the dashboard (for whoever may see the plans; the plain index else).
    path("admin/", admin.site.admin_view(dashboard_view), name="dashboard"),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),  # the database answers: 200, else 503
    path("metrics", metrics_view, name="metrics"),  # Prometheus, with METRICS_TOKEN (reference §9)
    path("api/", include("automation.doors.api_urls")),  # GET /api/contacts/…, POST /api/events/
    path("", include("automation.doors.urls")),  # POST /twilio/sms/, POST /twilio/status/
]
