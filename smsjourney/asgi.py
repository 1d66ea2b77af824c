"""
ASGI config for smsjourney project.

It exposes the ASGI callable as a module-level variable named ``application``.

For more information on this file, see
https://docs.djangoproject.com/en/5.2/howto/deployment/asgi/
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smsjourney.settings")

application = get_asgi_application()

# Without a broker, this serving process runs the periodic jobs, sends and retries itself.
from smsjourney.celery import start_beat_schedule  # noqa: E402

start_beat_schedule()
