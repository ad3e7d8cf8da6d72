"""``PageOf[X]``, named in the handlers on every request, is built once per process."""

from __future__ import annotations

import gc
import weakref

from registry.api.schemas.base import PageOf
from registry.api.schemas.cases import ReferredCase


def test_a_page_model_outlives_a_garbage_collection() -> None:
    # (pydantic holds its parametrized models weakly: without ours, the next collection drops
    # this one and the next request builds it again)
    made = weakref.ref(PageOf[ReferredCase])
    gc.collect()
    assert made() is not None
    assert PageOf[ReferredCase] is made()
    assert PageOf[ReferredCase].model_fields["items"].annotation == list[ReferredCase]
