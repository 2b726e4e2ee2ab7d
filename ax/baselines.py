"""Indicators that look across an agent's days: days worked in a row, and deviation from baseline.

Deviation follows control-chart practice (``indicators.md``): an EWMA (λ = 0.3) of the latest
working days compared with the agent's own baseline — mean and SD of the 28 working days before —
in SD units. "28 days" counts *working* days (rows), so a week off does not empty the baseline.
Fewer than ``baseline_min_days`` prior days, or no spread, leaves the deviation unknown.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, case, func, null, select, update
from sqlalchemy.engine import Connection

from ax.indicators import Scope
from ax.settings import Settings
from db.models import AgentDay
from db.sqlfuncs import day_number

BASELINE_DAYS = 28
EWMA_LAMBDA = 0.3
EWMA_TERMS = 5  # weights beyond the 5th day are below 0.07 of the first; the rest is renormalised
# Enough history before ``since`` for 28 working days and a run of consecutive days.
LOOKBACK = timedelta(days=70)


def _ewma(metric, window) -> object:
    """Truncated EWMA of ``metric`` over this and the previous working days, skipping unknown days."""
    weights = [EWMA_LAMBDA * (1 - EWMA_LAMBDA) ** k for k in range(EWMA_TERMS)]
    lagged = [metric if k == 0 else func.lag(metric, k).over(**window) for k in range(EWMA_TERMS)]
    total = sum(w * func.coalesce(x, 0.0) for w, x in zip(weights, lagged, strict=True))
    weight = sum(case((x.is_not(None), w), else_=0.0) for w, x in zip(weights, lagged, strict=True))
    return case((weight > 0, total / weight), else_=null())


def _metrics(d) -> dict[str, object]:
    per_contact = case((d.contacts > 0, 1.0 * d.contacts), else_=null())
    return {
        "aht": d.handle_seconds / per_contact,
        "occupancy": d.occupancy,
        "hard_share": d.hard_contacts / per_contact,
    }


def update_derived(conn: Connection, scope: Scope, settings: Settings) -> None:
    """Fill consecutive days and baseline deviations for the agent-days in ``scope``."""
    table = AgentDay.__table__
    d = table.c
    where = [scope.agents(d.agent_id)]
    if scope.since is not None:
        where.append(d.day >= scope.since - LOOKBACK)
    window = {"partition_by": d.agent_id, "order_by": d.day}
    prior = {**window, "rows": (-BASELINE_DAYS, -1)}
    columns = [d.agent_id, d.day, (day_number(d.day) - func.row_number().over(**window)).label("run")]
    for name, metric in _metrics(d).items():
        columns += [
            func.avg(metric).over(**prior).label(f"{name}_mean"),
            func.avg(metric * metric).over(**prior).label(f"{name}_sq"),
            func.count(metric).over(**prior).label(f"{name}_n"),
            _ewma(metric, window).label(f"{name}_ewma"),
        ]
    stats = select(*columns).where(and_(*where)).subquery("stats")
    s = stats.c

    def deviation(name: str):
        mean, var = s[f"{name}_mean"], s[f"{name}_sq"] - s[f"{name}_mean"] * s[f"{name}_mean"]
        enough = s[f"{name}_n"] >= settings.baseline_min_days
        known = and_(enough, var > 1e-12, s[f"{name}_ewma"].is_not(None))
        return case((known, (s[f"{name}_ewma"] - mean) / func.sqrt(var)), else_=null())

    derived = select(
        s.agent_id,
        s.day,
        func.row_number().over(partition_by=(s.agent_id, s.run), order_by=s.day).label("consecutive"),
        deviation("aht").label("aht_dev"),
        deviation("occupancy").label("occupancy_dev"),
        deviation("hard_share").label("hard_share_dev"),
    ).subquery("derived")
    x = derived.c
    target = and_(d.agent_id == x.agent_id, d.day == x.day)
    if scope.since is not None:
        target = and_(target, x.day >= scope.since)
    conn.execute(
        update(table)
        .where(target)
        .values(
            consecutive_days=x.consecutive,
            aht_dev=x.aht_dev,
            occupancy_dev=x.occupancy_dev,
            hard_share_dev=x.hard_share_dev,
        )
    )
