"""Authorization matrix: every public ``ax/`` read × every role × own/other scope.

The reads are *discovered*: every public function of an ``ax`` module whose first parameters are
``(session, viewer)``. Each must have an entry here, as a read (with who may call it for their
own scope and for someone else's) or as a write tested in its own module; a new function without
one fails :func:`test_every_viewer_function_has_a_matrix_entry`, so nothing ships unreviewed.

Scopes, on the demo org (the lead leads Technical Support and Billing; the agent is in Tech):
own = the agent themself / a team the lead leads; other = an agent or team outside that. HR and
admins have no personal scope: they see aggregates of every team and no individual. A refusal
must raise :class:`AccessDenied` *and* leave an ``access_denied`` audit entry for that user.
"""

from __future__ import annotations

import importlib
import inspect
import io
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

import ax
from ax import exports
from ax.access import AccessDenied, Viewer
from ax.accounts import viewer_for
from ax.demo import load_demo
from ax.privacy import Granularity, period_of
from ax.settings import reset_settings
from ax.survey_stats import View
from db.migrate import upgrade
from db.models import Agent, AuditEvent, Team, TeamMembership, User
from db.types import utcnow
from tests.conftest import BACKENDS, Store

ROLES = ("agent", "lead", "hr", "admin")
SCOPES = ("own", "other")
EVERYONE = "agent lead hr admin"
TEAM_READERS = "lead:own hr admin"  # aggregates of a team: its lead, HR, admins

# Functions with (session, viewer) that are not reads: the checks themselves, and writes whose
# authorization is tested next to their behaviour.
NOT_READS = {
    "access.check_agent": "the check itself (tests/test_accounts_access.py)",
    "access.check_self": "the check itself (tests/test_accounts_access.py)",
    "access.check_team": "the check itself (tests/test_accounts_access.py)",
    "access.require_role": "the check itself (tests/test_accounts_access.py)",
    "audit.record_event": "writes an audit entry; viewer may be None",
    "audit.record_view": "writes an audit entry (tests/test_audit_log.py)",
    "actions.record_action": "write (tests of ax/actions.py)",
    "breaks.cancel_break": "write (tests/test_breaks.py)",
    "breaks.decide_request": "write (tests/test_breaks.py)",
    "breaks.request_break": "write (tests/test_breaks.py)",
    "breaks.respond_to_break": "write (tests/test_breaks.py)",
    "breaks.schedule_break": "write (tests/test_breaks.py)",
    "notifications.mark_read": "write (tests/test_survey_windows.py)",
    "survey_admin.add_custom_item": "write (tests/test_surveys_admin.py)",
    "survey_admin.update_definition": "write (tests/test_surveys_admin.py)",
    "surveys.submit_answers": "write (tests/test_survey_page.py)",
    "syncing.request_sync": "write (tests/test_sync_cli.py)",
}


@dataclass
class Ctx:
    session: Session
    teams: dict[str, int]  # own / other
    agents: dict[str, int]
    now: Any
    month: Any  # a survey month
    month_first: Any = None  # the current export month


@dataclass(frozen=True)
class Read:
    call: Callable[[Callable[..., Any], Ctx, Viewer, str], Any]  # (function, ctx, viewer, scope)
    allowed: str  # "role" (both scopes) or "role:own" / "role:other", space separated

    def allows(self, role: str, scope: str) -> bool:
        words = self.allowed.split()
        return role in words or f"{role}:{scope}" in words


def plain(fn, ctx, viewer, scope):
    return fn(ctx.session, viewer)


def team(fn, ctx, viewer, scope):
    return fn(ctx.session, viewer, ctx.teams[scope])


def team_now(fn, ctx, viewer, scope):
    return fn(ctx.session, viewer, ctx.teams[scope], ctx.now)


def agent(fn, ctx, viewer, scope):
    return fn(ctx.session, viewer, ctx.agents[scope])


def view(fn, ctx, viewer, scope):
    return fn(ctx.session, viewer, View(ctx.teams[scope]), [ctx.month])


READS: dict[str, Read] = {
    "actions.team_actions": Read(team, "lead:own"),
    "actions.you_said_we_did": Read(plain, "agent"),
    "alerts.team_alerts": Read(team, "lead:own"),
    "audit_view.audit_filters": Read(plain, "hr admin"),
    "audit_view.browse_audit": Read(plain, "hr admin"),
    "breaks.live_queue": Read(team_now, TEAM_READERS),
    "breaks.my_breaks": Read(plain, "agent"),
    "breaks.pending_requests": Read(team_now, "lead:own"),
    "breaks.plan_breaks": Read(team_now, "lead:own"),
    "breaks.planner_teams": Read(plain, "lead"),
    "breaks.team_breaks": Read(lambda fn, c, v, s: fn(c.session, v, c.teams[s], c.now.date()), "lead:own"),
    "breaks.team_members": Read(team, "lead:own"),
    "exports.export_options": Read(plain, "hr admin"),
    "exports.prepare": Read(
        lambda fn, c, v, s: fn(c.session, v, exports.ExportRequest(c.month_first, c.month_first, c.teams[s])),
        "hr admin",
    ),
    "exports.run_export": Read(
        lambda fn, c, v, s: fn(
            c.session, v, exports.ExportRequest(c.month_first, c.month_first, c.teams[s]), "csv", io.BytesIO()
        ),
        "hr admin",
    ),
    "lead_visible.figures_about_me": Read(plain, "agent"),
    "lead_visible.team_figures": Read(team, "lead:own"),
    "notifications.my_notifications": Read(plain, EVERYONE),
    "risk_view.lead_view_of_risk": Read(agent, "agent:own lead:own"),
    "risk_view.own_risk": Read(plain, "agent"),
    "status.job_history": Read(plain, "admin"),
    "status.sync_health": Read(plain, "admin"),
    "survey_admin.list_definitions": Read(plain, "hr admin"),
    "survey_admin.planned_windows": Read(plain, "hr admin"),
    "survey_stats.comments": Read(
        lambda fn, c, v, s: fn(c.session, v, View(c.teams[s]), c.month, "custom_text"), TEAM_READERS
    ),
    "survey_stats.compare_views": Read(
        lambda fn, c, v, s: fn(c.session, v, [View(c.teams[s])], c.month), TEAM_READERS
    ),
    "survey_stats.deterioration_flags": Read(
        lambda fn, c, v, s: fn(c.session, v, team_ids=[c.teams[s]]), TEAM_READERS
    ),
    "survey_stats.item_summaries": Read(
        lambda fn, c, v, s: fn(c.session, v, View(c.teams[s]), c.month), TEAM_READERS
    ),
    "survey_stats.response_rates": Read(view, TEAM_READERS),
    "survey_stats.survey_scores": Read(view, TEAM_READERS),
    "survey_stats.views_for": Read(plain, "lead hr admin"),
    "surveys.check_in": Read(plain, "agent"),
    "surveys.my_history": Read(plain, "agent"),
    "surveys.open_surveys": Read(plain, "agent"),
    "team_view.over_thresholds": Read(team, "lead:own"),
    "team_view.queue_today": Read(team_now, "lead:own"),
    "team_view.team_picture": Read(team, "lead:own"),
    "team_view.workload_by_period": Read(
        lambda fn, c, v, s: fn(c.session, v, c.teams[s], [period_of(c.now.date(), Granularity.week)]),
        "lead:own",
    ),
    "workload.my_workload": Read(plain, "agent"),
    "workload.org_monthly_summary": Read(plain, "hr admin"),
    "workload.visible_teams": Read(plain, "lead hr admin"),
}


def viewer_functions() -> dict[str, Callable[..., Any]]:
    """Every public function of an ``ax`` module whose first parameters are (session, viewer)."""
    found = {}
    for module_info in pkgutil.walk_packages(ax.__path__, "ax."):
        module = importlib.import_module(module_info.name)
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ != module.__name__ or name.startswith("_"):
                continue
            if list(inspect.signature(fn).parameters)[:2] == ["session", "viewer"]:
                found[f"{module.__name__.removeprefix('ax.')}.{name}"] = fn
    return found


def test_every_viewer_function_has_a_matrix_entry():
    found = set(viewer_functions())
    missing = sorted(found - set(READS) - set(NOT_READS))
    assert not missing, f"add these to the authorization matrix (READS or NOT_READS): {missing}"
    stale = sorted((set(READS) | set(NOT_READS)) - found)
    assert not stale, f"matrix entries for functions that no longer exist: {stale}"


@pytest.fixture(scope="module", params=BACKENDS)
def demo(request, tmp_path_factory):
    s = Store(request.param, str(tmp_path_factory.mktemp("authz")))
    upgrade(s.engine)
    load_demo(s.engine, agents=12, days=21, seed=11, password="demo")
    yield s
    s.close()


@pytest.fixture
def ctx(demo, monkeypatch):
    monkeypatch.setenv("AX_DATABASE_URL", demo.url)
    reset_settings()
    with Session(demo.engine) as session:
        lead = session.exec(select(User).where(User.username == "lead")).one()
        led = viewer_for(session, lead).team_ids
        own_agent = session.exec(select(User).where(User.username == "agent")).one().agent_id
        own_team = session.execute(
            select(TeamMembership.team_id).where(TeamMembership.agent_id == own_agent).limit(1)
        ).scalar_one()
        other_team = (
            session.execute(select(Team.id).where(Team.id.not_in(led)).order_by(Team.id)).scalars().first()
        )
        other_agent = session.execute(
            select(TeamMembership.agent_id).where(TeamMembership.team_id == other_team).limit(1)
        ).scalar_one()
        assert own_team in led and session.get(Agent, other_agent) is not None
        now = utcnow()
        context = Ctx(
            session,
            {"own": own_team, "other": other_team},
            {"own": own_agent, "other": other_agent},
            now,
            period_of(now.date() - timedelta(days=35), Granularity.month),
        )
        context.month_first = exports.Month.of(now.date())
        yield context


def _refusals(session: Session, user_id: int) -> int:
    query = select(func.count()).where(AuditEvent.action == "access_denied", AuditEvent.user_id == user_id)
    return session.execute(query).scalar_one()


@pytest.mark.parametrize("name", sorted(READS))
def test_matrix(ctx, name):
    fn = viewer_functions()[name]
    read = READS[name]
    wrong = []
    for role in ROLES:
        user = ctx.session.exec(select(User).where(User.username == role)).one()
        viewer = viewer_for(ctx.session, user)
        for scope in SCOPES:
            before = _refusals(ctx.session, user.id)
            try:
                read.call(fn, ctx, viewer, scope)
                outcome = "allowed"
            except AccessDenied:
                outcome = "refused"
                if _refusals(ctx.session, user.id) != before + 1:
                    wrong.append(f"{role}/{scope}: refused without an audit entry")
            except Exception as exc:  # an allowed call must also work
                outcome = f"error {type(exc).__name__}: {exc}"
            ctx.session.rollback()
            expected = "allowed" if read.allows(role, scope) else "refused"
            if outcome != expected:
                wrong.append(f"{role}/{scope}: expected {expected}, got {outcome}")
    assert not wrong, f"{name}: " + "; ".join(wrong)
