import sys

from django.core.management.base import BaseCommand

from messaging.senders import SenderInvalid, sender_save


class Command(BaseCommand):
    help = (
        "Create or update a sender (docs/reference.md §4, §8): an E.164 number, a short code or "
        "whatsapp:+E164. --mps 0 removes its limit."
    )

    def add_arguments(self, parser):
        parser.add_argument("address", help="+15017122661, 12345 or whatsapp:+15017122661")
        parser.add_argument(
            "--mps", type=int, help="Segments a second Twilio is handed at most; 0: no limit."
        )
        parser.add_argument("--messaging-service-sid", help="MG and 32 hex digits.")
        parser.add_argument("--name", help="A name people know it by.")

    def handle(self, *args, address: str, mps, messaging_service_sid, name, **options):
        try:
            sender = sender_save(
                address=address, mps=mps, messaging_service_sid=messaging_service_sid, name=name
            )
        except SenderInvalid as exc:
            # docs/reference.md §4: the reason on standard error, exit 1, nothing changed.
            self.stderr.write(str(exc))
            sys.exit(1)
        self.stdout.write(f"Sender {sender.address} saved")
