"""The serving process's cyclic garbage collector: a page's worth of live rows must not set
off a collection of the young generation (each walked the whole page: 120–150 µs of a page
of families or cases at Python's default threshold of 700)."""

from __future__ import annotations

import gc
from typing import Any

from registry.main import YOUNG_GENERATION_THRESHOLD, create_app


async def test_a_page_of_live_objects_does_not_set_off_a_young_collection(settings, verifier):
    # No database is needed to start: the service starts while it does not answer.
    unreachable = settings.model_copy(
        update={"database_url": "postgresql+asyncpg://registry_app@127.0.0.1:9/registry"}
    )
    app = create_app(unreachable, verifier=verifier, seal_audit=False)
    young_collections = 0

    def count(phase: str, info: dict[str, Any]) -> None:
        nonlocal young_collections
        if phase == "start" and info["generation"] == 0:
            young_collections += 1

    async with app.router.lifespan_context(app):
        gc.collect()  # the count starts from an empty young generation
        gc.callbacks.append(count)
        try:
            # About 21 000 container objects alive at once: more than the pages a full pool
            # of connections keeps in flight (a page of families holds a few thousand).
            page = [
                {"row": (i, [i]), "members": [{"n": j} for j in range(3)]} for i in range(3_000)
            ]
        finally:
            gc.callbacks.remove(count)

    assert len(page) == 3_000
    assert young_collections == 0
    assert gc.get_threshold()[0] == YOUNG_GENERATION_THRESHOLD
