"""Bench-only reference views, served by the same gunicorn as the product (see
``bench/settings.py``) so that the webhook is compared with them in one server config:

- ``POST /bench/ok/`` — the trivial Django view: the cost of Django + gunicorn alone.
- ``POST /bench/floor/`` — the *durable floor*: the least any durable webhook must do,
  one INSERT of the raw payload, committed (autocommit), then the same empty TwiML answer.

The floor's table is created by the bench with raw SQL (``FLOOR_DDL``); it is no model
and no migration, and none of this is reachable from the product's URLconf.
"""

import json

from django.db import connection
from django.http import HttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

FLOOR_TABLE = "bench_floor_payload"
FLOOR_DDL = f"""
CREATE TABLE IF NOT EXISTS {FLOOR_TABLE} (
    id bigserial PRIMARY KEY,
    payload jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
)
"""
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


@csrf_exempt
def trivial(request):
    return HttpResponse("ok", content_type="text/plain")


@csrf_exempt
@require_POST
def durable_floor(request):
    payload = json.dumps(request.POST.dict())
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {FLOOR_TABLE} (payload) VALUES (%s)", [payload])
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")


urlpatterns = [
    path("bench/ok/", trivial),
    path("bench/floor/", durable_floor),
    path("", include("smsjourney.urls")),
]
