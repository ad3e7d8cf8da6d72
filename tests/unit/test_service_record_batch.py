"""A batch as read and answered (``api.schemas.service_records.Batch``), without a database:
its answer is the ``BatchResult`` the model writes, byte for byte, and a batch of ten
thousand records holds neither its parsed items beside their records nor its answer as
values beside its bytes (issue 18: the worker's peak memory)."""

from __future__ import annotations

import gc
import tracemalloc
import uuid
from collections.abc import Callable
from typing import Any

import orjson

from registry.api.schemas.service_records import NDJSON, Batch, BatchResult, ServiceRecordIn
from registry.domain.service_records.commands import Result
from registry.errors import FieldError
from tests.support import record

FAMILY = str(uuid.uuid4())


def _mixed() -> list[Any]:
    return [
        record(FAMILY, external_ref="m-0"),
        record(FAMILY, external_ref="m-1", units=-1),  # shape
        "not an object",  # shape
        record(FAMILY, external_ref="m-3"),  # rejected by a rule, below
        record(FAMILY, external_ref="has space"),  # shape: its reference is answered as given
        record(FAMILY, notes="Консультація"),
    ]


def _submitted(batch: Batch) -> list[Result]:
    """What ``commands.submit`` would answer: the record at position 3 rejected."""
    results = []
    for index, position in enumerate(batch.positions):
        result = Result(index, f"m-{position}" if position != 5 else None)
        if position == 3:
            result.errors.append(FieldError("records.3.family_id", "not referred"))
        else:
            result.id, result.version, result.outcome = uuid.uuid4(), 1, "created"
        results.append(result)
    return results


def test_the_answer_is_the_models_json_byte_for_byte() -> None:
    bodies = {
        "application/json": orjson.dumps({"records": _mixed()}),
        NDJSON: b"\n".join(orjson.dumps(item) for item in _mixed()) + b"\n",
    }
    for content_type, raw in bodies.items():
        batch = Batch.read(raw, content_type, atomic=False)
        assert batch.positions == [0, 3, 5]
        results = _submitted(batch)
        answer = batch.answer(results, atomic=False)
        assert answer == BatchResult.model_validate_json(answer).model_dump_json().encode()
        written = orjson.loads(answer)
        assert (written["accepted"], written["rejected"]) == (2, 4)
        assert [r["index"] for r in written["results"]] == list(range(6))
        assert [r["external_ref"] for r in written["results"]] == [
            "m-0",
            "m-1",
            None,
            "m-3",
            "has space",
            None,
        ]
        assert [e["field"] for e in written["results"][1]["errors"]] == ["records.1.units"]
        assert written["results"][5]["id"] == str(results[2].id)


def _peak_above(work: Callable[[], Any]) -> tuple[Any, int, int]:
    """What ``work`` returns, the Python memory it still held after and its peak (bytes)."""
    gc.collect()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        value = work()
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return value, held - before, peak - before


def test_ten_thousand_records_are_held_once() -> None:
    raw = orjson.dumps({"records": [record(FAMILY, external_ref=f"r-{i}") for i in range(10_000)]})
    parsed = orjson.loads(raw)["records"]
    _, records_alone, _ = _peak_above(
        lambda: [ServiceRecordIn.model_validate(item).model_dump() for item in parsed]
    )
    parsed.clear()
    batch, held, _ = _peak_above(lambda: Batch.read(raw, "application/json", atomic=False))
    # the parsed items (about as large as their records) are let go as they are checked
    assert held < records_alone * 1.2, (held, records_alone)

    results = [
        Result(i, f"r-{i}", uuid.uuid4(), 1, "created") for i in range(len(batch.take_records()))
    ]
    answer, _, peak = _peak_above(lambda: batch.answer(results, atomic=False))
    # the answer as ten thousand dicts would be several times its bytes
    assert peak < len(answer) * 3, (peak, len(answer))
