"""No audit, no answer: a family read or write whose audit event cannot be written fails
whole, and what it would have disclosed or changed stays undisclosed and unchanged."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.support import BUCHA, bearer, family


@pytest.fixture
async def bucha_officer(make_token):
    return bearer(make_token("community_officer", territory=BUCHA))


async def _refuse_audit_of(connection, action: str) -> None:
    """Make the database refuse audit events of ``action`` (rolled back with the test)."""
    await connection.execute(
        text(
            """
        CREATE FUNCTION pg_temp.refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.action = TG_ARGV[0] THEN RAISE EXCEPTION 'audit store unavailable'; END IF;
            RETURN NEW;
        END $$"""
        )
    )
    await connection.execute(
        text(
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events FOR EACH ROW "
            f"EXECUTE FUNCTION pg_temp.refuse_audit('{action}')"
        )
    )


async def test_a_read_that_cannot_be_audited_discloses_nothing(client, connection, bucha_officer):
    created = await client.post("/api/v1/families", json=family(BUCHA), headers=bucha_officer)
    assert created.status_code == 201
    await _refuse_audit_of(connection, "get_family")

    response = await client.get(f"/api/v1/families/{created.json()['id']}", headers=bucha_officer)

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "Шевченко" not in response.text
    assert set(response.json()) == {"type", "title", "status", "detail", "request_id"}


async def test_a_list_that_cannot_be_audited_discloses_nothing(client, connection, bucha_officer):
    assert (
        await client.post("/api/v1/families", json=family(BUCHA), headers=bucha_officer)
    ).status_code == 201
    await _refuse_audit_of(connection, "list_families")

    response = await client.get("/api/v1/families", params={"q": "Шевченко"}, headers=bucha_officer)

    assert response.status_code == 500
    assert "Шевченко" not in response.text


async def test_a_write_that_cannot_be_audited_changes_nothing(client, connection, bucha_officer):
    await _refuse_audit_of(connection, "create_family")
    before = await connection.scalar(text("SELECT count(*) FROM families"))

    response = await client.post("/api/v1/families", json=family(BUCHA), headers=bucha_officer)

    assert response.status_code == 500
    assert await connection.scalar(text("SELECT count(*) FROM families")) == before
    assert (
        await connection.scalar(
            text(
                "SELECT count(*) FROM persons WHERE name_key LIKE "
                "'шевченко%' AND family_id NOT IN "
                "(SELECT id FROM families)"
            )
        )
        == 0
    )
