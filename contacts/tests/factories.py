import factory

from contacts.models import Contact


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact
        django_get_or_create = ("phone",)

    phone = factory.Sequence(lambda n: f"+1212555{n % 10000:04d}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
