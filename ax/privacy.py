"""Survey privacy: the one set of rules that decides which survey aggregates anyone may see.

Pure Python, no database. :mod:`ax.survey_stats` (and the HR export) tell it which groups exist
and who answered in which week; it answers, for every group and period, "show" or "hide, because
…". Pages and exports only ask; none of them decides this on its own. Sources: DESIGN.md and the
indicators reference ("Privacy thresholds used by anchors").

Threshold
    A cell (group × period × measure) is shown only when at least ``min_group_size`` (5) distinct
    people answered; free-text comments need ``min_comment_group_size`` (10).
Periods
    Week, month or quarter, nothing else: no arbitrary ranges, no single days. Periods are made
    of whole ISO weeks (a month is the weeks whose Thursday falls in it, as ISO years are), so
    weeks nest in months and months in quarters, and a survey window counts in the week that
    holds its middle day (the check-in that opens on 1 March counts in March). Each answer is
    reported at its survey's rhythm (:data:`COUNTS_IN`): weekly pulses by week, monthly
    check-ins by month and by quarter, quarterly surveys by quarter.
Groups, which are also the filters
    The whole organisation, each team together with every team below it (``Team.parent_id``),
    each site, and one team's people at one site when the team spans sites. Every filter a viewer
    can set is one of these groups, so it is a cell of its own and must pass the threshold.
Nothing can be worked out by subtraction (complementary suppression)
    Answers that lie in exactly the same visible cells form an *atom*. Whatever a viewer can
    compute by adding and subtracting visible totals and counts, or by comparing comment lists,
    is made of whole atoms, so every atom must hold at least k people. In particular, two
    visible cells whose answers are nested (team vs parent, team vs site, month vs quarter)
    differ by at least k people or not at all. When an atom is too small, the cheapest further
    cells are hidden, counted in people given up: usually the next-smallest sibling under the
    same parent, or the quarter holding a hidden month. This runs over every group and period of
    one quarter at once (a quarter minus its shown months is as telling as a parent minus its
    shown teams) and repeats until stable. Every combination of queries reads these same
    decisions, so comparing views, periods or filters cannot do better than the rules allow.
Decided once, in calendar order
    A period is decided only when all of its survey windows have closed, and deciding it may hide
    cells of that period only: earlier decisions never change, so the same data always gives the
    same answer and looking again later reveals nothing new. Open periods are not shown at all.
Small teams fall back to their parent
    A team below the threshold is never shown alone; its answers count in its parent group (the
    organisation above the top teams), and the reason names that group.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

ORG = "org"
ORG_LABEL = "Whole organisation"
NOBODY = "nobody"  # the key of a filter combination that holds no one (a team at a site it is not at)


class Granularity(StrEnum):
    """The only time slices there are: finer or free-form ranges could isolate one person's week."""

    week = "week"
    month = "month"
    quarter = "quarter"


_RANK = {Granularity.week: 0, Granularity.month: 1, Granularity.quarter: 2}
# Where an answer counts, by the rhythm of the survey it was given in. Weekly pulses stay in weeks:
# adding them up into months would let a month minus its shown weeks give away a hidden week, and
# hiding enough to stop that hid most team months in trials. Monthly check-ins also make quarters
# (a quarter is hidden when one of its months is and the others are not).
COUNTS_IN: Mapping[Granularity, tuple[Granularity, ...]] = {
    Granularity.week: (Granularity.week,),
    Granularity.month: (Granularity.month, Granularity.quarter),
    Granularity.quarter: (Granularity.quarter,),
}


class Reason(StrEnum):
    """Why a cell is hidden; :attr:`Decision.message` says it in words."""

    no_answers = "no_answers"
    too_few = "too_few"
    part_of = "part_of"
    complement_group = "complement_group"
    complement_period = "complement_period"
    not_closed = "not_closed"


# --- periods -----------------------------------------------------------------------------------


def week_start(day: date) -> date:
    """The Monday of ``day``'s ISO week."""
    return day - timedelta(days=day.weekday())


def _month_of_week(monday: date) -> tuple[int, int]:
    """(year, month) a week belongs to: the month of its Thursday."""
    thursday = monday + timedelta(days=3)
    return thursday.year, thursday.month


def _month_start(year: int, month: int) -> date:
    """Monday of the first week whose Thursday falls in the month."""
    first = date(year, month, 1)
    first_thursday = first + timedelta(days=(3 - first.weekday()) % 7)
    return first_thursday - timedelta(days=3)


def _shift_month(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + month - 1 + months
    return index // 12, index % 12 + 1


def _aligned_start(day: date, granularity: Granularity) -> date:
    monday = week_start(day)
    if granularity is Granularity.week:
        return monday
    year, month = _month_of_week(monday)
    if granularity is Granularity.quarter:
        month = 3 * ((month - 1) // 3) + 1
    return _month_start(year, month)


@dataclass(frozen=True)
class Period:
    """One week, month or quarter, made of whole weeks; ``end`` is the Monday after it (exclusive)."""

    granularity: Granularity
    start: date
    end: date = field(init=False, repr=False, compare=False)  # the Monday after the period

    def __post_init__(self) -> None:
        granularity = Granularity(self.granularity)
        object.__setattr__(self, "granularity", granularity)
        if _aligned_start(self.start, granularity) != self.start:
            raise ValueError(
                f"{self.start} does not start a {granularity.value}: periods are whole weeks, months "
                "or quarters (use period_of), never arbitrary ranges"
            )
        if granularity is Granularity.week:
            end = self.start + timedelta(days=7)
        else:
            year, month = _month_of_week(self.start)
            end = _month_start(*_shift_month(year, month, 1 if granularity is Granularity.month else 3))
        object.__setattr__(self, "end", end)

    @property
    def label(self) -> str:
        if self.granularity is Granularity.week:
            iso = self.start.isocalendar()
            return f"Week {iso.week} of {iso.year} (from {self.start:%d %b})"
        year, month = _month_of_week(self.start)
        if self.granularity is Granularity.month:
            return date(year, month, 1).strftime("%b %Y")
        return f"Q{(month - 1) // 3 + 1} {year}"

    @property
    def short_label(self) -> str:
        """For a chart axis: a week by its Monday ('31 Aug'), a month or quarter by its label."""
        if self.granularity is Granularity.week:
            return f"{self.start:%d %b}"
        return self.label

    def weeks(self) -> list[date]:
        """The Mondays of the weeks this period is made of."""
        return [self.start + timedelta(days=7 * n) for n in range((self.end - self.start).days // 7)]

    def holds(self, week: date) -> bool:
        return self.start <= week < self.end


def period_of(day: date, granularity: Granularity | str) -> Period:
    """The week, month or quarter that holds ``day``."""
    granularity = Granularity(granularity)
    return Period(granularity, _aligned_start(day, granularity))


def periods_ending(day: date, granularity: Granularity | str, count: int) -> list[Period]:
    """The ``count`` periods up to and including the one holding ``day``, oldest first."""
    if count < 1:
        raise ValueError("count must be at least 1")
    periods = [period_of(day, granularity)]
    while len(periods) < count:
        periods.append(period_of(periods[-1].start - timedelta(days=1), granularity))
    return periods[::-1]


def quarter_of(period: Period) -> Period:
    """The quarter a period lies in: the block privacy decisions are made for together."""
    return period_of(period.start, Granularity.quarter)


def periods_in(quarter: Period) -> list[Period]:
    """Every week and month of a quarter, and the quarter itself."""
    if quarter.granularity is not Granularity.quarter:
        raise ValueError("periods_in takes a quarter")
    weeks = [Period(Granularity.week, monday) for monday in quarter.weeks()]
    months: list[Period] = []
    for week in weeks:
        month = period_of(week.start, Granularity.month)
        if month not in months:
            months.append(month)
    return [*weeks, *months, quarter]


def window_week(opens_at: datetime, closes_at: datetime, zone: ZoneInfo) -> date:
    """The week a survey window counts in: the one holding its middle, in the organisation's timezone."""
    middle = opens_at + (closes_at - opens_at) / 2
    return week_start(middle.astimezone(zone).date())


# --- groups ------------------------------------------------------------------------------------


class GroupKind(StrEnum):
    org = "org"
    team = "team"
    site = "site"
    team_site = "team_site"


@dataclass(frozen=True)
class TeamNode:
    """What the rules need to know about a team."""

    id: int
    name: str
    parent_id: int | None = None
    site: str | None = None


@dataclass(frozen=True)
class Group:
    """A set of people a viewer can ask about; ``parent`` is the group its answers also count in."""

    key: str
    label: str
    kind: GroupKind
    parent: str | None
    members: frozenset[int] = field(repr=False)


def team_key(team_id: int) -> str:
    return f"team:{team_id}"


def site_key(site: str) -> str:
    return f"site:{site}"


def team_site_key(team_id: int, site: str) -> str:
    return f"team:{team_id}@site:{site}"


class OrgChart:
    """The groups of an organisation: org root, team subtrees, sites, and split teams per site.

    A team's group holds the people of that team and of every team below it. A team's site is
    its own, or else the nearest ancestor's. A parent that is missing (or a loop in
    ``parent_id``) makes the team a top team, under the organisation root.
    """

    def __init__(self, teams: Iterable[TeamNode], memberships: Iterable[tuple[int, int]]) -> None:
        self.teams: dict[int, TeamNode] = {team.id: team for team in teams}
        self._parent = {tid: self._checked_parent(tid) for tid in self.teams}
        self._children: dict[int, list[int]] = defaultdict(list)
        for tid, parent in self._parent.items():
            if parent is not None:
                self._children[parent].append(tid)
        self._site = {tid: self._inherited_site(tid) for tid in self.teams}
        direct: dict[int, set[int]] = defaultdict(set)
        for team_id, agent_id in memberships:
            if team_id in self.teams:
                direct[team_id].add(agent_id)
        self.groups: dict[str, Group] = {}
        self._agent_groups: dict[int, set[str]] = defaultdict(set)
        self._build(direct)

    def _checked_parent(self, team_id: int) -> int | None:
        """The parent, or None for a missing parent or a team on a ``parent_id`` loop."""
        parent = self.teams[team_id].parent_id
        if parent is None or parent not in self.teams:
            return None
        seen: set[int] = set()
        current: int | None = parent
        while current is not None and current in self.teams and current not in seen:
            if current == team_id:
                return None
            seen.add(current)
            current = self.teams[current].parent_id
        return parent

    def _inherited_site(self, team_id: int) -> str | None:
        current: int | None = team_id
        while current is not None:
            if self.teams[current].site:
                return self.teams[current].site
            current = self._parent[current]
        return None

    def subtree(self, team_id: int) -> list[int]:
        """The team and every team below it."""
        found, stack = [], [team_id]
        while stack:
            current = stack.pop()
            found.append(current)
            stack.extend(self._children.get(current, ()))
        return found

    def _build(self, direct: Mapping[int, set[int]]) -> None:
        everyone = frozenset().union(*direct.values()) if direct else frozenset()
        self._add(Group(ORG, ORG_LABEL, GroupKind.org, None, everyone))
        by_site: dict[str, set[int]] = defaultdict(set)
        for tid, agents in direct.items():
            if self._site[tid]:
                by_site[self._site[tid]].update(agents)
        for site, agents in sorted(by_site.items()):
            self._add(Group(site_key(site), site, GroupKind.site, ORG, frozenset(agents)))
        for tid, team in sorted(self.teams.items()):
            below = self.subtree(tid)
            parent = team_key(self._parent[tid]) if self._parent[tid] is not None else ORG
            members = frozenset().union(*(direct.get(t, set()) for t in below))
            self._add(Group(team_key(tid), team.name, GroupKind.team, parent, members))
            sites: dict[str, set[int]] = defaultdict(set)
            for t in below:
                if self._site[t]:
                    sites[self._site[t]].update(direct.get(t, set()))
            if len(sites) > 1 or (sites and sum(map(len, sites.values())) < len(members)):
                for site, agents in sorted(sites.items()):
                    label = f"{team.name} at {site}"
                    group = Group(team_site_key(tid, site), label, GroupKind.team_site, team_key(tid), agents)
                    self._add(group)

    def _add(self, group: Group) -> None:
        self.groups[group.key] = group
        for agent in group.members:
            self._agent_groups[agent].add(group.key)

    def groups_of(self, agent_id: int) -> frozenset[str]:
        """Every group an answer of this person counts in (empty: in no team, counted nowhere)."""
        return frozenset(self._agent_groups.get(agent_id, ()))

    def view_key(self, team_id: int | None = None, site: str | None = None) -> str:
        """The group a filter (team, site, both or neither) selects; unknown teams raise KeyError."""
        if team_id is None:
            if site is None:
                return ORG
            return site_key(site) if site_key(site) in self.groups else NOBODY
        if team_id not in self.teams:
            raise KeyError(f"no team {team_id}")
        if site is None:
            return team_key(team_id)
        if team_site_key(team_id, site) in self.groups:
            return team_site_key(team_id, site)
        sites = {self._site[t] for t in self.subtree(team_id)}
        return team_key(team_id) if sites == {site} else NOBODY

    def label(self, key: str) -> str:
        return self.groups[key].label if key in self.groups else "No one"

    def lineage(self, key: str) -> list[str]:
        """The groups a group's answers also count in, nearest first, ending at the organisation."""
        chain: list[str] = []
        current = self.groups[key].parent if key in self.groups else None
        while current is not None and current not in chain:
            chain.append(current)
            current = self.groups[current].parent
        return chain

    def members(self, key: str) -> frozenset[int]:
        return self.groups[key].members if key in self.groups else frozenset()


# --- decisions ---------------------------------------------------------------------------------

Cell = tuple[str, Period]


@dataclass(frozen=True)
class Decision:
    """Whether one cell may be shown; ``respondents`` is for the caller, shown only when visible."""

    visible: bool
    respondents: int
    reason: Reason | None = None
    message: str | None = None


def hidden_message(reason: Reason, threshold: int, shown_in: str | None = None) -> str:
    """The sentence a person reads next to a hidden number."""
    return {
        Reason.no_answers: "No one answered.",
        Reason.too_few: f"Fewer than {threshold} people answered.",
        Reason.part_of: f"Fewer than {threshold} people answered, so their answers are shown as part of "
        f"{shown_in}.",
        Reason.complement_group: "Hidden so that the smaller group next to it cannot be worked out.",
        Reason.complement_period: "Hidden so that a shorter period inside it, hidden itself, cannot be "
        "worked out.",
        Reason.not_closed: "Shown once the survey for this period has closed.",
    }[reason]


class Release:
    """The decisions for every group and period of one quarter, for one measure.

    Build with :func:`plan_release`; every query of any page reads from the same decisions, so
    no combination of queries sees more than the rules allow.
    """

    def __init__(self, chart: OrgChart, quarter: Period, threshold: int, decisions: dict[Cell, Decision]):
        self.chart = chart
        self.quarter = quarter
        self.threshold = threshold
        self._decisions = decisions

    def decision(self, group_key: str, period: Period) -> Decision:
        if not (self.quarter.start <= period.start and period.end <= self.quarter.end):
            raise ValueError(f"{period.label} is not in {self.quarter.label}")
        found = self._decisions.get((group_key, period))
        if found is not None:
            return found
        return Decision(False, 0, Reason.no_answers, hidden_message(Reason.no_answers, self.threshold))

    def visible_cells(self) -> list[Cell]:
        """Every cell that may be shown (for exports and for tests that play the attacker)."""
        return [cell for cell, decision in self._decisions.items() if decision.visible]


def plan_release(
    chart: OrgChart,
    quarter: Period,
    units: Iterable[tuple[int, date, Granularity]],
    *,
    threshold: int,
    released: Callable[[Period], bool],
) -> Release:
    """Decide every cell of one measure in one quarter.

    ``units`` are (person, week Monday, rhythm) triples: this person answered the measure in a
    window of that week whose rhythm (its survey's cadence) is week, month or quarter; the answer
    counts in the periods :data:`COUNTS_IN` lists. A period is decided only when ``released`` says
    so (it is over and its windows have closed) and every period inside it is decided; the others
    are hidden as not closed.
    """
    if threshold < 2:
        raise ValueError("a privacy threshold below 2 protects no one")
    if quarter.granularity is not Granularity.quarter:
        raise ValueError("decisions are made per quarter")
    return _Auditor(chart, quarter, units, threshold).run(released)


class _Auditor:
    """Primary and complementary suppression over atoms; see the module docstring for the rules.

    Cells are numbered (group × period) so signatures are tuples of small ints; a lower number
    also breaks ties, so the same data always hides the same cells.
    """

    def __init__(
        self, chart: OrgChart, quarter: Period, units: Iterable[tuple[int, date, Granularity]], threshold: int
    ):
        self.chart = chart
        self.quarter = quarter
        self.threshold = threshold
        self.periods = periods_in(quarter)
        self.group_keys = sorted(chart.groups)
        self.cells: list[Cell] = [(g, p) for g in self.group_keys for p in self.periods]
        self.cell_id = {cell: n for n, cell in enumerate(self.cells)}
        group_index = {g: n for n, g in enumerate(self.group_keys)}
        period_index = {p: n for n, p in enumerate(self.periods)}
        width = len(self.periods)
        containing = {week: [p for p in self.periods if p.holds(week)] for week in quarter.weeks()}
        classes: dict[frozenset[str], int] = {}
        class_groups: list[list[int]] = []
        people: dict[tuple[int, date, Granularity], set[int]] = defaultdict(set)
        for agent, week, rhythm in units:
            if week not in containing:
                raise ValueError(f"unit week {week} is not a Monday of {quarter.label}")
            groups = chart.groups_of(agent)
            if not groups:
                continue
            if groups not in classes:
                classes[groups] = len(class_groups)
                class_groups.append(sorted(group_index[g] for g in groups))
            people[(classes[groups], week, Granularity(rhythm))].add(agent)
        # A base atom: the people of one class (same groups) in one week at one rhythm; their
        # answers always lie in the same cells, so the audit never needs to split them.
        keys = sorted(people, key=lambda key: (key[1], _RANK[key[2]], class_groups[key[0]]))
        self.base_people = [frozenset(people[key]) for key in keys]
        self.base_week = [key[1] for key in keys]
        self.base_cells: list[tuple[int, ...]] = []
        cell_bases: dict[int, list[int]] = defaultdict(list)
        for index, (cls, week, rhythm) in enumerate(keys):
            held = [period_index[p] for p in containing[week] if p.granularity in COUNTS_IN[rhythm]]
            cells = tuple(sorted(g * width + p for g in class_groups[cls] for p in held))
            self.base_cells.append(cells)
            for cell in cells:
                cell_bases[cell].append(index)
        self.cell_people = [0] * len(self.cells)
        for cell, bases in cell_bases.items():
            self.cell_people[cell] = len(frozenset().union(*(self.base_people[b] for b in bases)))

    def run(self, released: Callable[[Period], bool]) -> Release:
        decisions: dict[int, Decision] = {}
        visible: set[int] = set()
        stages: dict[date, list[Period]] = defaultdict(list)
        for period in self.periods:
            stages[period.end].append(period)
        decided: set[Period] = set()
        for end in sorted(stages):
            ready: list[Period] = []
            for period in sorted(stages[end], key=lambda p: _RANK[p.granularity]):  # shortest first
                inside = [p for p in self.periods if p != period and _inside(p, period)]
                if released(period) and all(p in decided for p in inside):
                    ready.append(period)
                    decided.add(period)
                else:
                    for group in self.group_keys:
                        decisions[self.cell_id[(group, period)]] = self._hidden(
                            self.cell_id[(group, period)], Reason.not_closed
                        )
            stage_visible: set[int] = set()
            for cell in (self.cell_id[(g, p)] for p in ready for g in self.group_keys):
                n = self.cell_people[cell]
                if n == 0:
                    decisions[cell] = self._hidden(cell, Reason.no_answers)
                elif n < self.threshold:
                    decisions[cell] = self._hidden(cell, Reason.too_few)
                else:
                    stage_visible.add(cell)
            visible |= stage_visible
            self._complement(end, visible, stage_visible, decisions)
            for cell in stage_visible:
                decisions[cell] = Decision(True, self.cell_people[cell])
        self._fall_back(decisions)
        return Release(
            self.chart, self.quarter, self.threshold, {self.cells[n]: d for n, d in decisions.items()}
        )

    def _hidden(self, cell: int, reason: Reason) -> Decision:
        return Decision(False, self.cell_people[cell], reason, hidden_message(reason, self.threshold))

    def _atoms(self, end: date, visible: set[int]) -> dict[tuple[int, ...], list[int]]:
        atoms: dict[tuple[int, ...], list[int]] = defaultdict(list)
        for index, cells in enumerate(self.base_cells):
            if self.base_week[index] < end:
                signature = tuple(cell for cell in cells if cell in visible)
                if signature:
                    atoms[signature].append(index)
        return atoms

    def _complement(
        self, end: date, visible: set[int], stage: set[int], decisions: dict[int, Decision]
    ) -> None:
        """Hide cells of this stage until every atom holds ≥ threshold people (or none)."""
        while True:
            atoms = self._atoms(end, visible)
            people = {
                sig: frozenset().union(*(self.base_people[b] for b in bases)) for sig, bases in atoms.items()
            }
            bad = sorted(
                (sig for sig in atoms if len(people[sig]) < self.threshold), key=lambda s: (len(people[s]), s)
            )
            if not bad:
                return
            by_frozen: dict[tuple[int, ...], list[tuple[int, ...]]] = defaultdict(list)
            for sig in atoms:
                by_frozen[tuple(c for c in sig if c not in stage)].append(sig)
            hidden_now: set[int] = set()
            for sig in bad:
                if hidden_now.intersection(sig) or self._merged(sig, by_frozen, hidden_now, stage):
                    continue  # changed by this round's hiding; looked at again next round
                drop = self._cheapest(sig, people, by_frozen, hidden_now, stage)
                finest: dict[str, int] = {}
                for base in atoms[sig]:
                    for cell in self.base_cells[base]:
                        group, period = self.cells[cell]
                        finest[group] = min(finest.get(group, 9), _RANK[period.granularity])
                for cell in drop:
                    # A coarser period of a group whose shorter period holds the small atom.
                    group, period = self.cells[cell]
                    inside = finest.get(group, 9) < _RANK[period.granularity]
                    decisions[cell] = self._hidden(
                        cell, Reason.complement_period if inside else Reason.complement_group
                    )
                visible -= drop
                stage -= drop
                hidden_now |= drop
            if not hidden_now:  # cannot happen (see _cheapest); never loop forever on a bug
                raise RuntimeError("privacy audit made no progress")

    @staticmethod
    def _merged(
        sig: tuple[int, ...],
        by_frozen: Mapping[tuple[int, ...], list[tuple[int, ...]]],
        hidden_now: set[int],
        stage: set[int],
    ) -> bool:
        """True when this round's hiding already merged another atom into this one."""
        if not hidden_now:
            return False
        mine = set(sig)
        frozen = tuple(c for c in sig if c not in stage)
        return any(other != sig and set(other) - hidden_now == mine for other in by_frozen.get(frozen, ()))

    def _cheapest(
        self,
        sig: tuple[int, ...],
        people: Mapping[tuple[int, ...], frozenset[int]],
        by_frozen: Mapping[tuple[int, ...], list[tuple[int, ...]]],
        hidden_now: set[int],
        stage: set[int],
    ) -> set[int]:
        """The stage cells to hide so this atom merges with another (or drops out of sight).

        Only atoms that agree on the earlier, frozen cells can merge by hiding cells of this stage;
        one always exists, since before this stage every atom was large enough. Cost is the people
        in the cells given up, so the next-smallest sibling goes first.
        """
        mine = set(sig)
        frozen = tuple(c for c in sig if c not in stage)
        options: list[tuple[tuple[bool, int, int, list[int]], set[int]]] = []
        for other in by_frozen.get(frozen, ()):
            if other == sig:
                continue
            drop = (mine ^ (set(other) - hidden_now)) & stage
            if drop:
                merged = len(people[sig] | people[other])
                cost = sum(self.cell_people[c] for c in drop)
                options.append(((merged < self.threshold, cost, len(drop), sorted(drop)), drop))
        if not frozen:  # nothing earlier shows these answers: hiding the cells that hold them works
            drop = mine & stage
            options.append(((False, sum(self.cell_people[c] for c in drop), len(drop), sorted(drop)), drop))
        if not options:
            return mine & stage
        return min(options, key=lambda option: option[0])[1]

    def _fall_back(self, decisions: dict[int, Decision]) -> None:
        """Name the nearest shown group that a too-small group's answers count in."""
        for cell, decision in list(decisions.items()):
            if decision.reason is not Reason.too_few:
                continue
            key, period = self.cells[cell]
            for ancestor in self.chart.lineage(key):
                shown = decisions.get(self.cell_id[(ancestor, period)])
                if shown is not None and shown.visible:
                    message = hidden_message(Reason.part_of, self.threshold, self.chart.label(ancestor))
                    decisions[cell] = Decision(False, decision.respondents, Reason.part_of, message)
                    break


def _inside(inner: Period, outer: Period) -> bool:
    return outer.start <= inner.start and inner.end <= outer.end


def present_comments(texts: Iterable[str]) -> tuple[str, ...]:
    """Comments in an order that reveals nothing (alphabetical, not by time or author)."""
    return tuple(sorted((t.strip() for t in texts if t and t.strip()), key=lambda t: (t.casefold(), t)))


def comment_threshold(min_group_size: int, min_comment_group_size: int) -> int:
    """Comments are easier to attribute than numbers, so never below the number threshold."""
    return max(min_group_size, min_comment_group_size)
