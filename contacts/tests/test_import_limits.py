"""A contact import is bounded before it is read (issue 18, point 9): a 20.8 MB CSV of 10.4 M
rows was refused only after 30.9 s and 2.2 GB inside the request. Now, through the admin's
import page as a Marketer: an upload too large is refused before its body is read, or as
it streams in past the limit; a file of too many rows is refused on its rows counted,
before it is read as a table; the request checks the columns from the file's head only and
the background task reads the file."""

import pytest
from django.core.files.uploadhandler import FileUploadHandler

from conftest import page_text
from contacts.models import Contact, ContactImport
from contacts.tasks import contact_import_run_task
from contacts.tests.imports import HEADER, upload

pytestmark = pytest.mark.django_db


# Bytes of each uploaded file that reached the handlers that keep it (Recorder).
RECEIVED: list[int] = []


class Recorder(FileUploadHandler):
    """Installed after the import's own limit, before Django's handlers that store a file
    (settings.FILE_UPLOAD_HANDLERS): counts what of each file gets that far."""

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        RECEIVED.append(0)

    def receive_data_chunk(self, raw_data, start):
        RECEIVED[-1] += len(raw_data)
        return raw_data

    def file_complete(self, file_size):
        return None


@pytest.fixture
def received(settings):
    settings.FILE_UPLOAD_HANDLERS = [f"{__name__}.Recorder", *settings.FILE_UPLOAD_HANDLERS]
    RECEIVED.clear()
    return RECEIVED


def rows(count: int, start: int = 0) -> str:
    return "".join(f"+1212{2000000 + i:07d},N{i},,,,\n" for i in range(start, start + count))


def nothing_stored() -> bool:
    return not ContactImport.objects.exists() and not Contact.objects.exists()


def test_an_upload_larger_than_the_limit_is_refused_before_its_body_is_read(
    marketer_client, settings, received
):
    settings.CONTACT_IMPORT_MAX_BYTES = 10 * 1024
    content = HEADER + rows(20_000)  # 540 KB

    response = upload(marketer_client, content)

    assert response.status_code == 413
    assert "The file is larger than 10 KB: split it into smaller files." in page_text(response)
    assert received == []  # no byte of the file was read
    assert nothing_stored()


def test_a_file_that_streams_in_past_the_limit_is_stopped_there(marketer_client, settings, received):
    settings.CONTACT_IMPORT_MAX_BYTES = 100 * 1024
    content = (HEADER + rows(6_000)).encode()  # 137 KB: the request's length is no proof
    assert len(content) > settings.CONTACT_IMPORT_MAX_BYTES

    response = upload(marketer_client, content)

    assert response.status_code == 413
    assert "The file is larger than 100 KB: split it into smaller files." in page_text(response)
    assert 0 < received[0] <= settings.CONTACT_IMPORT_MAX_BYTES  # stopped at the limit
    assert nothing_stored()


def test_a_file_of_too_many_rows_is_refused_on_its_rows_counted_before_it_is_read(marketer_client, settings):
    """Its last row is one the CSV reader refuses (a cell past its 128 KB field limit): the
    count, not a read of the file, refuses it."""
    settings.CONTACT_IMPORT_MAX_ROWS = 1_000
    content = HEADER + rows(2_000) + "+12125550100," + "x" * 200_000 + ",,,,\n"

    response = upload(marketer_client, content)

    assert response.status_code == 200  # the upload form again, with the reason
    assert "The file has 2,001 rows; at most 1,000 are imported at once: split it." in page_text(response)
    assert nothing_stored()


def test_the_request_reads_the_columns_only_and_the_task_reads_the_file(marketer_client):
    content = HEADER + rows(2) + "+12125550100," + "x" * 200_000 + ",,,,\n"

    response = upload(marketer_client, content)

    assert response.status_code == 302  # queued: the request did not read the rows
    job = ContactImport.objects.get()
    assert (job.status, job.total) == ("queued", 3)
    assert not Contact.objects.exists()

    contact_import_run_task(job.pk)  # what a worker does with the task

    job.refresh_from_db()
    assert job.status == "failed"
    assert job.problems == ["The file cannot be read as CSV: field larger than field limit (131072)"]
    assert not Contact.objects.exists()
    assert "field larger than field limit" in page_text(marketer_client.get(response["Location"]))


@pytest.mark.parametrize(
    ("file_format", "content"),
    [
        ("csv", "phone,first_name\n+14155550101,Ann\n+14155550102,Bo\n"),
        ("tsv", "phone\tfirst_name\r\n+14155550101\tAnn\r\n+14155550102\tBo\r\n"),
        (
            "json",
            ' \n[ {"phone": "+14155550101", "first_name": "Ann", "tags": {"a": [1]}},\n'
            '{"phone": "+14155550102", "first_name": "Bo", "tags": {}} ]',
        ),
        (
            "yaml",
            "---\n- phone: '+14155550101'\n  first_name: Ann\n-\n  phone: '+14155550102'\n  first_name: Bo\n",
        ),
        (
            "html",
            "<html><body><h1>Contacts</h1><table><thead><tr><th>phone</th><th>first_name</th></tr>"
            "</thead><tr><td>+14155550101</td><td>Ann</td></tr>"
            "<tr><td>+14155550102</td><td>Bo</td></tr></table></body></html>",
        ),
    ],
)
def test_each_format_is_checked_from_its_head_and_imported_by_the_task(
    marketer_client, django_capture_on_commit_callbacks, file_format, content
):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(marketer_client, content, name=f"c.{file_format}", file_format=file_format)
    assert response.status_code == 302, page_text(response)
    job = ContactImport.objects.get()
    assert (job.status, job.total, job.created, job.problems) == ("done", 2, 2, [])
    assert dict(Contact.objects.values_list("phone", "first_name")) == {
        "+14155550101": "Ann",
        "+14155550102": "Bo",
    }


def test_a_cell_that_is_a_list_is_a_bad_row_never_written_out(
    marketer_client, django_capture_on_commit_callbacks
):
    """Written out as text, a YAML list made of aliases would be as long as its expansion
    (nine lists of nine, five deep here: 59,049 items; nine deep, 387 million) — a worker
    spinning on one cell."""
    levels = "".join(f"  - &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]\n" for n in range(1, 5))
    content = (
        "- phone: '+14155550101'\n  first_name: Ann\n  anchors:\n  - &l0 [x, x, x, x, x, x, x, x, x]\n"
        + levels
        + "- phone: '+14155550102'\n  first_name: *l4\n  anchors: []\n"
    )
    with django_capture_on_commit_callbacks(execute=True):
        upload(marketer_client, content, name="c.yaml", file_format="yaml")
    job = ContactImport.objects.get()
    assert (job.status, job.problems) == (
        "failed",
        ["row 2: first_name: is a list or an object, not a value."],
    )
    assert not Contact.objects.exists()
