"""GET /healthz (docs/reference.md §3): 200 when the database answers, 503 otherwise."""

import pytest
from django.db import OperationalError, connection


@pytest.mark.django_db
def test_healthz_answers_200_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_healthz_refuses_a_post_with_405(client):
    assert client.post("/healthz").status_code == 405


@pytest.mark.django_db
def test_database_failure_is_503(client, monkeypatch):
    """The fault is injected at the database driver boundary (the connection's cursor)."""

    def broken_cursor(*args, **kwargs):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(connection, "cursor", broken_cursor)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable"}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_unreachable_postgresql_is_503(client, monkeypatch):
    """A real outage: the server's port answers nothing."""
    connection.close()
    monkeypatch.setitem(connection.settings_dict, "PORT", "1")
    monkeypatch.setitem(connection.settings_dict, "OPTIONS", {"connect_timeout": 2})
    try:
        response = client.get("/healthz")
    finally:
        connection.close()
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable"}
