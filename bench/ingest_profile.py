"""Where the time of a 10 000-record batch goes: ``POST /api/v1/service-records/batch`` as
provider staff with an Idempotency-Key, in process (httpx ASGITransport, the whole app: token,
idempotency, validation, lookups, COPY, audit, commit, response), on a database made by
``bench/generate``.

    python bench/ingest_profile.py --database-url postgresql://postgres@127.0.0.1:5432/DB \
        [--batches 6] [--size 10000] [--fresh-provider] [--resubmit] [--gc-freeze] \
        [--pyinstrument FILE] [--tracemalloc]

The first run adds a bench provider (active, offering four services) and links it to the
10 000 sampled Kyiv families (``bench.kyiv_families``); later runs add to its records, unless
``--fresh-provider``. Every batch carries new external references (``--resubmit``: the same
ones again, each record changed), half of its records naming a member, a tenth with notes.
After one untimed batch, per batch: wall seconds, the Python process's CPU and the part spent
in garbage collection, the CPU of this database's PostgreSQL backends, and the wall time of
each kind of statement (SQLAlchemy's cursor hooks, plus asyncpg's COPY and COMMIT).
``--tracemalloc``: also, per batch, the peak of the Python heap above what it held before the
batch (the client's copy of the answer included: ASGITransport gathers it in process); the
batches are several times slower under it, so their times then mean nothing. It counts what
was asked for, not what was touched: orjson's parser asks for about twelve times the JSON it
reads (38 MB for a 2.5 MB batch) and touches a small part of it, so the peak it shows for a
batch is that parse's, not the resident memory's (``VmHWM``, which ``bench/run`` reports).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import re
import statistics
import tempfile
import time
import tracemalloc
import uuid
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import psutil
from sealing_keys import identifier_keys
from sqlalchemy import event
from stdnum.ua import edrpou

from registry.auth.keys import development_keys
from registry.auth.tokens import TokenVerifier, issue
from registry.db.engine import Database
from registry.main import create_app
from registry.settings import Settings

ISSUER, AUDIENCE = "registry-bench", "registry"
KYIV = "UA80000000000093317"
API = "/api/v1"
BENCH_PROVIDER = "bench ingest provider"
OFFERS = [
    {"service_code": "002.0", "frequency": "periodic", "places": ["home", "online", "phone"]},
    {"service_code": "012.0", "frequency": "crisis", "places": ["home", "street"]},
    {"service_code": "013.0", "frequency": "periodic", "places": ["semi_residential"]},
    {"service_code": "021.0", "frequency": "periodic", "places": ["street", "home"]},
]
OUTCOMES = ["delivered"] * 8 + ["partially_delivered", "recipient_absent"]


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


class Statements:
    """Wall time of each statement the app sends, grouped by its first words."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def attach(self, database: Database) -> None:
        engine = database.engine.sync_engine

        @event.listens_for(engine, "before_cursor_execute")
        def before(
            conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
        ) -> None:
            conn.info["started"] = time.perf_counter()

        @event.listens_for(engine, "after_cursor_execute")
        def after(
            conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
        ) -> None:
            self.seconds[_kind(statement)] += time.perf_counter() - conn.info.pop("started")

    def time_driver_calls(self) -> None:
        """COPY and COMMIT go to asyncpg directly, past the cursor hooks."""

        def timed(owner: Any, name: str, kind: str) -> None:
            original = getattr(owner, name)

            async def call(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return await original(*args, **kwargs)
                finally:
                    self.seconds[kind] += time.perf_counter() - started

            setattr(owner, name, call)

        timed(asyncpg.Connection, "copy_records_to_table", "COPY service_records")
        timed(asyncpg.transaction.Transaction, "commit", "COMMIT")

    def reset(self) -> dict[str, float]:
        seconds, self.seconds = dict(self.seconds), defaultdict(float)
        return seconds


class Collections:
    """Time the interpreter spends in garbage collection, by generation."""

    def __init__(self) -> None:
        self.seconds = [0.0, 0.0, 0.0]
        self.counts = [0, 0, 0]
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds[info["generation"]] += time.perf_counter() - self._started
            self.counts[info["generation"]] += 1

    def reset(self) -> str:
        text = " ".join(
            f"gen{g} {n}x {s:.3f}s"
            for g, (n, s) in enumerate(zip(self.counts, self.seconds, strict=True))
        )
        self.seconds, self.counts = [0.0, 0.0, 0.0], [0, 0, 0]
        return text


def _kind(statement: str) -> str:
    words = re.sub(r"\s+", " ", statement.strip()).split(" ")
    if words[0] in ("INSERT", "DELETE") and len(words) > 2:
        return f"{words[0]} {words[2]}"
    if words[0] == "SELECT":
        table = re.search(r"\bFROM (?!unnest)(\w+)", statement)
        return f"SELECT {table.group(1) if table else ''}".strip()
    if words[0] == "UPDATE" and len(words) > 1:
        return f"UPDATE {words[1]}"
    return words[0]


async def _backend_pids(dsn: str, database: str) -> list[int]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
        return [row["pid"] for row in rows]
    finally:
        await conn.close()


def _cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


async def _prepare(
    client: httpx.AsyncClient, dsn: str, admin: dict[str, str], name: str
) -> tuple[str, list[tuple[str, str]]]:
    """The provider called ``name`` (made on first use) and the (family, member) pairs it
    serves."""
    conn = await asyncpg.connect(dsn)
    try:
        provider_id = await conn.fetchval(
            "SELECT id::text FROM providers WHERE full_name = $1", name
        )
        if provider_id is None:
            serial = f"{random.randrange(3_000_000, 4_000_000):07d}"
            body = {
                "kind": "organisation",
                "sector": "non_state",
                "edrpou": serial + edrpou.calc_check_digit(serial),
                "full_name": name,
                "short_name": "bench",
                "hromada_code": KYIV,
                "address_line": "вул. Хрещатик, 1",
                "services": OFFERS,
            }
            created = await client.post(f"{API}/providers", json=body, headers=admin)
            assert created.status_code == 201, created.text
            provider_id = created.json()["id"]
            activated = await client.post(
                f"{API}/providers/{provider_id}/status", json={"to": "active"}, headers=admin
            )
            assert activated.status_code == 200, activated.text
            # Linking 10 000 families one request at a time would take minutes; the grant
            # rows are what a community officer's link writes.
            await conn.execute(
                """
                INSERT INTO family_provider_access (provider_id, family_id, granted_by, reason)
                SELECT $1::uuid, id, 'bench', 'bench ingest' FROM bench.kyiv_families
                ON CONFLICT DO NOTHING""",
                provider_id,
            )
            # as autovacuum would soon: without statistics the planner takes the provider
            # for one with a single family
            await conn.execute("ANALYZE family_provider_access")
        rows = await conn.fetch("""
            SELECT k.id::text AS family_id,
                   (SELECT p.id::text FROM persons p WHERE p.family_id = k.id
                    AND p.removed_at IS NULL ORDER BY p.id LIMIT 1) AS person_id
            FROM bench.kyiv_families k ORDER BY k.n""")
        return provider_id, [(row["family_id"], row["person_id"]) for row in rows]
    finally:
        await conn.close()


def _batch(
    served: list[tuple[str, str]], size: int, run: str, number: int, rng: random.Random
) -> bytes:
    today = date.today()
    records = []
    for i in range(size):
        family_id, person_id = served[(number * size + i) % len(served)]
        offer = rng.choice(OFFERS)
        record: dict[str, Any] = {
            "family_id": family_id,
            "service_code": offer["service_code"],
            "delivered_on": (today - timedelta(days=rng.randrange(0, 365))).isoformat(),
            "units": rng.randint(1, 4),
            "duration_minutes": rng.choice([30, 45, 60, 90]),
            "place": rng.choice(offer["places"]),
            "outcome": rng.choice(OUTCOMES),
            "external_ref": f"{run}-{number}-{i}",
        }
        if i % 2 == 0 and person_id is not None:
            record["person_id"] = person_id
        if i % 10 == 0:
            record["notes"] = "Консультація щодо оформлення допомоги; наступна зустріч за тиждень."
        records.append(record)
    return orjson.dumps({"records": records})


async def _seed(dsn: str) -> int:
    """The generator's seed: the bench's identifier keys are derived from it."""
    conn = await asyncpg.connect(dsn)
    try:
        manifest = orjson.loads(await conn.fetchval("SELECT document FROM bench.manifest"))
    finally:
        await conn.close()
    return int(manifest["seed"])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument(
        "--fresh-provider",
        action="store_true",
        help="submit as a new provider (no records yet) instead of the one every run adds to",
    )
    parser.add_argument(
        "--resubmit",
        action="store_true",
        help="time resubmissions instead: each batch is first stored (not "
        "timed), then sent again with every record's units changed",
    )
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="gc.freeze() after the warm-up batch: the collector then skips "
        "the objects of the started app",
    )
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="measure each batch's peak of Python memory (tracemalloc) instead of its time",
    )
    parser.add_argument(
        "--pyinstrument",
        type=Path,
        help="profile the timed batches into this file (.html, else text)",
    )
    args = parser.parse_args()

    url = args.database_url.replace("postgresql://", "postgresql+asyncpg://", 1)
    dsn = _asyncpg_dsn(url)
    name = url.rsplit("/", 1)[1].split("?")[0]
    workdir = Path(tempfile.mkdtemp(prefix="ingest-profile-"))
    signing_key, verification_keys = development_keys(workdir / "keys")
    verifier = TokenVerifier(verification_keys, issuer=ISSUER, audience=AUDIENCE)

    def headers(role: str, **claims: Any) -> dict[str, str]:
        token = issue(
            signing_key,
            issuer=ISSUER,
            audience=AUDIENCE,
            subject=f"bench-{role}",
            role=role,
            **claims,
        )
        return {"Authorization": f"Bearer {token}"}

    database = Database.connect(url, pool_size=2, max_overflow=0)
    statements = Statements()
    statements.attach(database)
    statements.time_driver_calls()
    settings = Settings(jwt_issuer=ISSUER, jwt_audience=AUDIENCE, data_dir=workdir)
    app = create_app(
        settings,
        database=database,
        verifier=verifier,
        identifier_keys=identifier_keys(await _seed(dsn)),
        seal_audit=False,
    )
    transport = httpx.ASGITransport(app=app)
    rng = random.Random(7)
    run = uuid.uuid4().hex[:8]
    async with httpx.AsyncClient(
        transport=transport, base_url="http://registry.bench", timeout=120
    ) as client:
        provider_name = f"{BENCH_PROVIDER} {run}" if args.fresh_provider else BENCH_PROVIDER
        provider_id, served = await _prepare(client, dsn, headers("ministry_admin"), provider_name)
        staff = {
            **headers("provider_staff", provider_id=provider_id),
            "Content-Type": "application/json",
        }

        def batch_headers(number: int) -> dict[str, str]:
            # as providers' systems send them (and as bench/run's ingest scenario does)
            return {**staff, "Idempotency-Key": f"ingest-{run}-{number}"}

        bodies = [_batch(served, args.size, run, n, rng) for n in range(args.batches + 1)]
        print(
            f"{len(served)} families served; batch of {args.size} records = "
            f"{len(bodies[0]) / 1e6:.1f} MB; load {os.getloadavg()}"
        )

        # one untimed batch: connections, prepared statements, the app's first request
        warm = await client.post(
            f"{API}/service-records/batch", content=bodies[0], headers=batch_headers(0)
        )
        assert warm.status_code == 200, warm.text[:2000]
        assert warm.json()["rejected"] == 0, warm.text[:2000]
        pids = await _backend_pids(dsn, name)
        statements.reset()
        collections = Collections()
        if args.gc_freeze:
            gc.collect()
            gc.freeze()
        print(f"objects tracked by the collector: {len(gc.get_objects()):,}")
        profiler = None
        if args.pyinstrument:
            from pyinstrument import Profiler

            profiler = Profiler(async_mode="enabled")
            profiler.start()
        walls = []
        for number in range(1, args.batches + 1):
            body = bodies[number]
            if args.resubmit:
                first = await client.post(
                    f"{API}/service-records/batch", content=body, headers=batch_headers(-number)
                )
                assert first.status_code == 200, first.text[:2000]
                body = orjson.dumps(
                    {
                        "records": [
                            {**record, "units": record["units"] % 4 + 1}
                            for record in orjson.loads(body)["records"]
                        ]
                    }
                )
                statements.reset()
                collections.reset()
            if args.tracemalloc:
                if not tracemalloc.is_tracing():
                    tracemalloc.start()
                tracemalloc.reset_peak()
                held, _ = tracemalloc.get_traced_memory()
            py0, pg0, t0 = time.process_time(), _cpu(pids), time.perf_counter()
            response = await client.post(
                f"{API}/service-records/batch", content=body, headers=batch_headers(number)
            )
            wall = time.perf_counter() - t0
            py, pg = time.process_time() - py0, _cpu(pids) - pg0
            if args.tracemalloc:
                _, peak = tracemalloc.get_traced_memory()
                print(f"batch {number}: peak Python memory {(peak - held) / 2**20:.1f} MiB")
            answer = orjson.loads(response.content)
            assert response.status_code == 200, response.text[:2000]
            assert answer["rejected"] == 0, response.text[:2000]
            walls.append(wall)
            split = statements.reset()
            top = ", ".join(
                f"{kind} {seconds:.3f}"
                for kind, seconds in sorted(split.items(), key=lambda item: -item[1])[:6]
            )
            print(
                f"batch {number}: {wall:.3f} s = {args.size / wall:,.0f} rec/s | "
                f"python CPU {py:.3f} s (GC {collections.reset()}), postgres CPU {pg:.3f} s "
                f"| SQL {top}"
            )
        if profiler is not None:
            profiler.stop()
            args.pyinstrument.write_text(
                profiler.output_html()
                if args.pyinstrument.suffix == ".html"
                else profiler.output_text(show_all=False)
            )
            print(f"pyinstrument profile: {args.pyinstrument}")
        median = statistics.median(walls)
        print(
            f"median {median:.3f} s per batch ({args.size / median:,.0f} rec/s), "
            f"min {min(walls):.3f}, max {max(walls):.3f}; load {os.getloadavg()}"
        )

    await database.dispose()


if __name__ == "__main__":
    asyncio.run(main())
