"""The two views of an agent's burnout risk, each checked against the viewer.

- :func:`lead_view_of_risk`: the stored, workload-only level. A lead of the agent's team sees it,
  and so does the agent ("what my lead sees about me"). Survey answers cannot reach it.
- :func:`own_risk`: the agent's own level — the same workload drivers plus signals from their
  own latest survey scores (``indicators.md``: WHO-5 < 52 or a fall of ≥ 10 points, CBI work-related
  ≥ 50, single-item ≥ 3). Only the agent themself may read it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from sqlmodel import Session, select

from ax.access import Viewer, check_agent, check_self
from ax.audit import record_view
from ax.instruments import score
from ax.risk import Driver, Level, stored_drivers, workload_level
from ax.settings import Settings, get_settings
from ax.workload import teams_of_agent
from db.models import AgentRisk, PulseAnswer, PulseSurvey

WHO5_LOW = 52
WHO5_MEANINGFUL_DROP = 10
CBI_ELEVATED = 50
SINGLE_ITEM_BURNOUT = 3


@dataclass(frozen=True)
class RiskView:
    agent_id: int
    day: date | None
    level: Level | None  # None: not computed yet (no activity)
    drivers: list[Driver] = field(default_factory=list)
    includes_surveys: bool = False


def _latest(session: Session, agent_id: int) -> AgentRisk | None:
    return session.exec(
        select(AgentRisk).where(AgentRisk.agent_id == agent_id).order_by(AgentRisk.day.desc()).limit(1)
    ).first()


def lead_view_of_risk(session: Session, viewer: Viewer, agent_id: int) -> RiskView:
    """The level a lead sees for ``agent_id``: workload drivers only."""
    check_agent(session, viewer, agent_id, team_ids_of_agent=teams_of_agent(session, agent_id))
    if viewer.agent_id != agent_id:
        record_view(session, viewer, what="workload risk level", target=f"agent {agent_id}")
    risk = _latest(session, agent_id)
    if risk is None:
        return RiskView(agent_id, None, None)
    return RiskView(agent_id, risk.day, Level(risk.level), stored_drivers(risk))


def survey_drivers(session: Session, agent_id: int) -> list[Driver]:
    """Signals from the agent's own answers, each survey window scored on its own."""
    rows = session.exec(
        select(PulseAnswer.survey_id, PulseSurvey.closes_at, PulseAnswer.item_key, PulseAnswer.value)
        .join(PulseSurvey, PulseSurvey.id == PulseAnswer.survey_id)
        .where(PulseAnswer.agent_id == agent_id, PulseAnswer.deleted.is_(False))
    ).all()
    windows: dict[int, dict[str, float | None]] = defaultdict(dict)
    closes: dict[int, object] = {}
    for survey_id, closes_at, item_key, value in rows:
        windows[survey_id][item_key] = value
        closes[survey_id] = closes_at
    ordered = sorted(windows, key=lambda survey_id: closes[survey_id])
    latest: dict[str, float] = {}
    who5_series: list[float] = []
    for survey_id in ordered:
        for instrument in ("who5", "cbi_work", "single_burnout"):
            result = score(instrument, windows[survey_id])
            if result is not None:
                latest[instrument] = result.value
                if instrument == "who5":
                    who5_series.append(result.value)
    drivers: list[Driver] = []
    if "who5" in latest:
        previous = who5_series[-2] if len(who5_series) > 1 else None
        if previous is not None and previous - latest["who5"] >= WHO5_MEANINGFUL_DROP:
            drivers.append(
                Driver(
                    "wellbeing",
                    f"wellbeing (WHO-5) fell from {previous:.0f} to {latest['who5']:.0f}",
                    "survey",
                )
            )
        elif latest["who5"] < WHO5_LOW:
            drivers.append(
                Driver("wellbeing", f"wellbeing (WHO-5) at {latest['who5']:.0f}, below {WHO5_LOW}", "survey")
            )
    if latest.get("cbi_work", 0) >= CBI_ELEVATED:
        drivers.append(
            Driver("work_strain", f"work-related strain (CBI) at {latest['cbi_work']:.0f}", "survey")
        )
    if latest.get("single_burnout", 0) >= SINGLE_ITEM_BURNOUT:
        drivers.append(
            Driver("burnout_item", "your last check-in said you feel some symptoms of burnout", "survey")
        )
    return drivers


def own_level(workload: list[Driver], survey: list[Driver], settings: Settings) -> Level:
    """Workload points, raised by survey signals: any one makes it elevated; with overload, high."""
    level = workload_level(len(workload), settings)
    if not survey:
        return level
    if any(driver.key == "occupancy" for driver in workload):  # sustained > 90%, not the 85% variant
        return Level.high
    return Level.high if level == Level.high else Level.elevated


def own_risk(session: Session, viewer: Viewer, *, settings: Settings | None = None) -> RiskView:
    """The agent's own level, with their survey signals; nobody else may ask for it."""
    agent_id = check_self(session, viewer, "view the personal risk level of")
    settings = settings or get_settings()
    risk = _latest(session, agent_id)
    workload = stored_drivers(risk) if risk else []
    survey = survey_drivers(session, agent_id)
    if risk is None and not survey:
        return RiskView(agent_id, None, None, includes_surveys=True)
    return RiskView(
        agent_id,
        risk.day if risk else None,
        own_level(workload, survey, settings),
        workload + survey,
        includes_surveys=True,
    )
