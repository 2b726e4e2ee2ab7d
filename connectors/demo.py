"""A simulated helpdesk: deterministic demo data that goes through the real ingest path.

The story it tells, so every page has something to show:

- **Billing** is understaffed: queues back up, occupancy sits near 90%, breaks get cut short.
- **Technical Support** is fine on average, but a few agents (``drifting``) slide over the
  last five weeks into sustained overload: longer days, skipped breaks, weekend shifts, more
  hard contacts, and falling wellbeing in their pulse answers.
- **Onboarding** is healthy: moderate occupancy, regular breaks, good scores.
- **Returns** is ordinary, with an e-mail heavy mix.

Every agent-day draws from its own ``random.Random`` seeded by (seed, agent, day), so the data
does not depend on generation order and a resumed run produces identical rows.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from connectors.contract import (
    AgentRecord,
    ContactRecord,
    CsatRecord,
    MembershipRecord,
    Page,
    PulseAnswerRecord,
    QueueSnapshotRecord,
    Record,
    StatusIntervalRecord,
    SurveyRecord,
    TeamRecord,
    WorkSegmentRecord,
)

SOURCE = "demo"

FIRST_NAMES = (
    "Ana",
    "Ben",
    "Chloe",
    "Dev",
    "Elif",
    "Finn",
    "Grace",
    "Hugo",
    "Ines",
    "Jonas",
    "Kira",
    "Luis",
    "Maya",
    "Nico",
    "Olga",
    "Pedro",
    "Quinn",
    "Rosa",
    "Sami",
    "Tara",
    "Uma",
    "Victor",
    "Wen",
    "Yara",
    "Zoe",
    "Aoife",
    "Bruno",
    "Carla",
    "Diego",
    "Emma",
    "Farah",
    "Goran",
    "Hana",
    "Ivan",
    "Julia",
)
LAST_NAMES = (
    "Silva",
    "Murphy",
    "Costa",
    "Byrne",
    "Santos",
    "Walsh",
    "Ferreira",
    "Kelly",
    "Pereira",
    "Ryan",
    "Oliveira",
    "Doyle",
    "Sousa",
    "Nolan",
    "Rocha",
    "Keane",
    "Lopes",
    "Quinn",
    "Marques",
    "Burke",
)


@dataclass(frozen=True, slots=True)
class TeamProfile:
    key: str
    name: str
    site: str
    timezone: str
    share: float  # share of all agents
    occupancy: float  # typical occupancy of its agents
    channels: tuple[tuple[str, float], ...]
    wait_factor: float  # how long customers wait (1 = normal)
    wellbeing: float  # typical WHO-5 (0-100)


TEAMS: tuple[TeamProfile, ...] = (
    TeamProfile(
        "billing",
        "Billing",
        "Lisbon",
        "Europe/Lisbon",
        0.25,
        0.89,
        (("phone", 0.6), ("email", 0.3), ("chat", 0.1)),
        3.0,
        52,
    ),
    TeamProfile(
        "tech",
        "Technical Support",
        "Dublin",
        "Europe/Dublin",
        0.30,
        0.78,
        (("chat", 0.4), ("phone", 0.3), ("email", 0.3)),
        1.0,
        66,
    ),
    TeamProfile(
        "onboarding",
        "Onboarding",
        "Dublin",
        "Europe/Dublin",
        0.25,
        0.70,
        (("email", 0.5), ("chat", 0.3), ("phone", 0.2)),
        0.6,
        72,
    ),
    TeamProfile(
        "returns",
        "Returns",
        "Lisbon",
        "Europe/Lisbon",
        0.20,
        0.76,
        (("email", 0.6), ("messaging", 0.2), ("social", 0.1), ("phone", 0.1)),
        1.0,
        64,
    ),
)

# Mean handle seconds by channel, split talk / hold / wrap (phone) or work (others).
HANDLE = {
    "phone": (330, 35, 70),
    "chat": (540, 0, 45),
    "email": (300, 0, 30),
    "messaging": (240, 0, 30),
    "social": (200, 0, 30),
    "other": (300, 0, 30),
}

DRIFT_DAYS = 35  # the drifting agents' overload builds over this many final days
PULSE_ITEMS = ("who5_1", "who5_2", "who5_3", "who5_4", "who5_5", "single_burnout", "enps")


@dataclass(frozen=True, slots=True)
class DemoAgent:
    index: int
    external_id: str
    name: str
    email: str
    team: TeamProfile
    start_hour: int
    drifting: bool


def _team_sizes(n_agents: int) -> list[int]:
    sizes = [max(2, math.floor(n_agents * t.share)) for t in TEAMS]
    sizes[1] += n_agents - sum(sizes)  # the remainder goes to Technical Support
    return sizes


def demo_agents(n_agents: int, seed: int) -> list[DemoAgent]:
    """The roster: deterministic names, teams, shift starts, and who drifts into overload."""
    rng = random.Random(f"{seed}:roster")
    agents: list[DemoAgent] = []
    index = 0
    for team, size in zip(TEAMS, _team_sizes(n_agents), strict=True):
        drifting_count = max(1, size // 6) if team.key == "tech" else 0
        for position in range(size):
            first = FIRST_NAMES[index % len(FIRST_NAMES)]
            last = LAST_NAMES[(index * 7 + index // len(FIRST_NAMES)) % len(LAST_NAMES)]
            suffix = "" if index < len(FIRST_NAMES) else f" {index // len(FIRST_NAMES) + 1}"
            agents.append(
                DemoAgent(
                    index=index,
                    external_id=f"agent-{index + 1:05d}",
                    name=f"{first} {last}{suffix}",
                    email=f"{first.lower()}.{last.lower()}{index + 1}@demo.example",
                    team=team,
                    start_hour=rng.choice((7, 8, 8, 9, 9, 10)),
                    drifting=position < drifting_count,
                )
            )
            index += 1
    return agents


class DemoHelpdesk:
    """Implements :class:`connectors.contract.Connector` over simulated data."""

    name = SOURCE

    def __init__(
        self,
        *,
        agents: int = 60,
        days: int = 90,
        seed: int = 7,
        end: date | None = None,
        now: datetime | None = None,
    ) -> None:
        self.now = now or datetime.now(UTC)
        self.end = end or self.now.date()
        self.days = days
        self.seed = seed
        self.start = self.end - timedelta(days=days - 1)
        self.agents = demo_agents(agents, seed)

    # --- contract ------------------------------------------------------------------------------

    def streams(self) -> Sequence[str]:
        return ("directory", "activity", "surveys")

    def pages(self, stream: str, cursor: str | None) -> Iterator[Page]:
        if stream == "directory":
            yield self._directory(), "done"
        elif stream == "activity":
            yield from self._activity_pages(cursor)
        elif stream == "surveys":
            yield from self._survey_pages(cursor)
        else:
            raise ValueError(f"unknown demo stream {stream!r}")

    # --- directory -----------------------------------------------------------------------------

    def _directory(self) -> list[Record]:
        records: list[Record] = [TeamRecord(f"team-{t.key}", t.name, site=t.site) for t in TEAMS]
        for a in self.agents:
            records.append(AgentRecord(a.external_id, a.name, email=a.email, timezone=a.team.timezone))
            records.append(MembershipRecord(f"team-{a.team.key}", a.external_id))
        return records

    # --- activity: one page per day ------------------------------------------------------------

    def _activity_pages(self, cursor: str | None) -> Iterator[Page]:
        day = self.start if cursor is None else date.fromisoformat(cursor) + timedelta(days=1)
        while day <= self.end:
            records: list[Record] = []
            for agent in self.agents:
                records.extend(self._agent_day(agent, day))
            for team in TEAMS:
                records.extend(self._queue_day(team, day))
            # Today is still happening: keep the cursor on yesterday so the next run fills it in.
            yield records, (day.isoformat() if day < self.end else (day - timedelta(days=1)).isoformat())
            day += timedelta(days=1)

    def _stress(self, agent: DemoAgent, day: date) -> float:
        """0 = calm … 1 = overloaded, for this agent on this day."""
        base = {"billing": 0.65, "tech": 0.25, "onboarding": 0.05, "returns": 0.2}[agent.team.key]
        if agent.drifting:
            into_drift = (day - (self.end - timedelta(days=DRIFT_DAYS))).days
            if into_drift > 0:
                base = min(1.0, base + 0.75 * into_drift / DRIFT_DAYS)
        return base

    def _works(self, agent: DemoAgent, day: date, rng: random.Random, stress: float) -> bool:
        if day.weekday() < 5:
            return rng.random() > 0.04  # the odd day off
        return agent.drifting and stress > 0.6 and rng.random() < 0.8  # weekend shifts when drifting

    def _agent_day(self, agent: DemoAgent, day: date) -> list[Record]:
        rng = random.Random(f"{self.seed}:{agent.index}:{day.isoformat()}")
        stress = self._stress(agent, day)
        if not self._works(agent, day, rng, stress):
            return []
        zone = ZoneInfo(agent.team.timezone)
        shift_start = datetime.combine(day, time(agent.start_hour), zone).astimezone(UTC)
        shift_start += timedelta(minutes=rng.randint(-10, 10))
        shift_hours = 8.0 + (rng.uniform(0.5, 2.0) if stress > 0.6 and rng.random() < stress else 0.0)
        shift_end = shift_start + timedelta(hours=shift_hours)
        # Breaks: 15 min after ~1h45, 30 min lunch after ~3h45, 15 min after ~6h, so no stretch
        # reaches 2 h on a normal day; stress skips the short ones.
        breaks: list[tuple[datetime, datetime]] = []
        for offset_h, minutes in ((1.75, 15), (3.75, 30), (6.0, 15)):
            skip = minutes == 15 and rng.random() < stress * 0.9
            if not skip:
                b_start = shift_start + timedelta(hours=offset_h, minutes=rng.randint(-5, 5))
                breaks.append((b_start, b_start + timedelta(minutes=minutes)))
        occupancy = min(0.97, agent.team.occupancy + 0.12 * stress * (1 if agent.drifting else 0.3))
        occupancy += rng.uniform(-0.03, 0.03)

        records: list[Record] = []
        ext = f"{agent.external_id}-{day.isoformat()}"
        cursor_t = shift_start
        blocks = [*breaks, (shift_end, shift_end)]
        for n, (b_start, b_end) in enumerate(blocks):
            if b_start > cursor_t:
                records.append(
                    StatusIntervalRecord(f"{ext}-s{n}", agent.external_id, "available", cursor_t, b_start)
                )
                records.extend(
                    self._contacts_between(agent, rng, cursor_t, b_start, occupancy, stress, f"{ext}-{n}")
                )
            if b_end > b_start:
                records.append(
                    StatusIntervalRecord(f"{ext}-b{n}", agent.external_id, "break", b_start, b_end)
                )
            cursor_t = max(cursor_t, b_end)
        return [rec for rec in records if _starts(rec) <= self.now]

    def _contacts_between(
        self,
        agent: DemoAgent,
        rng: random.Random,
        start: datetime,
        end: datetime,
        occupancy: float,
        stress: float,
        prefix: str,
    ) -> Iterator[Record]:
        channels, weights = zip(*agent.team.channels, strict=True)
        t = start
        n = 0
        aht_factor = 1.0 + (0.2 * stress if agent.drifting else 0.05 * stress)
        while True:
            channel = rng.choices(channels, weights)[0]
            talk_mean, hold_mean, wrap_mean = HANDLE[channel]
            talk = int(rng.lognormvariate(math.log(talk_mean * aht_factor), 0.45))
            hold = int(rng.expovariate(1 / hold_mean)) if hold_mean and rng.random() < 0.3 else 0
            wrap = int(rng.lognormvariate(math.log(wrap_mean), 0.4))
            handle = talk + hold + wrap
            gap = rng.expovariate(occupancy / (handle * (1 - occupancy)))
            begin = t + timedelta(seconds=gap)
            finish = begin + timedelta(seconds=handle)
            if finish > end:
                return
            n += 1
            contact_id = f"c-{prefix}-{n}"
            wait = (
                int(rng.expovariate(1 / (25 * agent.team.wait_factor * (1 + stress))))
                if channel in ("phone", "chat")
                else int(rng.expovariate(1 / (3600 * agent.team.wait_factor)))
            )
            created = begin - timedelta(seconds=wait)
            hard_p = 0.05 + 0.10 * stress
            csat = None
            if rng.random() < 0.3:
                csat = rng.choice((1, 2)) if rng.random() < hard_p else rng.choice((3, 4, 4, 5, 5, 5))
            sentiment = round(
                max(-1.0, min(1.0, rng.gauss(0.25 - 0.4 * stress * (rng.random() < hard_p), 0.35))), 2
            )
            yield ContactRecord(
                external_id=contact_id,
                channel=channel,
                created_at=created,
                agent_external_id=agent.external_id,
                team_external_id=f"team-{agent.team.key}",
                queue=f"{agent.team.name} {channel}",
                first_response_at=begin,
                solved_at=finish,
                updated_at=finish,
                handle_seconds=handle,
                talk_seconds=talk if channel == "phone" else None,
                hold_seconds=hold if channel == "phone" else None,
                wrap_seconds=wrap if channel == "phone" else None,
                wait_seconds=wait,
                csat=csat,
                sentiment=sentiment,
                escalated=rng.random() < 0.02 + 0.05 * stress,
                reopened=rng.random() < 0.03,
            )
            yield WorkSegmentRecord(f"w-{prefix}-{n}", agent.external_id, begin, finish, contact_id)
            if csat is not None:
                yield CsatRecord(
                    f"r-{prefix}-{n}", contact_id, csat, finish + timedelta(hours=1), agent.external_id
                )
            t = finish

    def _queue_day(self, team: TeamProfile, day: date) -> list[Record]:
        """A snapshot of each team queue every 15 minutes from 08:00 to 18:00 local time on weekdays."""
        if day.weekday() >= 5:
            return []
        rng = random.Random(f"{self.seed}:queue:{team.key}:{day.isoformat()}")
        size = sum(1 for a in self.agents if a.team is team)
        zone = ZoneInfo(team.timezone)
        opening = datetime.combine(day, time(8), zone).astimezone(UTC)
        out: list[Record] = []
        for slot in range(40):
            at = opening + timedelta(minutes=15 * slot)
            if at > self.now:
                break
            peak = 1.0 + 0.6 * math.exp(-(((slot - 10) / 6) ** 2))  # late-morning peak
            online = max(1, round(size * rng.uniform(0.75, 0.9)))
            available = max(0, round(online * (1 - team.occupancy) * rng.uniform(0.6, 1.3)))
            waiting = max(0, round(rng.gauss(team.wait_factor * 2.5 * peak, 1.5)))
            longest = int(waiting * rng.uniform(20, 60) * team.wait_factor) if waiting else 0
            out.append(
                QueueSnapshotRecord(
                    f"q-{team.key}-{at:%Y%m%dT%H%M}",
                    f"{team.name}",
                    at,
                    waiting,
                    longest,
                    online,
                    available,
                    team_external_id=f"team-{team.key}",
                )
            )
        return out

    # --- surveys: one weekly pulse per ISO week ------------------------------------------------

    def _survey_pages(self, cursor: str | None) -> Iterator[Page]:
        monday = self.start - timedelta(days=self.start.weekday())
        done = date.fromisoformat(cursor) if cursor else None
        while monday <= self.end:
            closes = monday + timedelta(days=7)
            if (done is None or monday > done) and closes <= self.end + timedelta(days=1):
                yield self._pulse_week(monday), monday.isoformat()
            monday += timedelta(days=7)

    def _pulse_week(self, monday: date) -> list[Record]:
        year, week, _ = monday.isocalendar()
        key = f"pulse-{year}-W{week:02d}"
        opens = datetime.combine(monday, time(8), UTC)
        records: list[Record] = [
            SurveyRecord(
                key, f"Weekly pulse, week {week} of {year}", "pulse", opens, opens + timedelta(days=7)
            )
        ]
        friday = monday + timedelta(days=4)
        for agent in self.agents:
            rng = random.Random(f"{self.seed}:pulse:{agent.index}:{key}")
            if rng.random() > 0.8:
                continue  # about 80% respond
            stress = self._stress(agent, friday)
            who5 = agent.team.wellbeing - (40 * max(0.0, stress - 0.3) if agent.drifting else 0)
            who5 += rng.gauss(0, 6)
            answered = opens + timedelta(hours=rng.uniform(1, 96))
            values = {f"who5_{i}": _clamp(round(who5 / 20 + rng.gauss(0, 0.6)), 0, 5) for i in range(1, 6)}
            values["single_burnout"] = _clamp(round(1 + stress * 3 + rng.gauss(0, 0.5)), 1, 5)
            values["enps"] = _clamp(round(who5 / 10 + rng.gauss(0, 1.2)), 0, 10)
            for item in PULSE_ITEMS:
                records.append(
                    PulseAnswerRecord(
                        f"{key}-{agent.external_id}-{item}",
                        key,
                        agent.external_id,
                        item,
                        answered,
                        value=float(values[item]),
                    )
                )
        return records


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


def _starts(record: Record) -> datetime:
    for attr in ("started_at", "created_at", "rated_at", "at"):
        value = getattr(record, attr, None)
        if value is not None:
            return value
    raise TypeError(f"record without a start time: {record!r}")
