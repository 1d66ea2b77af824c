import factory

from messaging.models import SmsMessage


class SmsMessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SmsMessage

    name = factory.Sequence(lambda n: f"Message {n}")
    body = "Hi {{ contact.first_name }}! Reply YES."
