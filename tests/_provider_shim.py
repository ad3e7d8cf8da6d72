"""TEMPORARY: providers inserted directly until the providers API lands (then deleted)."""
from __future__ import annotations

import itertools
import uuid
from typing import Any

from sqlalchemy import text
from stdnum.ua import edrpou

_n = itertools.count(1000000)


def provider_body(**overrides: Any) -> dict[str, Any]:
    base = f"{next(_n):07d}"
    body = {"kind": "organisation", "sector": "non_state",
            "edrpou": base + edrpou.calc_check_digit(base), "full_name": "ГО Тест",
            "hromada_code": "UA80000000000093317",
            "services": [{"service_code": "002.0", "frequency": "periodic",
                          "places": ["home", "online"]},
                         {"service_code": "012.0", "frequency": "crisis", "places": ["home"]}]}
    body.update(overrides)
    return body


async def create_provider(client: Any, headers: Any, body: Any = None, *, activate: bool = True
                          ) -> dict[str, Any]:
    body = body or provider_body()
    database = client._transport.app.state.database
    pid = uuid.uuid4()
    async with database.transaction() as s:
        await s.execute(text(
            "INSERT INTO providers (id, kind, sector, edrpou, full_name, name_key, status, "
            "oblast_code, hromada_code, created_by) VALUES (:id, 'organisation', 'non_state', "
            ":e, 'x', 'x', :st, 'UA80000000000093317', 'UA80000000000093317', 't')"),
            {"id": pid, "e": body["edrpou"], "st": "active" if activate else "pending"})
        for svc in body["services"]:
            await s.execute(text(
                "INSERT INTO provider_services (provider_id, service_code, frequency, places) "
                "VALUES (:p, :c, :f, :pl)"),
                {"p": pid, "c": svc["service_code"], "f": svc["frequency"], "pl": svc["places"]})
    return {"id": str(pid)}
