import csv
import html
import io
import re

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile

from contacts.models import Contact
from contacts.resources import ContactResource, contacts_import_csv, import_problems
from contacts.tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

HEADER = "phone,first_name,last_name,email,timezone,opted_out\n"


def test_import_normalises_phones_and_creates_or_updates():
    ContactFactory(phone="+14155550101", first_name="Old")
    data = HEADER + "(415) 555-0101,Ann,Lee,ann@example.com,America/Los_Angeles,\n+44 20 7946 0958,Bo,,,,\n"

    result = contacts_import_csv(data=data)

    assert import_problems(result) == []
    ann = Contact.objects.get(phone="+14155550101")
    assert (ann.first_name, ann.email, ann.timezone) == ("Ann", "ann@example.com", "America/Los_Angeles")
    assert Contact.objects.filter(phone="+442079460958", first_name="Bo").exists()
    assert Contact.objects.count() == 2


def test_bad_rows_are_reported_by_row_with_the_reason_and_nothing_is_imported():
    ContactFactory(phone="+14155550101", first_name="Old")
    data = (
        HEADER + "+14155550101,New,,,,\n"  # row 1: fine on its own
        "12,Bad,,,,\n"  # row 2: not a phone number
        "+14155550102,Mail,,not-an-email,,\n"  # row 3: bad e-mail
        "415-555-0101,Twice,,,,\n"  # row 4: same phone as row 1
        "+14155550103,Zone,,,Mars/Olympus,\n"  # row 5: unknown timezone
    )

    result = contacts_import_csv(data=data)
    problems = import_problems(result)

    assert problems[0] == "row 2: phone: 12 is not a valid phone number."
    assert any(p.startswith("row 3: email:") for p in problems)
    assert "row 4: phone: +14155550101 is already in row 1 of this file." in problems
    assert any(p.startswith("row 5: timezone: Mars/Olympus") for p in problems)
    assert not any(p.startswith("row 1") for p in problems)
    # All or nothing: row 1 was not applied either.
    assert list(Contact.objects.values_list("phone", "first_name")) == [("+14155550101", "Old")]


def test_missing_phone_column_is_a_clear_error():
    result = contacts_import_csv(data="name\nAnn\n")
    assert import_problems(result) == ["The file needs a 'phone' column (its columns: name)."]
    assert not Contact.objects.exists()


def test_opt_out_status_is_never_changed_by_an_import():
    ContactFactory(phone="+14155550101", opted_out=True)
    ContactFactory(phone="+14155550102", opted_out=False)
    data = HEADER + "+14155550101,A,,,,0\n+14155550102,B,,,,1\n+14155550103,C,,,,yes\n"

    result = contacts_import_csv(data=data)

    assert import_problems(result) == []
    assert dict(Contact.objects.values_list("phone", "opted_out")) == {
        "+14155550101": True,
        "+14155550102": False,
        "+14155550103": False,
    }
    assert not Contact.objects.get(phone="+14155550101").consent_events.exists()


def test_simulator_numbers_cannot_be_imported_over():
    ContactFactory(phone="+12025550123", is_test=True, first_name="Sim")
    problems = import_problems(contacts_import_csv(data=HEADER + "+12025550123,Real,,,,\n"))
    assert problems == ["row 1: phone: +12025550123 belongs to a simulator test contact."]
    assert Contact.objects.get(phone="+12025550123").first_name == "Sim"


def test_export_leaves_out_test_contacts():
    ContactFactory(phone="+14155550101", first_name="Ann", opted_out=True)
    ContactFactory(phone="+12025550123", is_test=True)
    rows = list(csv.DictReader(io.StringIO(ContactResource().export().csv)))
    assert [(r["phone"], r["first_name"], r["opted_out"]) for r in rows] == [("+14155550101", "Ann", "1")]


# Through the admin's pages (django-import-export's two-step import: preview, then confirm).


@pytest.fixture
def staff(django_user_model):
    user = django_user_model.objects.create_user("marketer", password="pw", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_contact", "add_contact", "change_contact"], content_type__app_label="contacts"
        )
    )
    return user


def test_admin_import_preview_shows_bad_rows_and_offers_no_confirm(client, staff):
    client.force_login(staff)
    upload = SimpleUploadedFile("contacts.csv", (HEADER + "+14155550101,Ann,,,,\nnope,Bad,,,,\n").encode())
    response = client.post(
        "/admin/contacts/contact/import/", {"resource": 0, "format": 0, "import_file": upload}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "nope is not a phone number." in html
    assert response.context.get("confirm_form") is None  # nothing to confirm: the file is refused
    assert not Contact.objects.exists()


def test_admin_import_then_confirm_creates_contacts(client, staff):
    client.force_login(staff)
    upload = SimpleUploadedFile("contacts.csv", (HEADER + "(415) 555-0101,Ann,,,,\n").encode())
    preview = client.post(
        "/admin/contacts/contact/import/", {"resource": 0, "format": 0, "import_file": upload}
    )
    confirm = preview.context["confirm_form"]
    assert confirm is not None
    response = client.post("/admin/contacts/contact/process_import/", confirm.initial)
    assert response.status_code == 302
    assert Contact.objects.get().phone == "+14155550101"


def test_admin_export_csv(client, staff):
    ContactFactory(phone="+14155550101", first_name="Ann")
    client.force_login(staff)
    ContactFactory(phone="+12025550100", is_test=True)
    fields = ["phone", "first_name", "last_name", "email", "timezone", "locale", "opted_out"]
    response = client.post(
        "/admin/contacts/contact/export/",
        {"format": 0, "resource": 0, **{f"contactresource_{name}": "on" for name in fields}},
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["phone"], r["first_name"]) for r in rows] == [("+14155550101", "Ann")]


def test_import_needs_the_right_to_add_contacts(client, django_user_model):
    viewer = django_user_model.objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_contact"))
    client.force_login(viewer)
    assert client.get("/admin/contacts/contact/import/").status_code == 403


@pytest.mark.parametrize(
    ("name", "format_label", "content", "says"),
    [
        ("c.json", "json", b'[["phone", "first_name"], ["+14155550101", "Ann"]]', "a list of objects"),
        ("c.html", "html", b"<table><tr><td>+14155550101</td></tr></table>", "<thead>"),
        ("c.csv", "csv", b"first_name\nAnn\n", "needs a 'phone' column (its columns: first_name)"),
        ("c.json", "json", b"not json at all", ""),
        ("c.csv", "csv", b"\xff\xfe\x00\x00garbage", ""),
    ],
)
def test_admin_import_of_an_unusable_file_says_why_and_changes_nothing(
    client, staff, name, format_label, content, says
):
    client.force_login(staff)
    page = client.get("/admin/contacts/contact/import/").content.decode()
    formats = {
        label: value for value, label in re.findall(r'<option value="(\d+)"[^>]*>(\w+)</option>', page)
    }
    response = client.post(
        "/admin/contacts/contact/import/",
        {"resource": 0, "format": formats[format_label], "import_file": SimpleUploadedFile(name, content)},
    )
    assert response.status_code == 200
    assert response.context.get("confirm_form") is None
    assert says in html.unescape(response.content.decode())
    assert not Contact.objects.exists()


def test_export_escapes_cells_a_spreadsheet_would_run(client, staff):
    ContactFactory(
        phone="+14155550101", first_name="=HYPERLINK(\"http://evil\")", last_name="+cmd|' /C calc'!A0",
        email="-x@example.com", locale="@SUM(1)", timezone="",
    )  # fmt: skip
    ContactFactory(phone="+14155550102", first_name="\tTab", last_name="\rReturn")
    client.force_login(staff)
    fields = ["phone", "first_name", "last_name", "email", "locale"]
    response = client.post(
        "/admin/contacts/contact/export/",
        {"format": 0, "resource": 0, **{f"contactresource_{name}": "on" for name in fields}},
    )
    rows = {r["phone"]: r for r in csv.DictReader(io.StringIO(response.content.decode()))}
    first = rows["+14155550101"]  # the phone itself is E.164: left as it is
    assert first["first_name"] == '\'=HYPERLINK("http://evil")'
    assert first["last_name"] == "'+cmd|' /C calc'!A0"
    assert (first["email"], first["locale"]) == ("'-x@example.com", "'@SUM(1)")
    assert (rows["+14155550102"]["first_name"], rows["+14155550102"]["last_name"]) == ("'\tTab", "'\rReturn")

    # What was exported imports back as it was.
    Contact.objects.all().delete()
    problems = import_problems(contacts_import_csv(data=response.content.decode()))
    assert problems == []
    assert Contact.objects.get(phone="+14155550101").first_name == '=HYPERLINK("http://evil")'
