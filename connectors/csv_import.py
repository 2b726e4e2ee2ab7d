"""Import agents, contacts, status intervals and pulse answers from CSV files (``ax import-csv``).

For teams without a helpdesk API. :data:`COLUMNS` is the one description of every kind's columns:
validation, ``--template`` and the README section (:func:`markdown_docs`) all come from it.

A file is read twice, streaming with :mod:`csv`: the first pass validates every row and collects
every error as (line, column, reason), counting the header as line 1; the second pass maps the good
rows to normalized records (:mod:`db.records`) and writes them in pages through
:class:`db.ingest.Ingestor` under source ``csv``. A file with any bad row imports nothing unless
``skip_bad_rows`` is set. Records are keyed on the file's ``id`` column, so importing the same
file again changes nothing.

Pulse answers pass the same :func:`ax.instruments.validate_answer` as answers given in the app:
the question must exist (a built-in item, or a custom question of the survey's definition, and
one of the window's questions when it lists them), numbers must be whole and in the question's
range, text within its limit. Those messages name the question and the rule, never the answer.

Only per-row bookkeeping small enough to keep (ids seen, survey keys, line numbers of bad rows)
stays in memory between the passes; rows themselves are held at most one page at a time.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.engine import Engine

from ax.instruments import ITEMS, AnswerError, Item, ItemKind, validate_answer
from ax.surveys import custom_items
from db import models as m
from db.ingest import Ingestor, PageResult
from db.records import (
    AgentRecord,
    ContactRecord,
    MembershipRecord,
    PulseAnswerRecord,
    Record,
    StatusIntervalRecord,
    SurveyRecord,
    TeamRecord,
)

SOURCE = "csv"
PAGE_SIZE = 5000
MAX_KEPT_ERRORS = 1000  # details kept per import; the count covers every error
CHANNELS = tuple(c.value for c in m.Channel)
STATUSES = tuple(s.value for s in m.AgentStatus)
INSTRUMENTS = ("who5", "cbi_work", "single_burnout", "enps", "pulse", "custom")
_MAX_INT = 2_147_483_647  # the columns are 32-bit integers on PostgreSQL


# --- column types: how a cell is parsed and how the type is documented -------------------------


class CellError(ValueError):
    """A cell's value is not acceptable; the message is the reason shown to the user."""


@dataclass(frozen=True)
class Context:
    timezone: tzinfo | None = None  # applied to timestamps without an offset (``--timezone``)


def _text(raw: str, ctx: Context) -> str:
    return raw


def _email(raw: str, ctx: Context) -> str:
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", raw):
        raise CellError(f'expected an e-mail address, got "{raw}"')
    return raw


def _timezone_name(raw: str, ctx: Context) -> str:
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise CellError(f'expected an IANA timezone such as Europe/Berlin, got "{raw}"') from None
    return raw


def _number(raw: str) -> float | None:
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _hours(raw: str, ctx: Context) -> float:
    value = _number(raw)
    if value is None or not 0 < value <= 24:
        raise CellError(f'expected a number of hours above 0 and at most 24, got "{raw}"')
    return value


def _seconds(raw: str, ctx: Context) -> int:
    if not re.fullmatch(r"[0-9]+", raw):
        raise CellError(f'expected a whole number of seconds ≥ 0, got "{raw}"')
    if int(raw) > _MAX_INT:
        raise CellError(f'expected at most {_MAX_INT} seconds, got "{raw}"')
    return int(raw)


def _csat(raw: str, ctx: Context) -> int:
    if raw not in ("1", "2", "3", "4", "5"):
        raise CellError(f'expected a whole number from 1 to 5, got "{raw}"')
    return int(raw)


def _sentiment(raw: str, ctx: Context) -> float:
    value = _number(raw)
    if value is None or not -1 <= value <= 1:
        raise CellError(f'expected a number from -1 to 1, got "{raw}"')
    return value


def _any_number(raw: str, ctx: Context) -> float:
    value = _number(raw)
    if value is None:
        raise CellError(f'expected a number, got "{raw}"')
    return value


_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


def _bool(raw: str, ctx: Context) -> bool:
    low = raw.lower()
    if low not in _TRUE + _FALSE:
        raise CellError(f'expected true/false, 1/0 or yes/no, got "{raw}"')
    return low in _TRUE


def _timestamp(raw: str, ctx: Context) -> datetime:
    example = "2026-03-02T09:15:00Z"
    if len(raw) <= 10:  # a date alone would silently mean midnight
        raise CellError(f'expected an ISO 8601 date and time such as {example}, got "{raw}"')
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise CellError(f'expected an ISO 8601 timestamp such as {example}, got "{raw}"') from None
    if value.tzinfo is None:
        if ctx.timezone is None:
            raise CellError(
                f'timestamp "{raw}" has no timezone offset: add one (Z or +01:00) or pass --timezone'
            )
        value = value.replace(tzinfo=ctx.timezone)
    return value.astimezone(UTC)


def _choice(allowed: tuple[str, ...]) -> Callable[[str, Context], str]:
    def parse(raw: str, ctx: Context) -> str:
        if raw.lower() not in allowed:
            raise CellError(f'expected one of {", ".join(allowed)}, got "{raw}"')
        return raw.lower()

    return parse


# type name -> (parser, documentation)
TYPES: dict[str, tuple[Callable[[str, Context], Any], str]] = {
    "text": (_text, "text"),
    "email": (_email, "e-mail address"),
    "timezone": (_timezone_name, "IANA timezone, e.g. `Europe/Berlin`"),
    "hours": (_hours, "number, above 0 and at most 24"),
    "bool": (_bool, "`true`/`false`, `1`/`0` or `yes`/`no`"),
    "timestamp": (_timestamp, "timestamp"),
    "seconds": (_seconds, "whole number of seconds ≥ 0"),
    "channel": (_choice(CHANNELS), " / ".join(CHANNELS)),
    "status": (_choice(STATUSES), " / ".join(STATUSES)),
    "instrument": (_choice(INSTRUMENTS), " / ".join(INSTRUMENTS)),
    "csat": (_csat, "whole number 1–5 (5 best)"),
    "sentiment": (_sentiment, "number from −1 (negative) to 1 (positive): the customer's text"),
    "number": (_any_number, "number"),
}


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool = False
    help: str = ""
    example: str = ""
    max_length: int | None = None

    def parse(self, raw: str, ctx: Context) -> Any:
        if self.max_length is not None and len(raw) > self.max_length:
            raise CellError(f"expected at most {self.max_length} characters, got {len(raw)}")
        return TYPES[self.type][0](raw, ctx)

    def doc(self) -> str:
        text = TYPES[self.type][1]
        if self.max_length is not None:
            text += f", ≤ {self.max_length} characters"
        return text


# --- the column specs: the one place that documents every kind --------------------------------

_AGENT_ID = "the agent's `id` in the agents file"

COLUMNS: dict[str, tuple[Column, ...]] = {
    "agents": (
        Column("id", "text", True, "the agent's id in your system; other files refer to it", "a-17", 120),
        Column("name", "text", True, "display name", "Dana Smith", 200),
        Column("email", "email", False, "", "dana@example.com", 254),
        Column("timezone", "timezone", False, "the agent's timezone (default UTC)", "Europe/Berlin", 64),
        Column("scheduled_hours_per_day", "hours", False, "default 8", "8"),
        Column("active", "bool", False, "default true", "true"),
        Column(
            "team",
            "text",
            False,
            "team name; with this column present the row sets the agent's only team "
            "(empty: no team), and the team is created when new",
            "Billing",
            120,
        ),
    ),
    "contacts": (
        Column("id", "text", True, "ticket / call / chat id; re-importing it updates the row", "t-1001", 120),
        Column("channel", "channel", True, "", "email"),
        Column("created_at", "timestamp", True, "", "2026-03-02T09:15:00Z"),
        Column("agent_id", "text", False, _AGENT_ID, "a-17", 120),
        Column("team", "text", False, "team name (created when new)", "Billing", 120),
        Column("queue", "text", False, "", "billing-de", 120),
        Column("first_response_at", "timestamp", False, "not before created_at", "2026-03-02T09:20:00Z"),
        Column("solved_at", "timestamp", False, "not before created_at", "2026-03-02T09:31:00Z"),
        Column("updated_at", "timestamp", False, "", "2026-03-02T09:31:00Z"),
        Column(
            "handle_seconds",
            "seconds",
            False,
            "total handling time; empty: the sum of talk/hold/wrap when any is given",
            "540",
        ),
        Column("talk_seconds", "seconds", False, "", "420"),
        Column("hold_seconds", "seconds", False, "", "60"),
        Column("wrap_seconds", "seconds", False, "", "60"),
        Column("wait_seconds", "seconds", False, "customer's wait before an agent answered", "35"),
        Column("csat", "csat", False, "", "4"),
        Column("sentiment", "sentiment", False, "", "0.2"),
        Column("escalated", "bool", False, "default false", "false"),
        Column("reopened", "bool", False, "default false", "false"),
    ),
    "status": (
        Column("id", "text", True, "interval id; re-importing it updates the row", "s-5001", 120),
        Column("agent_id", "text", True, _AGENT_ID, "a-17", 120),
        Column("status", "status", True, "", "available"),
        Column("started_at", "timestamp", True, "", "2026-03-02T08:00:00Z"),
        Column("ended_at", "timestamp", True, "after started_at", "2026-03-02T10:30:00Z"),
    ),
    "pulse": (
        Column("id", "text", True, "answer id; re-importing it updates the row", "p-9001", 120),
        Column(
            "survey_key",
            "text",
            True,
            "the survey answered: an existing survey, or one the survey_* columns define",
            "pulse-2026-W10",
            80,
        ),
        Column("agent_id", "text", True, _AGENT_ID, "a-17", 120),
        Column(
            "item_key", "text", True, "the question, e.g. who5_1; once per survey and agent", "who5_1", 60
        ),
        Column("answered_at", "timestamp", True, "", "2026-03-03T11:00:00Z"),
        Column("value", "number", False, "the answer's score; value or text (or both) required", "4"),
        Column("text", "text", False, "free-text answer", "", 2000),
        Column(
            "survey_title",
            "text",
            False,
            "with survey_opens_at and survey_closes_at: creates or updates the survey",
            "Weekly pulse, week 10",
            200,
        ),
        Column("survey_opens_at", "timestamp", False, "", "2026-03-02T08:00:00Z"),
        Column("survey_closes_at", "timestamp", False, "after survey_opens_at", "2026-03-09T08:00:00Z"),
        Column("survey_instrument", "instrument", False, "default custom", "pulse"),
    ),
}

KINDS = tuple(COLUMNS)
_SURVEY_COLUMNS = ("survey_title", "survey_opens_at", "survey_closes_at")


def template(kind: str) -> str:
    """A header line plus one example row for ``kind`` (what ``--template`` prints)."""
    columns = COLUMNS[_kind(kind)]
    lines: list[str] = []

    class _Sink:
        def write(self, s: str) -> None:
            lines.append(s)

    writer = csv.writer(_Sink(), lineterminator="\n")
    writer.writerow([c.name for c in columns])
    writer.writerow([c.example for c in columns])
    return "".join(lines)


def markdown_docs() -> str:
    """The README's column tables, generated from :data:`COLUMNS`."""
    out: list[str] = []
    for kind, columns in COLUMNS.items():
        out.append(f"`{kind}`:\n\n| column | required | format | notes |\n|---|---|---|---|")
        for c in columns:
            notes = c.help.replace("|", "\\|")
            out.append(f"| `{c.name}` | {'yes' if c.required else ''} | {c.doc()} | {notes} |")
        out.append("")
    return "\n".join(out)


# --- results and errors ------------------------------------------------------------------------


class CsvFileError(ValueError):
    """The file as a whole cannot be read: missing, empty, not UTF-8, wrong header or delimiter."""


@dataclass(frozen=True)
class RowError:
    line: int  # line in the file, the header being line 1
    column: str | None
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}, column {self.column}" if self.column else f"line {self.line}"
        return f"{where}: {self.reason}"


@dataclass
class ImportResult:
    kind: str
    rows_read: int = 0  # data rows, blank lines not counted
    rows_imported: int = 0
    errors: list[RowError] = field(default_factory=list)  # the first MAX_KEPT_ERRORS
    error_count: int = 0
    bad_lines: set[int] = field(default_factory=set)
    written: PageResult = field(default_factory=PageResult)

    @property
    def rows_bad(self) -> int:
        return len(self.bad_lines)

    def add_error(self, line: int, column: str | None, reason: str) -> None:
        self.error_count += 1
        self.bad_lines.add(line)
        if len(self.errors) < MAX_KEPT_ERRORS:
            self.errors.append(RowError(line, column, reason))

    def summary(self) -> str:
        tables = ", ".join(f"{n} {t}" for t, n in sorted(self.written.rows.items())) or "nothing written"
        text = f"{self.kind}: {self.rows_imported} of {self.rows_read} rows imported ({tables})"
        if self.rows_bad:
            text += f"; {self.rows_bad} bad rows skipped"
        if self.written.placeholders:
            text += f"; {self.written.placeholders} unknown agents/teams added as placeholders"
        return text


# --- reading -------------------------------------------------------------------------------------


def _kind(kind: str) -> str:
    if kind not in COLUMNS:
        raise CsvFileError(f'unknown kind "{kind}": expected one of {", ".join(KINDS)}')
    return kind


def _read(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(first line number, fields) per CSV record, header included; file problems as CsvFileError."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise CsvFileError(f"{path}: cannot open: {exc.strerror or exc}") from None

    def lines() -> Iterator[str]:  # decoded line by line, so an encoding error names its line
        for number, raw in enumerate(handle, 1):
            try:
                yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                raise CsvFileError(
                    f"{path.name}: line {number} is not UTF-8 text; save the file as “CSV UTF-8”"
                ) from None

    line = 0
    with handle:
        reader = csv.reader(lines(), strict=True)
        try:
            for fields in reader:
                start, line = line + 1, reader.line_num
                yield start, fields
        except csv.Error as exc:
            raise CsvFileError(
                f"{path.name}, line {line + 1}: malformed CSV ({exc}); check the quotes"
            ) from None


def _header(kind: str, fields: list[str], path: Path) -> list[Column]:
    spec = {c.name: c for c in COLUMNS[kind]}
    names = [f.strip().lower() for f in fields]
    expected = ", ".join(spec)
    if not any(names):
        raise CsvFileError(f"{path.name}: line 1 must be the header ({expected})")
    if len(names) == 1:
        for delimiter, label in ((";", "semicolons"), ("\t", "tabs"), ("|", "'|'")):
            if delimiter in names[0]:
                raise CsvFileError(
                    f"{path.name}: the columns seem to be separated by {label}; AX expects commas (,)"
                )
    problems = []
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        problems.append(f"duplicate columns: {', '.join(duplicates)}")
    unknown = [n or "(empty name)" for n in names if n not in spec]
    if unknown:
        problems.append(f"unknown columns: {', '.join(unknown)}")
    missing = [c.name for c in COLUMNS[kind] if c.required and c.name not in names]
    if missing:
        problems.append(f"missing required columns: {', '.join(missing)}")
    if problems:
        raise CsvFileError(f"{path.name}: {'; '.join(problems)} (the {kind} columns are: {expected})")
    return [spec[n] for n in names]


def _rows(kind: str, path: Path) -> tuple[list[Column], Iterator[tuple[int, list[str]]]]:
    records = _read(path)
    first = next(records, None)
    if first is None:
        expected = ", ".join(c.name for c in COLUMNS[kind])
        raise CsvFileError(f"{path.name}: the file is empty; expected a header line ({expected})")
    header = _header(kind, first[1], path)

    def data() -> Iterator[tuple[int, list[str]]]:
        for line, fields in records:
            if all(not f.strip() for f in fields):
                continue  # blank line, or a row of empty cells as spreadsheets export them
            yield line, fields

    return header, data()


def _parse(
    kind: str, header: list[Column], line: int, fields: list[str], ctx: Context, result: ImportResult
) -> dict[str, Any] | None:
    """The row's values by column name (None when empty), or None after recording its errors."""
    if len(fields) != len(header):
        result.add_error(line, None, f"expected {len(header)} fields like the header, got {len(fields)}")
        return None
    values: dict[str, Any] = {}
    ok = True
    for column, raw in zip(header, fields, strict=True):
        raw = raw.strip()
        if not raw:
            if column.required:
                result.add_error(line, column.name, "required, but empty")
                ok = False
            values[column.name] = None
            continue
        try:
            values[column.name] = column.parse(raw, ctx)
        except CellError as exc:
            result.add_error(line, column.name, str(exc))
            ok = False
    if not ok:
        return None
    for column, reason in _ROW_CHECKS[kind](values):
        result.add_error(line, column, reason)
        ok = False
    return values if ok else None


# --- per-row checks across columns ---------------------------------------------------------------


def _not_before(values: dict[str, Any], column: str, start: str) -> list[tuple[str, str]]:
    if values.get(column) and values.get(start) and values[column] < values[start]:
        return [(column, f"is before {start}")]
    return []


def _check_agents(values: dict[str, Any]) -> list[tuple[str, str]]:
    return []


def _check_contacts(values: dict[str, Any]) -> list[tuple[str, str]]:
    return _not_before(values, "first_response_at", "created_at") + _not_before(
        values, "solved_at", "created_at"
    )


def _check_status(values: dict[str, Any]) -> list[tuple[str, str]]:
    if values["ended_at"] <= values["started_at"]:
        return [("ended_at", "must be after started_at")]
    return []


def _check_pulse(values: dict[str, Any]) -> list[tuple[str, str]]:
    problems = []
    if values.get("value") is None and values.get("text") is None:
        problems.append(("value", "value or text is required"))
    given = [c for c in (*_SURVEY_COLUMNS, "survey_instrument") if values.get(c) is not None]
    absent = [c for c in _SURVEY_COLUMNS if values.get(c) is None]
    if given and absent:
        problems.append((absent[0], f"required when {given[0]} is given (to define the survey)"))
    if not absent and values["survey_closes_at"] <= values["survey_opens_at"]:
        problems.append(("survey_closes_at", "must be after survey_opens_at"))
    item = ITEMS.get(values["item_key"])
    if item is not None:  # other keys may be custom questions of a stored survey: checked later
        problems += _answer_problems(item, values.get("value"), values.get("text"))
    elif values.get("text") is not None and "\x00" in values["text"]:
        problems.append(("text", _NUL))
    return problems


_NUL = "contains a NUL character, which cannot be stored"


def _answer_problems(item: Item, value: float | None, text: str | None) -> list[tuple[str, str]]:
    """One answer through ``validate_answer``; the reasons quote the rule, not the (confidential) answer."""
    if value is None and text is None:
        return []  # "value or text is required" is reported already
    if item.kind is ItemKind.TEXT:
        if value is not None:
            return [("value", f'question "{item.key}" is answered in words: leave value empty, use text')]
        column, answer = "text", text
    else:
        if text is not None and "\x00" in text:
            return [("text", _NUL)]
        if value is None:
            return [("value", f'question "{item.key}" needs a whole number from {item.min} to {item.max}')]
        column, answer = "value", value
    try:
        validate_answer(item, answer)
    except AnswerError as exc:
        if exc.reason == "too_long" and isinstance(answer, str):
            reason = (
                f'expected at most {item.max_length} characters for question "{item.key}", got {len(answer)}'
            )
        elif item.kind is ItemKind.TEXT:  # text cells are never empty here: the one other refusal is NUL
            reason = _NUL
        else:
            reason = f'expected a whole number from {item.min} to {item.max} for question "{item.key}"'
        return [(column, reason)]
    return []


_ROW_CHECKS: dict[str, Callable[[dict[str, Any]], list[tuple[str, str]]]] = {
    "agents": _check_agents,
    "contacts": _check_contacts,
    "status": _check_status,
    "pulse": _check_pulse,
}


# --- checks across rows, and against the store --------------------------------------------------


@dataclass
class _Seen:
    """What the validation pass remembers between rows (ids, not rows)."""

    ids: dict[str, int] = field(default_factory=dict)
    surveys: dict[str, tuple[tuple[Any, ...], int]] = field(default_factory=dict)  # defined in the file
    survey_refs: dict[str, list[int]] = field(default_factory=dict)  # used but not defined (yet)
    answers: dict[tuple[str, str, str], tuple[str, int]] = field(default_factory=dict)
    # rows whose item_key is no built-in question: (line, survey key, item key, value, text)
    unresolved: list[tuple[int, str, str, float | None, str | None]] = field(default_factory=list)


def _survey_of(values: dict[str, Any]) -> tuple[Any, ...] | None:
    if values.get("survey_title") is None:
        return None
    return (
        values["survey_title"],
        values["survey_opens_at"],
        values["survey_closes_at"],
        values.get("survey_instrument") or "custom",
    )


def _track(kind: str, line: int, values: dict[str, Any], seen: _Seen, result: ImportResult) -> None:
    first = seen.ids.get(values["id"])
    if first is not None:
        result.add_error(line, "id", f'duplicate id "{values["id"]}" (first on line {first})')
        return
    if kind == "pulse":
        key = values["survey_key"]
        definition = _survey_of(values)
        if definition is not None:
            known = seen.surveys.get(key)
            if known is not None and known[0] != definition:
                result.add_error(
                    line, "survey_title", f'survey "{key}" is defined differently on line {known[1]}'
                )
                return
            seen.surveys.setdefault(key, (definition, line))
        answer = (key, values["agent_id"], values["item_key"])
        other = seen.answers.get(answer)
        if other is not None:
            result.add_error(
                line,
                "item_key",
                f'agent "{answer[1]}" already answers item "{answer[2]}" of "{key}" on line {other[1]}',
            )
            return
        seen.answers[answer] = (values["id"], line)
        if values["item_key"] not in ITEMS:
            seen.unresolved.append((line, key, values["item_key"], values.get("value"), values.get("text")))
        if definition is None:
            seen.survey_refs.setdefault(key, []).append(line)
    seen.ids[values["id"]] = line


def _check_store(engine: Engine, seen: _Seen, result: ImportResult) -> None:
    """Pulse answers: their surveys exist, ask their questions, and no stored answer has the same
    survey, agent and item."""
    undefined = sorted(k for k in seen.survey_refs if k not in seen.surveys)
    keys = sorted(set(seen.survey_refs) | set(seen.surveys))
    if not keys:
        return
    survey, answer, agent = (m.PulseSurvey.__table__, m.PulseAnswer.__table__, m.Agent.__table__)
    definition = m.SurveyDefinition.__table__
    existing: set[str] = set()
    questions: dict[str, set[str]] = {}  # stored survey key -> the window's listed item keys
    custom: dict[str, str] = {}  # stored survey key -> its definition's custom questions (JSON)
    stored: dict[tuple[str, str, str], str] = {}
    with engine.connect() as conn:
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            windows = conn.execute(
                select(survey.c.key, survey.c["items"], definition.c.custom_items)
                .select_from(survey.outerjoin(definition, survey.c.definition_id == definition.c.id))
                .where(survey.c.key.in_(chunk))
            )
            for key, items, custom_json in windows:
                existing.add(key)
                questions[key] = set(_item_keys(items))
                if custom_json:
                    custom[key] = custom_json
            rows = conn.execute(
                select(survey.c.key, agent.c.external_id, answer.c.item_key, answer.c.external_id)
                .select_from(answer.join(survey).join(agent))
                .where(answer.c.source == SOURCE, survey.c.key.in_(chunk))
            )
            stored.update({(k, a, i): ext for k, a, i, ext in rows})
    for key in undefined:
        if key not in existing:
            for line in seen.survey_refs[key]:
                result.add_error(
                    line,
                    "survey_key",
                    f'unknown survey "{key}": fill survey_title, survey_opens_at and survey_closes_at '
                    "on one of its rows to create it",
                )
    for triple, (external_id, line) in seen.answers.items():
        old = stored.get(triple)
        if old is not None and old != external_id:
            result.add_error(
                line,
                "id",
                f'agent "{triple[1]}" already answered item "{triple[2]}" of "{triple[0]}" with id "{old}"; '
                "use that id to update the answer",
            )
    _check_questions(seen, questions, custom, result)


def _item_keys(raw: str | None) -> list[str]:
    try:
        keys = json.loads(raw or "[]")
    except ValueError:
        return []
    return [k for k in keys if isinstance(k, str)] if isinstance(keys, list) else []


def _check_questions(
    seen: _Seen, questions: dict[str, set[str]], custom: dict[str, str], result: ImportResult
) -> None:
    """Each answer's question exists (built in, or a custom question of the survey's definition), is
    one of the window's questions when the window lists them, and the answer fits it."""
    parsed: dict[str, dict[str, Item]] = {}
    unknown: set[int] = set()
    for line, key, item_key, value, text in seen.unresolved:
        if key not in parsed:
            parsed[key] = custom_items(custom.get(key))
        item = parsed[key].get(item_key)
        if item is None:
            unknown.add(line)
            result.add_error(
                line,
                "item_key",
                f'unknown question "{item_key}": use a question key AX knows (e.g. who5_1, single_burnout, '
                "enps, custom_text) or a custom question of the survey's definition",
            )
            continue
        for column, reason in _answer_problems(item, value, text):
            result.add_error(line, column, reason)
    for (key, _agent, item_key), (_id, line) in seen.answers.items():
        listed = questions.get(key)
        if listed and item_key not in listed and line not in unknown:
            result.add_error(line, "item_key", f'question "{item_key}" is not part of survey "{key}"')


# --- rows to records -----------------------------------------------------------------------------


class _Builder:
    """Turns good rows into records; teams and surveys are emitted once per import."""

    def __init__(self, kind: str, header: list[Column], seen: _Seen, engine: Engine) -> None:
        self.kind = kind
        self.engine = engine
        self.has_team = any(c.name == "team" for c in header)
        self.teams: set[str] = set()
        self.pending_surveys = [
            SurveyRecord(key, title, instrument, opens, closes)
            for key, ((title, opens, closes, instrument), _) in seen.surveys.items()
        ]

    def _team(self, name: str | None) -> list[Record]:
        if name is None or name in self.teams:
            return []
        self.teams.add(name)
        return [TeamRecord(name, name)]

    def records(self, v: dict[str, Any]) -> list[Record]:
        if self.kind == "agents":
            out: list[Record] = [
                AgentRecord(
                    v["id"],
                    v["name"],
                    email=v.get("email"),
                    timezone=v.get("timezone") or "UTC",
                    scheduled_hours_per_day=v.get("scheduled_hours_per_day") or 8.0,
                    active=v.get("active") is not False,
                )
            ]
            if v.get("team") is not None:
                out += [*self._team(v["team"]), MembershipRecord(v["team"], v["id"])]
            return out
        if self.kind == "contacts":
            parts = [v.get(f"{p}_seconds") for p in ("talk", "hold", "wrap")]
            handle = v.get("handle_seconds")
            if handle is None and any(p is not None for p in parts):
                handle = sum(p or 0 for p in parts)
            contact = ContactRecord(
                v["id"],
                v["channel"],
                v["created_at"],
                agent_external_id=v.get("agent_id"),
                team_external_id=v.get("team"),
                queue=v.get("queue"),
                first_response_at=v.get("first_response_at"),
                solved_at=v.get("solved_at"),
                updated_at=v.get("updated_at"),
                handle_seconds=handle,
                talk_seconds=parts[0],
                hold_seconds=parts[1],
                wrap_seconds=parts[2],
                wait_seconds=v.get("wait_seconds"),
                csat=v.get("csat"),
                sentiment=v.get("sentiment"),
                escalated=bool(v.get("escalated")),
                reopened=bool(v.get("reopened")),
            )
            return [*self._team(v.get("team")), contact]
        if self.kind == "status":
            return [StatusIntervalRecord(v["id"], v["agent_id"], v["status"], v["started_at"], v["ended_at"])]
        surveys, self.pending_surveys = self.pending_surveys, []
        answer = PulseAnswerRecord(
            v["id"],
            v["survey_key"],
            v["agent_id"],
            v["item_key"],
            v["answered_at"],
            value=v.get("value"),
            text=v.get("text"),
        )
        return [*surveys, answer]

    def finish_page(self, page: list[Record]) -> list[Record]:
        """Agents file with a team column: memberships of the page's agents in other teams end."""
        if self.kind != "agents" or not self.has_team:
            return page
        wanted = {r.external_id: None for r in page if isinstance(r, AgentRecord)}
        wanted.update(
            {r.agent_external_id: r.team_external_id for r in page if isinstance(r, MembershipRecord)}
        )
        tm, team, agent = m.TeamMembership.__table__, m.Team.__table__, m.Agent.__table__
        ids = sorted(wanted)
        stale: list[Record] = []
        with self.engine.connect() as conn:
            for start in range(0, len(ids), 500):
                rows = conn.execute(
                    select(team.c.external_id, agent.c.external_id)
                    .select_from(
                        tm.join(team, tm.c.team_id == team.c.id).join(agent, tm.c.agent_id == agent.c.id)
                    )
                    .where(
                        tm.c.source == SOURCE,
                        tm.c.deleted.is_(False),
                        agent.c.external_id.in_(ids[start : start + 500]),
                    )
                )
                stale += [MembershipRecord(t, a, deleted=True) for t, a in rows if wanted[a] != t]
        return page + stale


# --- the import ------------------------------------------------------------------------------------


def import_csv(
    engine: Engine,
    kind: str,
    path: str | Path,
    *,
    timezone: str | None = None,
    skip_bad_rows: bool = False,
    page_size: int = PAGE_SIZE,
) -> ImportResult:
    """Validate all of ``path``, then import it (or, with errors and no ``skip_bad_rows``, nothing).

    File-level problems raise :class:`CsvFileError`; row problems are in the result's ``errors``.
    """
    kind = _kind(kind)
    path = Path(path)
    ctx = Context(_zone(timezone) if timezone else None)
    result = ImportResult(kind)
    seen = _Seen()

    header, rows = _rows(kind, path)
    for line, fields in rows:
        result.rows_read += 1
        values = _parse(kind, header, line, fields, ctx, result)
        if values is not None:
            _track(kind, line, values, seen, result)
    _check_store(engine, seen, result)
    if result.error_count and not skip_bad_rows:
        return result

    ingestor = Ingestor(engine, SOURCE, batch_size=page_size)
    builder = _Builder(kind, header, seen, engine)
    stream = f"csv-{kind}"
    page: list[Record] = []
    header, rows = _rows(kind, path)
    for line, fields in rows:
        if line in result.bad_lines:
            continue
        values = _parse(kind, header, line, fields, ctx, ImportResult(kind))
        if values is None:  # the file changed between the passes
            raise CsvFileError(f"{path.name}, line {line}: changed during the import; run it again")
        page += builder.records(values)
        result.rows_imported += 1
        if len(page) >= page_size:
            result.written.add(ingestor.write_page(stream, builder.finish_page(page), None))
            page = []
    if page:
        result.written.add(ingestor.write_page(stream, builder.finish_page(page), None))
    return result


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CsvFileError(f'--timezone: unknown timezone "{name}" (expected e.g. Europe/Berlin)') from None
