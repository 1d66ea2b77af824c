"""The contact import as a marketer uses it: a CSV with the columns the import reads,
uploaded on the admin's import page."""

from django.core.files.uploadedfile import SimpleUploadedFile

HEADER = "phone,first_name,last_name,email,timezone,opted_out\n"
URL = "/admin/contacts/contact/import/"


def upload(client, content: str | bytes, *, name="contacts.csv", file_format="csv"):
    """Post `content` as a file on the import page, as a browser does; the response."""
    data = content.encode() if isinstance(content, str) else content
    return client.post(URL, {"file_format": file_format, "import_file": SimpleUploadedFile(name, data)})
