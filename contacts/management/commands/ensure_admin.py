import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction


class Command(BaseCommand):
    help = (
        "Make sure a superuser exists: if none does, create `admin` with a random password, "
        "printed once. Prints nothing secret otherwise."
    )

    @transaction.atomic
    def handle(self, *args, **options):
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write("A superuser exists already: nothing to do.")
            return
        username = "admin"
        if User.objects.filter(username=username).exists():
            username = f"admin-{secrets.token_hex(3)}"
        password = secrets.token_urlsafe(18)
        User.objects.create_superuser(username=username, email="", password=password)
        self.stdout.write(
            self.style.SUCCESS(
                f"Created superuser “{username}” with password: {password}\n"
                "This password is shown only this once: note it, or change it in the admin."
            )
        )
