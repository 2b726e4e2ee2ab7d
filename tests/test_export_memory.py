"""A large export keeps memory bounded: sections stream page by page (a month of up to
``TEAM_PAGE`` teams), never the whole history at once.

The same organisation (two pages of teams) is exported to CSV files on disk over three months
and over twelve; the peak traced memory of the long export must stay close to the short one's.
(The survey sections hold the organisation chart, which the privacy rules need whole; that
grows with the number of teams, not with the period.) A warm-up export fills the one-time
caches (compiled statements, lazy imports) first, as in tests/test_sync_memory.py.
"""

from __future__ import annotations

import gc
import itertools
import tracemalloc
from datetime import timedelta

import pytest
from sqlalchemy import delete, insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

import ax.export_sections
from ax.accounts import create_user, viewer_for
from ax.exports import ExportRequest, Month, run_export
from ax.workload import local_today
from db.models import Agent as AgentRow
from db.models import AgentDay, AgentRisk, AuditEvent, Role, Team, TeamDay, TeamMembership, User
from db.types import utcnow

TEAM_PAGE = 10  # a smaller page than production's, so two pages of teams stay quick to export
TEAMS = 2 * TEAM_PAGE
AGENTS_PER_TEAM = 5
SHORT, LONG = 3, 12  # months


def fill(engine: Engine, teams: int, months: int) -> None:
    """``teams`` teams with their agents and ``months`` months of team, agent and risk rows."""
    with engine.begin() as conn:
        for table in (AgentRisk, AgentDay, TeamDay, TeamMembership, AgentRow, Team):
            conn.execute(delete(table))
        today = local_today("UTC")
        first = Month.of(today)
        for _ in range(months - 1):
            first = Month(first.year - (first.month == 1), (first.month - 2) % 12 + 1)
        days = [first.first + timedelta(days=n) for n in range((today - first.first).days + 1)]
        now = utcnow()
        conn.execute(
            insert(Team),
            [
                {"id": t + 1, "source": "t", "external_id": f"t{t}", "name": f"Team {t:04d}", "site": "HQ"}
                for t in range(teams)
            ],
        )
        agents = [(t + 1, t * AGENTS_PER_TEAM + a + 1) for t in range(teams) for a in range(AGENTS_PER_TEAM)]
        conn.execute(
            insert(AgentRow),
            [{"id": a, "source": "t", "external_id": f"a{a}", "name": f"Agent {a}"} for _, a in agents],
        )
        conn.execute(
            insert(TeamMembership),
            [{"source": "t", "external_id": f"m{a}", "team_id": t, "agent_id": a} for t, a in agents],
        )
        conn.execute(
            insert(TeamDay),
            [
                {
                    "team_id": t + 1,
                    "day": d,
                    "agents": AGENTS_PER_TEAM,
                    "contacts": 40,
                    "handle_seconds": 20000,
                    "computed_at": now,
                }
                for t in range(teams)
                for d in days
            ],
        )
        conn.execute(
            insert(AgentDay),
            [{"agent_id": a, "day": d, "contacts": 20, "computed_at": now} for _, a in agents for d in days],
        )
        conn.execute(
            insert(AgentRisk),
            [
                {"agent_id": a, "day": d, "level": "elevated", "computed_at": now}
                for _, a in agents
                for d in days
            ],
        )


def traced_export(engine: Engine, months: int, path) -> tuple[int, int]:
    fill(engine, TEAMS, months)
    today = local_today("UTC")
    first = Month.of(today)
    for _ in range(months - 1):
        first = Month(first.year - (first.month == 1), (first.month - 2) % 12 + 1)
    request = ExportRequest(first, Month.of(today))
    with Session(engine) as session:
        viewer = viewer_for(session, session.exec(select(User).where(User.username == "hr")).one())
        gc.collect()
        tracemalloc.start()
        try:
            with open(path, "wb") as out:
                result = run_export(session, viewer, request, "csv", out)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    return peak, result.rows


def test_csv_export_memory_does_not_grow_with_the_organisation(
    engine: Engine, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ax.export_sections, "TEAM_PAGE", TEAM_PAGE)
    with Session(engine) as session:
        create_user(session, username="hr", password=None, role=Role.hr, display_name="HR")
        session.commit()
    traced_export(engine, 1, tmp_path / "warm.csv")
    small, small_rows = traced_export(engine, SHORT, tmp_path / "short.csv")
    large, large_rows = traced_export(engine, LONG, tmp_path / "long.csv")
    assert large_rows > 3 * small_rows  # the long export really wrote about four times the rows
    assert (tmp_path / "long.csv").stat().st_size > 2 * (tmp_path / "short.csv").stat().st_size
    print(f"peak traced memory: {small / 1e6:.2f} MB for {SHORT} months, {large / 1e6:.2f} MB for {LONG}")
    assert large < 1.5 * small, (
        f"peak traced memory grew with the period: {small / 1e6:.1f} MB for {SHORT} months, "
        f"{large / 1e6:.1f} MB for {LONG}; rows are being collected instead of streamed"
    )
    with Session(engine) as session:
        exports = session.exec(select(AuditEvent).where(AuditEvent.action == "export")).all()
        assert len(exports) == 3


def test_each_page_is_written_before_the_next_is_read(
    engine: Engine, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Streaming, shown directly: when the workload section reads a page (a month of
    ``TEAM_PAGE`` teams), the previous page is already in the file."""
    with Session(engine) as session:
        create_user(session, username="hr", password=None, role=Role.hr, display_name="HR")
        session.commit()
    monkeypatch.setattr(ax.export_sections, "TEAM_PAGE", TEAM_PAGE)
    fill(engine, TEAMS, SHORT)
    read_page = ax.export_sections._workload_rows
    file_size_at_read: list[int] = []
    path = tmp_path / "export.csv"

    def recording(*args):
        file_size_at_read.append(path.stat().st_size)
        rows = read_page(*args)
        assert len(rows) <= TEAM_PAGE  # a page never holds more than a month of TEAM_PAGE teams
        return rows

    monkeypatch.setattr(ax.export_sections, "_workload_rows", recording)
    today = local_today("UTC")
    first = Month.of(today)
    for _ in range(SHORT - 1):
        first = Month(first.year - (first.month == 1), (first.month - 2) % 12 + 1)
    with Session(engine) as session:
        viewer = viewer_for(session, session.exec(select(User).where(User.username == "hr")).one())
        with open(path, "wb", buffering=0) as out:  # unbuffered: the file shows what AX wrote so far
            run_export(session, viewer, ExportRequest(first, Month.of(today)), "csv", out)
    assert len(file_size_at_read) == 2 * SHORT  # two pages of teams × the months
    assert all(b > a for a, b in itertools.pairwise(file_size_at_read)), file_size_at_read
