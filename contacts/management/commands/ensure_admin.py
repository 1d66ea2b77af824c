import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

RULE = "=" * 72


class Command(BaseCommand):
    help = (
        "Make sure a superuser exists: if none does, create `admin` with a random password, "
        "printed once. Prints nothing secret otherwise. Ends with one block saying where to "
        "log in (`make run`'s last words before the server starts)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--url", default="", help="Where the admin will be served, shown in the block (make run's)."
        )

    @transaction.atomic
    def handle(self, *args, url: str = "", **options):
        User = get_user_model()
        existing = User.objects.filter(is_superuser=True).order_by("pk").first()
        if existing is not None:
            name = existing.get_username()
            lines = [
                f"user:      {name}",
                "password:  the one noted when it was created. A superuser exists already: nothing to do.",
                f"           (forgotten? .venv/bin/python manage.py changepassword {name})",
            ]
        else:
            name = "admin"
            if User.objects.filter(username=name).exists():
                name = f"admin-{secrets.token_hex(3)}"
            password = secrets.token_urlsafe(18)
            User.objects.create_superuser(username=name, email="", password=password)
            lines = [
                f"user:      {name}",
                f"password:  {password}",
                "           (shown only this once: note it now, or change it in the admin)",
            ]
        head = [f"smsjourney: log in at {url}"] if url else ["smsjourney admin"]
        block = "\n".join([RULE, *(f"  {line}" for line in head + lines), RULE])
        self.stdout.write(self.style.SUCCESS(block) if existing is None else block)
