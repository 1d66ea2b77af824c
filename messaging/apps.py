from django.apps import AppConfig
from django.core import checks


class MessagingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "messaging"

    def ready(self) -> None:
        checks.register(program_texts_check)


def program_texts_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """`manage.py check` (and start-up) warns when a configured text carriers audit lacks
    what they look for (messaging.program_texts)."""
    from django.conf import settings

    from messaging.program_texts import program_text_missing

    found = []
    for index, name in enumerate(("SMS_HELP_TEXT", "SMS_OPT_IN_CONFIRMATION"), start=1):
        text = getattr(settings, name, "")
        missing = program_text_missing(text) if text else []
        if missing:
            found.append(
                checks.Warning(
                    f"{name} lacks what carriers audit: {', '.join(missing)}.",
                    hint="CTIA: name the program, say the frequency, 'Msg & data rates may apply', "
                    "and how to opt out.",
                    id=f"messaging.W00{index}",
                )
            )
    return found
