"""
WSGI config for smsjourney project.

It exposes the WSGI callable as a module-level variable named ``application``.

For more information on this file, see
https://docs.djangoproject.com/en/5.2/howto/deployment/wsgi/
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smsjourney.settings")

application = get_wsgi_application()

# Without a broker, this serving process runs the periodic jobs, sends and retries itself.
from smsjourney.celery import start_beat_schedule  # noqa: E402

start_beat_schedule()
