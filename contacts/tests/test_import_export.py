import csv
import io

import pytest
from django.contrib.auth.models import Permission

from conftest import page_text
from contacts.imports import contacts_import_csv
from contacts.models import Contact, ContactImport
from contacts.resources import ContactResource
from contacts.tests.factories import ContactFactory
from contacts.tests.imports import HEADER, upload

pytestmark = pytest.mark.django_db


def test_import_normalises_phones_and_creates_or_updates():
    ContactFactory(phone="+14155550101", first_name="Old")
    data = HEADER + "(415) 555-0101,Ann,Lee,ann@example.com,America/Los_Angeles,\n+44 20 7946 0958,Bo,,,,\n"

    result = contacts_import_csv(data=data)

    assert result.problems == []
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
    problems = result.problems

    assert problems[0] == "row 2: phone: 12 is not a valid phone number."
    assert any(p.startswith("row 3: email:") for p in problems)
    assert "row 4: phone: +14155550101 is already in row 1 of this file." in problems
    assert any(p.startswith("row 5: timezone: Mars/Olympus") for p in problems)
    assert not any(p.startswith("row 1") for p in problems)
    # All or nothing: row 1 was not applied either.
    assert list(Contact.objects.values_list("phone", "first_name")) == [("+14155550101", "Old")]


def test_missing_phone_column_is_a_clear_error():
    result = contacts_import_csv(data="name\nAnn\n")
    assert result.problems == ["The file needs a 'phone' column (its columns: name)."]
    assert not Contact.objects.exists()


def test_opt_out_status_is_never_changed_by_an_import():
    ContactFactory(phone="+14155550101", opted_out=True)
    ContactFactory(phone="+14155550102", opted_out=False)
    data = HEADER + "+14155550101,A,,,,0\n+14155550102,B,,,,1\n+14155550103,C,,,,yes\n"

    result = contacts_import_csv(data=data)

    assert result.problems == []
    assert dict(Contact.objects.values_list("phone", "opted_out")) == {
        "+14155550101": True,
        "+14155550102": False,
        "+14155550103": False,
    }
    assert not Contact.objects.get(phone="+14155550101").consent_events.exists()


def test_simulator_numbers_cannot_be_imported_over():
    ContactFactory(phone="+12025550123", is_test=True, first_name="Sim")
    problems = contacts_import_csv(data=HEADER + "+12025550123,Real,,,,\n").problems
    assert problems == ["row 1: phone: +12025550123 belongs to a simulator test contact."]
    assert Contact.objects.get(phone="+12025550123").first_name == "Sim"


def test_export_leaves_out_test_contacts():
    ContactFactory(phone="+14155550101", first_name="Ann", opted_out=True)
    ContactFactory(phone="+12025550123", is_test=True)
    rows = list(csv.DictReader(io.StringIO(ContactResource().export().csv)))
    assert [(r["phone"], r["first_name"], r["opted_out"]) for r in rows] == [("+14155550101", "Ann", "1")]


# Through the admin's pages: upload, then the import runs in the background (in-process
# in tests, on commit) and its page shows the outcome.


@pytest.fixture
def staff(django_user_model):
    user = django_user_model.objects.create_user("marketer", password="pw", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_contact", "add_contact", "change_contact", "view_contactimport"],
            content_type__app_label="contacts",
        )
    )
    return user


def test_admin_import_runs_in_the_background_and_its_page_shows_the_outcome(
    client, staff, django_capture_on_commit_callbacks
):
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, (HEADER + "(415) 555-0101,Ann,,,,\n+14155550102,Bo,,,,\n").encode())
    job = ContactImport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/admin/contacts/contactimport/{job.pk}/change/"
    assert (job.status, job.total, job.created, job.percent) == ("done", 2, 2, 100)
    assert job.content == ""  # the file is not kept once imported
    assert Contact.objects.get(phone="+14155550101").first_name == "Ann"
    page = client.get(response["Location"]).content.decode()
    assert "Done" in page and 'http-equiv="refresh"' not in page


def test_admin_import_of_bad_rows_lists_them_and_imports_nothing(
    client, staff, django_capture_on_commit_callbacks
):
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        upload(client, (HEADER + "+14155550101,Ann,,,,\nnope,Bad,,,,\n").encode())
    job = ContactImport.objects.get()
    assert job.status == "failed"
    assert job.problems == ["row 2: phone: nope is not a phone number."]
    page = client.get(f"/admin/contacts/contactimport/{job.pk}/change/").content.decode()
    assert "row 2: phone: nope is not a phone number." in page
    assert not Contact.objects.exists()


def test_a_large_import_is_only_recorded_by_the_request_and_reports_progress(client, staff, settings):
    """100,000 rows: the request stores the file and hands it over (here the broker is down,
    so nothing runs in the request at all); the worker's run counts its progress."""
    from contacts.tasks import contact_import_run_task

    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens: the task waits
    rows = "".join(f"+1212{2000000 + i:07d},N{i},,,,\n" for i in range(100_000))
    client.force_login(staff)
    response = upload(client, (HEADER + rows).encode())
    assert response.status_code == 302
    job = ContactImport.objects.get()
    assert (job.status, job.total, job.processed) == ("queued", 100_000, 0)
    assert not Contact.objects.exists()
    page = client.get(response["Location"]).content.decode()
    assert 'http-equiv="refresh"' in page and "0%" in page  # the page follows the progress

    contact_import_run_task(job.pk)  # what a worker does with the task

    job.refresh_from_db()
    assert (job.status, job.processed, job.created, job.problems) == ("done", 100_000, 100_000, [])
    assert Contact.objects.count() == 100_000
    contact_import_run_task(job.pk)  # a redelivered task: nothing happens twice
    assert Contact.objects.count() == 100_000


def test_the_admin_exports_contacts_as_csv_without_the_test_contacts(client, staff):
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
    response = upload(client, content, name=name, file_format=format_label)
    assert response.status_code == 200  # the upload form again, with the reason
    assert says in page_text(response)
    assert not ContactImport.objects.exists() and not Contact.objects.exists()


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
    problems = contacts_import_csv(data=response.content.decode()).problems
    assert problems == []
    assert Contact.objects.get(phone="+14155550101").first_name == '=HYPERLINK("http://evil")'


def test_the_import_reports_its_progress_batch_by_batch():
    from contacts.imports import BATCH_SIZE, contacts_dataset_load, contacts_import_dataset

    rows = "".join(f"+1212{2000000 + i:07d},N{i},,,,\n" for i in range(2 * BATCH_SIZE + 10))
    seen = []
    dataset = contacts_dataset_load(content=HEADER + rows, file_format="csv")
    outcome = contacts_import_dataset(dataset=dataset, progress=lambda stage, n: seen.append((stage, n)))
    assert outcome.created == 2 * BATCH_SIZE + 10
    assert seen == [
        ("checking", BATCH_SIZE),
        ("checking", 2 * BATCH_SIZE),
        ("importing", BATCH_SIZE),
        ("importing", 2 * BATCH_SIZE),
        ("importing", 2 * BATCH_SIZE + 10),
    ]


def test_the_contact_list_offers_import_and_export(client, staff):
    client.force_login(staff)
    page = client.get("/admin/contacts/contact/").content.decode()
    assert 'href="/admin/contacts/contact/import/"' in page
    assert 'href="/admin/contacts/contact/export/' in page
