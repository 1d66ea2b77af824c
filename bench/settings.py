"""Settings of the benchmark's gunicorn: the product's own settings, plus the bench-only
reference views (``bench.reference``) mounted beside the product's URLs.

Only ``bench/*.py`` scripts point ``DJANGO_SETTINGS_MODULE`` here; the product never does.
"""

from smsjourney.settings import *  # noqa: F403

ROOT_URLCONF = "bench.reference"
