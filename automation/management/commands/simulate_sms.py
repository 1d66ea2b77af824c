"""simulate_sms FROM_NUMBER "TEXT": what would the contact be sent back? (docs/reference.md §4)"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from automation.engine.simulate_sms import simulator_message_run
from contacts.phone import phone_normalize


class Command(BaseCommand):
    help = (
        "Run the inbound pipeline locally for one message (no Twilio, no signature) and print "
        "what the contact would be sent back. Stores nothing, sends nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "from_number", help="The sender, e.g. +14155550123 (national numbers: PHONE_DEFAULT_REGION)."
        )
        parser.add_argument("text", help="The message text.")

    def handle(self, *args, from_number: str, text: str, **options):
        try:
            phone = phone_normalize(from_number, region=settings.PHONE_DEFAULT_REGION)
        except ValidationError as exc:
            raise CommandError(
                f"{from_number!r} is not a usable phone number: {' '.join(exc.messages)}"
            ) from exc
        replies = simulator_message_run(phone=phone, body=text)
        if not replies:
            self.stdout.write(f"{phone} would be sent nothing.")
            return
        for reply in replies:
            note = (
                f" (held for quiet hours until {reply.send_after:%Y-%m-%d %H:%M %Z})"
                if reply.status == "held"
                else ""
            )
            self.stdout.write(f"→ {phone}: {reply.body}{note}")
