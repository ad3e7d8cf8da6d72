#!/usr/bin/env python3
"""Memory and throughput of a bulk export: the worker's export pass writing every family of a
generated database (``generate``), in a worker process of its own, as the ministry's
administrator would export it (all families, identifiers opened in full).

    python bench/export_memory.py \\
        --database-url postgresql://postgres@127.0.0.1:5432/registry_bench

The database is brought to the head revision first (``generate`` may predate the exports
table). One export is requested through the domain (as ``POST /api/v1/exports`` does), then a
child process runs ``registry.worker.exports.run_once`` once, exactly as ``registry worker``
would, with ``REGISTRY_EXPORT_DIR`` in a temporary directory. The parent samples the child's
RSS every 50 ms (psutil); the child reports its own peak (``VmHWM``: the kernel's high-water
mark, which no sampling can miss), its RSS before the pass (after its imports) and its CPU
time. Printed and written to ``results/export-<timestamp>.json``: families exported, files,
bytes, seconds, families/s, MB/s, peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
SAMPLE_SECONDS = 0.05


def _async_url(url: str) -> str:
    return "postgresql+asyncpg://" + url.split("://", 1)[1]


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="a database `generate` made")
    parser.add_argument("--types", default="family", help="comma-separated (family,case)")
    parser.add_argument(
        "--portion-bytes", type=int, default=100 * 1024 * 1024, help="REGISTRY_EXPORT_PORTION_BYTES"
    )
    parser.add_argument("--seed", type=int, default=20261123, help="generate's --seed (its keys)")
    parser.add_argument("--keep-files", action="store_true", help="leave the files for a look")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args()


# --- the parent: prepare, request, run the child, measure ----------------------------------------


async def _prepare(url: str, keys_file: Path, types: list[str]) -> str:
    """Migrate to head and request the export as the ministry's administrator; its id."""
    from registry.auth.principal import Principal
    from registry.bootstrap import prepare_database
    from registry.db.engine import Database
    from registry.domain.exports import commands
    from registry.domain.shared.caller import Caller
    from registry.domain.shared.sealing import load_identifier_keys
    from registry.settings import Settings

    await prepare_database(url, Settings().migrations_dir)
    keys = load_identifier_keys(keys_file, Path(tempfile.gettempdir()))
    principal = Principal.from_claims({"sub": "bench-admin", "role": "ministry_admin"})
    database = Database.connect(url, pool_size=1, max_overflow=0)
    try:
        async with database.transaction() as session:
            export = await commands.request_export(
                session, Caller(principal, "bench-export", keys=keys), types, None, None
            )
    finally:
        await database.dispose()
    return str(export["id"])


def _run_child(args: argparse.Namespace, env: dict[str, str]) -> tuple[dict[str, Any], int]:
    """The child's report and the highest RSS the parent saw it at."""
    child = subprocess.Popen(
        [sys.executable, __file__, "--child", "--database-url", args.database_url],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    process = psutil.Process(child.pid)
    sampled = 0
    while child.poll() is None:
        try:
            sampled = max(sampled, process.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(SAMPLE_SECONDS)
    output, _ = child.communicate()
    if child.returncode != 0:
        raise SystemExit(f"the worker process failed ({child.returncode})")
    return json.loads(output.strip().splitlines()[-1]), sampled


def _busy_seconds(times: Any) -> float:
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


def main() -> None:
    args = _arguments()
    if args.child:
        asyncio.run(_child(args.database_url))
        return
    sys.path.insert(0, str(BENCH))
    from sealing_keys import keys_document

    url = _async_url(args.database_url)
    with tempfile.TemporaryDirectory(prefix="registry-export-bench-") as scratch:
        keys_file = Path(scratch) / "identifier-keys.json"
        keys_file.write_text(json.dumps(keys_document(args.seed)))
        export_dir = Path(scratch) / "exports"
        types = args.types.split(",")
        export_id = asyncio.run(_prepare(url, keys_file, types))
        env = {
            **os.environ,
            "REGISTRY_DATABASE_URL": url,
            "REGISTRY_DATA_DIR": scratch,
            "REGISTRY_IDENTIFIER_KEYS_FILE": str(keys_file),
            "REGISTRY_EXPORT_DIR": str(export_dir),
            "REGISTRY_EXPORT_PORTION_BYTES": str(args.portion_bytes),
            "REGISTRY_LOG_LEVEL": "WARNING",
        }
        machine, started = psutil.cpu_times(), time.perf_counter()
        report, sampled = _run_child(args, env)
        lifetime = time.perf_counter() - started
        busy = _busy_seconds(psutil.cpu_times()) - _busy_seconds(machine)
        # What else kept the cores busy meanwhile (PostgreSQL's work for the export, and any
        # other session's): the machine's busy CPU time beyond the worker's own, over the
        # worker process's life (its imports and connection included).
        report["machine_busy_percent"] = round(
            100 * busy / (lifetime * (psutil.cpu_count() or 1)), 1
        )
        report["other_cpu_seconds"] = round(busy - report["worker_cpu_seconds"], 1)
        files = sorted((export_dir / export_id).glob("*.ndjson"))
        report.update(
            export_id=export_id,
            types=types,
            portion_bytes=args.portion_bytes,
            files=len(files),
            largest_file_bytes=max((f.stat().st_size for f in files), default=0),
            sampled_peak_rss_mb=round(sampled / 2**20, 1),
            measured_at=datetime.now(UTC).isoformat(timespec="seconds"),
            database=args.database_url.rsplit("/", 1)[-1],
        )
        if args.keep_files:
            kept = Path(tempfile.mkdtemp(prefix="registry-export-files-"))
            for file in files:
                file.rename(kept / file.name)
            report["kept_in"] = str(kept)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"export-{stamp}.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


# --- the child: one pass of the worker, as `registry worker` runs it -----------------------------


def _peak_rss_kb() -> int:
    """The process's peak RSS (``VmHWM``): the kernel's high-water mark of this process's own
    memory. (``ru_maxrss`` would not do: Linux carries it across ``exec`` from the forking
    parent, so a child started by a larger parent reports the parent's peak.)"""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


async def _child(database_url: str) -> None:
    from registry.db.engine import Database
    from registry.settings import Settings
    from registry.worker import exports

    settings = Settings()
    database = Database.connect(_async_url(database_url), pool_size=2, max_overflow=0)
    before = psutil.Process().memory_info().rss
    peak_before = _peak_rss_kb()
    cpu = time.process_time()
    started = time.perf_counter()
    try:
        done = await exports.run_once(database, settings)
        seconds = time.perf_counter() - started
        async with database.engine.connect() as connection:
            from sqlalchemy import select

            from registry.domain.exports.tables import export_table

            row = (
                (
                    await connection.execute(
                        select(export_table.c.status, export_table.c.counts, export_table.c.files)
                        .order_by(export_table.c.created_at.desc())
                        .limit(1)
                    )
                )
                .mappings()
                .one()
            )
    finally:
        await database.dispose()
    records = sum((row["counts"] or {}).values())
    written = sum(file["bytes"] for file in row["files"] or [])
    print(
        json.dumps(
            {
                "passes_done": done,
                "status": row["status"],
                "counts": row["counts"],
                "records": records,
                "bytes": written,
                "seconds": round(seconds, 1),
                "records_per_second": round(records / seconds),
                "mb_per_second": round(written / 2**20 / seconds, 1),
                "worker_cpu_seconds": round(time.process_time() - cpu, 1),
                "rss_before_pass_mb": round(before / 2**20, 1),
                "peak_rss_before_pass_mb": round(peak_before / 1024, 1),
                "peak_rss_mb": round(_peak_rss_kb() / 1024, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
