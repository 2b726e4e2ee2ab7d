"""Run a sync again after each crash, as an operator (or the worker's next run) would."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.engine import Engine

from connectors.contract import Connector, run_sync
from connectors.http import HelpdeskError


def sync_until_done(
    engine: Engine,
    make_connector: Callable[[], Connector],
    *,
    attempts: int,
    crashes: tuple[type[BaseException], ...] = (HelpdeskError,),
    label: str = "",
) -> int:
    """``run_sync`` until one run completes, each resuming from the stored cursors; returns the crashes.

    Fails the test when no run completes within ``attempts``.
    """
    for crashed in range(attempts):
        try:
            run_sync(engine, make_connector())
            return crashed
        except crashes:
            continue
    pytest.fail(f"{label}: sync never completed in {attempts} attempts")
