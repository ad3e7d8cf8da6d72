"""Every pass the worker package holds runs in ``registry worker``'s rounds, in an order
that delivers a round's own work in that round: deadline breaches are recorded, then the
feed numbers them, then webhooks deliver them."""

from __future__ import annotations

import importlib
import pkgutil

import registry.worker
from registry.worker import PASSES


def _pass_modules() -> list[str]:
    names = []
    for module in pkgutil.iter_modules(registry.worker.__path__):
        imported = importlib.import_module(f"registry.worker.{module.name}")
        if hasattr(imported, "run_once"):
            names.append(imported.__name__)
    return sorted(names)


def test_every_pass_module_runs_in_the_rounds() -> None:
    assert sorted(work.__module__ for work in PASSES) == _pass_modules()
    assert len(_pass_modules()) == 4


def test_breaches_are_numbered_and_delivered_in_the_round_that_records_them() -> None:
    order = [work.__module__.rsplit(".", 1)[1] for work in PASSES]
    assert order.index("deadlines") < order.index("feed") < order.index("webhooks")
