"""The ledger proof of the ``programme_distributions`` scenario: after many officers paid out
of one hromada's allocation at once, what the database holds agrees with what they were
answered.

    python bench/programme_ledger.py --database-url postgresql://… --programme ID \\
        --hromada UA80000000000093317 --payment 1500.00 --created 400

Read as the database's owner (row-level security does not hide rows from it), the proof is:
the distributions' sum is within the allocation and equals the balance line's
``distributed``; there is one distribution row per 201 answered, each of the fixed payment, to
a family, in that hromada, with its audit event and its stored idempotent answer; nothing was
written besides (no items, no reversals, no other balance line drawn on); a 409 came only once
less than one payment remained; and the remaining balance a late 409 named is the balance
line's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from decimal import Decimal
from typing import Any

import asyncpg

_LEDGER = """
WITH rows AS (
    SELECT id, hromada_code, family_id, amount
    FROM programme_distributions
    WHERE programme_id = $1
), ids AS (
    SELECT coalesce(array_agg(id::text), '{}') AS ids FROM rows
)
SELECT
    line.allocated,
    line.distributed,
    line.reversed,
    (SELECT count(*) FROM rows) AS rows,
    (SELECT coalesce(sum(amount), 0) FROM rows) AS rows_sum,
    (
        SELECT count(*) FROM rows
        WHERE hromada_code <> $2 OR family_id IS NULL OR amount IS DISTINCT FROM $3
    ) AS rows_not_the_payment,
    (
        SELECT count(*) FROM programme_distribution_items
        WHERE distribution_id IN (SELECT id FROM rows)
    ) AS item_lines,
    (
        SELECT count(*) FROM programme_reversals
        WHERE distribution_id IN (SELECT id FROM rows)
    ) AS reversals,
    (
        SELECT count(*) FROM programme_allocations other
        WHERE other.programme_id = $1 AND other.id <> line.id AND other.distributed <> 0
    ) AS other_lines_drawn,
    (
        SELECT count(*) FROM audit_events
        WHERE action = 'create_programme_distribution'
          AND resource_ids && (SELECT ids FROM ids)
    ) AS audit_events,
    (
        SELECT count(*) FROM idempotency_keys
        WHERE resource_type = 'programme_distribution'
          AND resource_ids && (SELECT ids FROM ids)
    ) AS stored_answers
FROM programme_allocations line
WHERE line.programme_id = $1 AND line.hromada_code = $2 AND line.item_id IS NULL
"""


async def ledger(
    dsn: str, programme_id: str, hromada_code: str, payment: Decimal
) -> dict[str, Any]:
    """The programme's money line in the hromada and what its distributions wrote."""
    connection = await asyncpg.connect(dsn)
    try:
        row = await connection.fetchrow(_LEDGER, uuid.UUID(programme_id), hromada_code, payment)
    finally:
        await connection.close()
    if row is None:
        raise SystemExit(f"programme {programme_id} allocates no money to {hromada_code}")
    return dict(row)


async def prove(
    dsn: str,
    programme_id: str,
    hromada_code: str,
    *,
    payment: Decimal,
    created: int,
    refused: int = 0,
    remaining_named: str | None = None,
) -> dict[str, Any]:
    """Each claim with whether it holds, and the ledger's figures (amounts as text)."""
    figures = await ledger(dsn, programme_id, hromada_code, payment)
    allocated, distributed = figures["allocated"], figures["distributed"]
    remaining = allocated - distributed + figures["reversed"]
    claims = {
        "sum of the distributions <= allocated": figures["rows_sum"] <= allocated,
        "sum of the distributions = the balance line's distributed": (
            figures["rows_sum"] == distributed
        ),
        "distribution rows = 201s answered": figures["rows"] == created,
        "every row is the fixed payment to a family of the hromada": (
            figures["rows_not_the_payment"] == 0
        ),
        "no item lines, no reversals, no other balance line drawn on": (
            figures["item_lines"] + figures["reversals"] + figures["other_lines_drawn"] == 0
            and figures["reversed"] == 0
        ),
        "one audit event per row": figures["audit_events"] == figures["rows"],
        "one stored idempotent answer per row": figures["stored_answers"] == figures["rows"],
        # The balance only goes down: a refusal is right only if the end leaves too little.
        "409s only once less than one payment remained": refused == 0 or remaining < payment,
    }
    if remaining_named is not None:
        claims["the last 409 named the balance line's remaining"] = (
            Decimal(remaining_named) == remaining
        )
    return {
        "holds": all(claims.values()),
        "claims": claims,
        "created_answered": created,
        "refused_answered": refused,
        "remaining_named": remaining_named,
        "ledger": {
            name: str(value) if isinstance(value, Decimal) else value
            for name, value in {**figures, "remaining": remaining}.items()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="postgresql://user@host:port/name")
    parser.add_argument("--programme", required=True, help="the programme's id")
    parser.add_argument("--hromada", required=True, help="the allocation's hromada code")
    parser.add_argument("--payment", required=True, type=Decimal, help="the fixed amount paid")
    parser.add_argument("--created", required=True, type=int, help="201s answered")
    parser.add_argument("--refused", type=int, default=0, help="409s answered")
    args = parser.parse_args()
    dsn = "postgresql://" + args.database_url.split("://", 1)[1]
    proof = asyncio.run(
        prove(
            dsn,
            args.programme,
            args.hromada,
            payment=args.payment,
            created=args.created,
            refused=args.refused,
        )
    )
    print(json.dumps(proof, indent=2, ensure_ascii=False))
    raise SystemExit(0 if proof["holds"] else 1)


if __name__ == "__main__":
    main()
