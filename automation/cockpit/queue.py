"""The sending queue (docs/cockpit.md, "The sending queue"): per sender, the texts waiting
in the reply lane and in the campaign lane, the rate Twilio takes them at now, and when
the campaign will have drained. Wired in smsjourney/urls.py for whoever may see the
senders (superusers; Marketers, automation 0021); a thin door onto
``messaging.selectors.sender_queues``."""

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse

from messaging.models import Sender
from messaging.selectors import RATE_WINDOW_SECONDS, sender_queues

# The page reloads itself this often (seconds) while a campaign drains.
REFRESH_SECONDS = 30


def sending_queue_view(request: HttpRequest) -> TemplateResponse:
    queues = sender_queues()
    context = {
        **admin.site.each_context(request),
        "title": "Sending queue",
        "queues": queues,
        "rate_window": RATE_WINDOW_SECONDS,
        "refresh": REFRESH_SECONDS,
        # The Senders page is where limits change: its own rule says who may (superusers).
        "can_change_senders": admin.site.get_model_admin(Sender).has_change_permission(request),
    }
    return TemplateResponse(request, "cockpit/sending_queue.html", context)
