"""Refusals leave a trace: a 404 (a record out of the caller's reach, or none at all) and a
403 are audited as denied, under the same resource name a successful read is."""

from __future__ import annotations

import uuid

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import text

from registry.api.audit_denied import resource_type_of
from registry.main import API_ROUTERS
from tests.support import BUCHA, IRPIN, bearer, create_family, family


async def _events(connection, actor: str) -> list[dict]:
    rows = await connection.execute(
        text(
            "SELECT action, resource_type, resource_ids, outcome, role FROM audit_events "
            "WHERE actor = :actor ORDER BY id"
        ),
        {"actor": actor},
    )
    return [dict(row) for row in rows.mappings()]


async def test_a_read_out_of_reach_is_audited_as_denied_like_a_read(client, connection, make_token):
    owner = bearer(make_token("community_officer", territory=BUCHA, sub="bucha-officer"))
    created = await create_family(client, owner, family(BUCHA))
    url = f"/api/v1/families/{created['id']}"
    assert (await client.get(url, headers=owner)).status_code == 200

    prober = f"irpin-{uuid.uuid4().hex[:8]}"
    outsider = bearer(make_token("community_officer", territory=IRPIN, sub=prober))
    response = await client.get(url, headers=outsider)
    assert response.status_code == 404

    [denied] = await _events(connection, prober)
    assert denied == {
        "action": "get_family",
        "resource_type": "family",
        "resource_ids": [created["id"]],
        "outcome": "denied",
        "role": "community_officer",
    }
    [read] = [e for e in await _events(connection, "bucha-officer") if e["action"] == "get_family"]
    assert read["resource_type"] == denied["resource_type"]


async def test_probing_for_records_that_do_not_exist_is_visible(client, connection, make_token):
    prober = f"prober-{uuid.uuid4().hex[:8]}"
    headers = bearer(make_token("community_officer", territory=IRPIN, sub=prober))
    missing = [str(uuid.uuid4()) for _ in range(3)]
    for family_id in missing:
        assert (
            await client.get(f"/api/v1/families/{family_id}", headers=headers)
        ).status_code == 404
    case_id = str(uuid.uuid4())
    assert (await client.get(f"/api/v1/cases/{case_id}", headers=headers)).status_code == 404

    events = await _events(connection, prober)
    assert [(e["resource_type"], e["resource_ids"], e["outcome"]) for e in events] == [
        *(("family", [family_id], "denied") for family_id in missing),
        ("case", [case_id], "denied"),
    ]


async def test_a_403_names_the_resource_as_its_successes_do(client, connection, make_token):
    sub = f"analyst-{uuid.uuid4().hex[:8]}"
    response = await client.get(
        "/api/v1/families", headers=bearer(make_token("ministry_analyst", sub=sub))
    )
    assert response.status_code == 403
    [denied] = await _events(connection, sub)
    assert (denied["action"], denied["resource_type"], denied["outcome"]) == (
        "list_families",
        "family",
        "denied",
    )


@pytest.mark.parametrize(
    "route",
    [r for router in API_ROUTERS for r in router.routes if isinstance(r, APIRoute)],
    ids=lambda route: route.name,
)
def test_every_operation_names_the_resource_it_addresses(route: APIRoute) -> None:
    resource = resource_type_of(f"/api/v1{route.path}")
    assert resource is not None
    assert resource == resource.lower()
    assert "-" not in resource
