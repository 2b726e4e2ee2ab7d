"""An agent's own today is still filling in: it must neither stand for their day nor reset a streak.

Status intervals arrive only once they end, so in the morning today's occupancy is unknown and its
few contacts are a partial count. A lead's "latest worked day" and "over a threshold now" read the
agent's latest day that has ended, and count today only once it is already over a threshold.
"Today" is the agent's own local date, not the lead's or the organisation's.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from ax.accounts import create_user, viewer_for
from ax.alerts import OVERLOAD, run_alerts
from ax.settings import Settings
from ax.team_view import SO_FAR, heatmap_cells, recent_signal_counts, team_picture
from ax.workload import local_today
from db.models import Agent, AgentDay, Alert, Role, Team, TeamMembership, User

# 03:00 UTC on a Friday: already Friday in Lisbon and in UTC, still Thursday evening in New York
NOW = datetime(2026, 3, 20, 3, 0, tzinfo=UTC)
FRIDAY = date(2026, 3, 20)
THURSDAY = FRIDAY - timedelta(days=1)
SETTINGS = Settings(timezone="UTC")


def _day(agent_id: int, day: date, occupancy: float | None, contacts: int = 30) -> AgentDay:
    return AgentDay(
        agent_id=agent_id,
        day=day,
        contacts=contacts,
        handle_seconds=contacts * 600,
        occupancy=occupancy,
        on_queue_seconds=None if occupancy is None else 25000,
        computed_at=NOW,
    )


def _team(engine: Engine, agents: dict[str, str]) -> dict[str, int]:
    """One team of ``agents`` (name -> timezone) and its lead ``lea``; returns the agents' ids."""
    with Session(engine) as s:
        team = Team(source="t", external_id="b", name="Billing")
        rows = [Agent(source="t", external_id=name, name=name, timezone=tz) for name, tz in agents.items()]
        s.add(team)
        s.add_all(rows)
        s.flush()
        for agent in rows:
            s.add(TeamMembership(source="t", external_id=f"m{agent.id}", team_id=team.id, agent_id=agent.id))
        create_user(s, username="lea", password="x" * 12, role=Role.lead, lead_team_ids=[team.id])
        s.commit()
        return {a.name: a.id for a in rows}


def test_an_agents_morning_neither_hides_nor_resets_an_overload_and_today_is_their_own(engine):
    ids = _team(engine, {"Ana": "Europe/Lisbon", "Bruno": "America/New_York", "Carla": "UTC"})
    with Session(engine) as s:
        for n in range(1, 6):  # Ana and Carla: the 5 days before Friday; 4 of them over 90%
            s.add(_day(ids["Ana"], FRIDAY - timedelta(days=n), 0.80 if n == 5 else 0.95))
            s.add(_day(ids["Carla"], FRIDAY - timedelta(days=n), 0.80 if n == 5 else 0.95))
        # Ana's Friday so far: 3 contacts, no status interval has ended yet
        s.add(_day(ids["Ana"], FRIDAY, None, contacts=3))
        # Carla's Friday is already over the threshold: it counts
        s.add(_day(ids["Carla"], FRIDAY, 0.97, contacts=5))
        for n in range(1, 6):  # Bruno: the 5 days before his Thursday, all over 90%
            s.add(_day(ids["Bruno"], THURSDAY - timedelta(days=n), 0.95))
        # his Thursday, still going in New York: under the threshold so far, so not judged yet
        s.add(_day(ids["Bruno"], THURSDAY, 0.60, contacts=20))
        s.commit()

        counts = recent_signal_counts(s, list(ids.values()), FRIDAY, SETTINGS, NOW)
    occupancy = counts[counts["signal"] == "occupancy"].set_index("agent_id")

    ana = occupancy.loc[ids["Ana"]]
    assert (ana.latest_day, ana.days_above, ana.of_days, ana.in_a_row) == (THURSDAY, 4, 5, 4)
    assert ana.now_above and not ana.unknown  # not "no status data": her morning is not in yet

    carla = occupancy.loc[ids["Carla"]]
    assert (carla.latest_day, carla.days_above, carla.of_days, carla.in_a_row) == (FRIDAY, 5, 5, 5)

    bruno = occupancy.loc[ids["Bruno"]]
    assert bruno.latest_day == THURSDAY - timedelta(days=1) and bruno.days_above == 5 and bruno.now_above

    # the alert job reads the same: all three are overloaded, though two are mid-day under or unknown
    assert run_alerts(engine, NOW, settings=SETTINGS) == 3
    with Session(engine) as s:
        alerts = s.exec(select(Alert).order_by(Alert.agent_id)).all()
    assert {(a.kind, a.agent_id) for a in alerts} == {(OVERLOAD, agent_id) for agent_id in ids.values()}
    ana_alert = next(a for a in alerts if a.agent_id == ids["Ana"])
    assert "on 4 of the last 5 working days" in ana_alert.text

    # once Bruno's Thursday is over (04:30 UTC is past midnight in New York), it is judged: 60%
    # breaks his run; the alert already raised for Friday stays
    later = recent_signal_counts(Session(engine), [ids["Bruno"]], FRIDAY, SETTINGS, NOW + timedelta(hours=2))
    bruno = later[later["signal"] == "occupancy"].iloc[0]
    assert bruno.latest_day == THURSDAY and not bruno.now_above and bruno.days_above == 4


def test_the_leads_latest_worked_day_is_one_that_has_ended(engine):
    # zones behind UTC (the lead's zone here), so at any hour both todays lie in the lead's 14 days
    ids = _team(engine, {"Ana": "America/Sao_Paulo", "Dora": "America/New_York"})
    ana_today, dora_today = local_today("America/Sao_Paulo"), local_today("America/New_York")
    with Session(engine) as s:
        s.add(_day(ids["Ana"], ana_today - timedelta(days=1), 0.85, contacts=41))
        s.add(_day(ids["Ana"], ana_today, None, contacts=2))
        s.add(_day(ids["Dora"], dora_today, None, contacts=4))  # her first day with AX
        s.commit()
        lead = viewer_for(s, s.exec(select(User).where(User.username == "lea")).one())
        team_id = s.exec(select(Team.id)).one()
        picture = team_picture(s, lead, team_id)

    latest = picture.latest.set_index("agent")
    assert latest.loc["Ana", "day"] == ana_today - timedelta(days=1) and not latest.loc["Ana", "so_far"]
    assert latest.loc["Ana", "contacts"] == 41 and latest.loc["Ana", "occupancy"] == 0.85
    assert latest.loc["Dora", "day"] == dora_today and latest.loc["Dora", "so_far"]
    # the grid still shows today as it fills in: its unknown occupancy is "not in yet", not "no status data"
    cells = heatmap_cells(picture, "occupancy")
    assert cells[["row", "label", "state"]].values.tolist() == [
        ["Ana", "85%", "normal"],
        ["Ana", "…", SO_FAR],
        ["Dora", "…", SO_FAR],
    ]


def test_an_agent_ahead_of_their_lead_has_todays_column_too(engine):
    """UTC+14 against a lead at UTC-12: the agent's date is always one or two days past the lead's."""
    ids = _team(engine, {"Kiri": "Etc/GMT-14", "Ana": "UTC"})
    kiri_today = local_today("Etc/GMT-14")
    with Session(engine) as s:
        s.add(_day(ids["Kiri"], kiri_today - timedelta(days=1), 0.7, contacts=33))
        s.add(_day(ids["Kiri"], kiri_today, None, contacts=5))
        s.add(_day(ids["Ana"], local_today("UTC"), 0.8, contacts=9))
        lea = s.exec(select(User).where(User.username == "lea")).one()
        lea.timezone = "Etc/GMT+12"
        s.add(lea)
        s.commit()
        lead = viewer_for(s, lea)
        picture = team_picture(s, lead, s.exec(select(Team.id)).one())

    assert local_today(lead.timezone) < kiri_today
    assert picture.days[-1] == kiri_today and len(picture.days) == 14
    cells = heatmap_cells(picture, "contacts")
    assert cells[cells["row"] == "Kiri"]["label"].tolist() == ["33", "5"]
    assert cells[cells["row"] == "Ana"]["label"].tolist() == ["9"]
