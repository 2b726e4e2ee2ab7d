"""Indicators that look across an agent's days: days worked in a row, and deviation from baseline.

Deviation follows control-chart practice (``indicators.md``): an EWMA (λ = 0.3) of the latest
working days compared with the agent's own baseline — mean and SD of the 28 working days before —
in SD units. "28 days" counts *working* days (rows), so a week off does not empty the baseline.
Fewer than ``baseline_min_days`` prior days, or no spread, leaves the deviation unknown.

An incremental run (``since``) reads, per agent, the days from ``since`` on and before it only
what the windows of those days look at: the 28 working days for the baselines, the 4 for the
EWMA's earlier terms and days in a row. Days in a row continue from the stored count of the day
that run started on, when it lies before ``since``.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, Float, and_, case, cast, func, literal, null, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement

from ax.indicators import Scope
from ax.settings import Settings
from db.models import Agent, AgentDay
from db.sqlfuncs import day_number

BASELINE_DAYS = 28
EWMA_LAMBDA = 0.3
EWMA_TERMS = 5  # weights beyond the 5th day are below 0.07 of the first; the rest is renormalised


def _lagged(metric, window) -> list:
    """``metric`` on this and each of the previous ``EWMA_TERMS - 1`` working days."""
    return [metric if k == 0 else func.lag(metric, k).over(**window) for k in range(EWMA_TERMS)]


def _ewma(lagged: list) -> object:
    """Truncated EWMA over this and the previous working days' values, skipping unknown days.

    Takes the lagged values as columns of the query below, so each LAG is worked out once (the
    expression uses each value twice)."""
    weights = [EWMA_LAMBDA * (1 - EWMA_LAMBDA) ** k for k in range(EWMA_TERMS)]
    total = sum(w * func.coalesce(x, 0.0) for w, x in zip(weights, lagged, strict=True))
    weight = sum(case((x.is_not(None), w), else_=0.0) for w, x in zip(weights, lagged, strict=True))
    return case((weight > 0, total / weight), else_=null())


METRICS = ("aht", "occupancy", "hard_share")


def _metrics(d) -> dict[str, object]:
    # Double precision on both back ends (SQLite has nothing else): exact NUMERIC arithmetic on
    # PostgreSQL cost most of this step and gave results SQLite could not match to the last digit.
    per_contact = case((d.contacts > 0, cast(d.contacts, Float)), else_=null())
    return {
        "aht": d.handle_seconds / per_contact,
        "occupancy": d.occupancy,
        "hard_share": d.hard_contacts / per_contact,
    }


def history_start(scope: Scope, rows_before: int, name: str = "history"):
    """Per agent in ``scope``: the day ``rows_before`` working days (agent-day rows) before
    ``scope.since`` (0001-01-01 with fewer: all of them). A CTE (agent_id, first); one index
    probe per agent on agent_day's key."""
    a, d = Agent.__table__.c, AgentDay.__table__.c
    assert scope.since is not None
    nth_before = (
        select(d.day)
        .where(d.agent_id == a.id, d.day < scope.since)
        .order_by(d.day.desc())
        .offset(rows_before - 1)
        .limit(1)
        .scalar_subquery()
    )
    # Materialized: worked out once per agent, not pulled into the join and probed once per row.
    return (
        select(a.id.label("agent_id"), func.coalesce(nth_before, literal(date.min, Date)).label("first"))
        .where(scope.agents(a.id))
        .cte(name)
        .prefix_with("MATERIALIZED")
    )


def _run_base(d, since: date | None) -> ColumnElement:
    """What a run of days in a row counts up from at its first row read: 1, or for a row before
    ``since`` (not rebuilt) the count stored with it, which may continue from days not read."""
    if since is None:
        return literal(1)
    return case((d.day < since, d.consecutive_days), else_=1)


def _rows(scope: Scope, rows_before: int, name: str):
    """The agent-days of ``scope`` from ``rows_before`` working days before ``since`` on (all of
    them in a full run), with each metric worked out once per row."""
    table = AgentDay.__table__
    d = table.c
    source = table
    where = [scope.agents(d.agent_id)]
    if scope.since is not None:
        history = history_start(scope, rows_before, f"{name}_history")
        source = table.join(history, history.c.agent_id == d.agent_id)
        where.append(d.day >= history.c.first)
    return (
        select(
            d.agent_id,
            d.day,
            _run_base(d, scope.since).label("base"),
            *(metric.label(name) for name, metric in _metrics(d).items()),
        )
        .select_from(source)
        .where(and_(*where))
        .subquery(name)
    )


def _baseline_columns(m) -> list:
    """Mean, mean square and count of each metric over the 28 working days before each row."""
    prior = {"partition_by": m.agent_id, "order_by": m.day, "rows": (-BASELINE_DAYS, -1)}
    columns = []
    for name in METRICS:
        metric = m[name]
        columns += [
            func.avg(metric).over(**prior).label(f"{name}_mean"),
            func.avg(metric * metric).over(**prior).label(f"{name}_sq"),
            func.count(metric).over(**prior).label(f"{name}_n"),
        ]
    return columns


def _recent_columns(m) -> list:
    """Each row's run of days in a row (its key) and count base, and each metric on this and the
    previous working days (the EWMA's terms)."""
    window = {"partition_by": m.agent_id, "order_by": m.day}
    columns = [(day_number(m.day) - func.row_number().over(**window)).label("run"), m.base]
    for name in METRICS:
        columns += [value.label(f"{name}_{k}") for k, value in enumerate(_lagged(m[name], window))]
    return columns


def _stats(scope: Scope):
    """Per agent-day read: the baseline and recent columns.

    A full run reads every row once for both. A run from ``since`` reads the 28 working days
    before it for the baselines, but only the few before it for the recent columns: SQLite works
    every window function out for every row read, and a dozen LAGs over 28 days of history per
    agent, to keep one or two days, were most of an incremental run's cost here.
    """
    if scope.since is None:
        rows = _rows(scope, BASELINE_DAYS, "rows")
        return select(
            rows.c.agent_id, rows.c.day, *_baseline_columns(rows.c), *_recent_columns(rows.c)
        ).subquery("stats")
    base_rows = _rows(scope, BASELINE_DAYS, "base_rows")
    # The EWMA's earlier terms, and at least the day before (days in a row continue from it).
    recent_rows = _rows(scope, max(1, EWMA_TERMS - 1), "recent_rows")
    baseline = select(base_rows.c.agent_id, base_rows.c.day, *_baseline_columns(base_rows.c)).subquery(
        "baseline"
    )
    recent = select(recent_rows.c.agent_id, recent_rows.c.day, *_recent_columns(recent_rows.c)).subquery(
        "recent"
    )
    b, r = baseline.c, recent.c
    return (
        select(
            r.agent_id,
            r.day,
            *(c for c in b if c.name not in ("agent_id", "day")),
            *(c for c in r if c.name not in ("agent_id", "day")),
        )
        .select_from(recent.join(baseline, and_(b.agent_id == r.agent_id, b.day == r.day)))
        .subquery("stats")
    )


def derived_select(scope: Scope, settings: Settings):
    """Per agent-day read (see the module docstring): consecutive days and the three deviations."""
    s = _stats(scope).c

    def deviation(name: str):
        mean, var = s[f"{name}_mean"], s[f"{name}_sq"] - s[f"{name}_mean"] * s[f"{name}_mean"]
        ewma = _ewma([s[f"{name}_{k}"] for k in range(EWMA_TERMS)])
        enough = s[f"{name}_n"] >= settings.baseline_min_days
        known = and_(enough, var > 1e-12, ewma.is_not(None))
        return case((known, (ewma - mean) / func.sqrt(var, type_=Float)), else_=null())

    return select(
        s.agent_id,
        s.day,
        (
            func.first_value(s.base).over(partition_by=(s.agent_id, s.run), order_by=s.day)
            + func.row_number().over(partition_by=(s.agent_id, s.run), order_by=s.day)
            - 1
        ).label("consecutive"),
        deviation("aht").label("aht_dev"),
        deviation("occupancy").label("occupancy_dev"),
        deviation("hard_share").label("hard_share_dev"),
    ).subquery("derived")


def update_derived(conn: Connection, scope: Scope, settings: Settings) -> None:
    """Fill consecutive days and baseline deviations for the agent-days in ``scope``."""
    table = AgentDay.__table__
    d = table.c
    x = derived_select(scope, settings).c
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
