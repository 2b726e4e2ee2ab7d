"""``ax import-csv``: validate the whole file, then import all or nothing (or the good rows), idempotently."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from connectors.csv_import import COLUMNS, KINDS, CsvFileError, import_csv, markdown_docs, template
from db.models import (
    Agent,
    AgentStatusInterval,
    Contact,
    PulseAnswer,
    PulseSurvey,
    SurveyDefinition,
    SyncState,
    Team,
    TeamMembership,
)

ROOT = Path(__file__).resolve().parent.parent
DATA_TABLES = (Agent, Team, TeamMembership, Contact, AgentStatusInterval, PulseSurvey, PulseAnswer)

AGENTS = """id,name,email,timezone,scheduled_hours_per_day,active,team
a1,Ana Lima,ana@example.com,Europe/Lisbon,7.5,yes,Billing
a2,Ben Okafor,,,,,Billing
a3,Cleo Wu,cleo@example.com,Asia/Singapore,6,false,Technical Support
"""

CONTACTS = """id,channel,created_at,agent_id,team,first_response_at,solved_at,handle_seconds,talk_seconds,\
hold_seconds,wrap_seconds,wait_seconds,csat,sentiment,escalated,reopened
c1,phone,2026-03-02T09:00:00Z,a1,Billing,2026-03-02T09:00:30Z,2026-03-02T09:10:00Z,,400,50,60,30,5,0.5,no,0
c2,EMAIL,2026-03-02T10:00:00+01:00,a2,,,,900,,,,,1,-0.75,yes,1
c3,chat,2026-03-02T11:00:00Z,,,,,,,,,,,,,
"""

STATUS = """id,agent_id,status,started_at,ended_at
s1,a1,available,2026-03-02T08:00:00Z,2026-03-02T10:00:00Z
s2,a1,break,2026-03-02T10:00:00Z,2026-03-02T10:15:00Z
s3,a2,offline,2026-03-02T08:00:00-05:00,2026-03-02T17:00:00-05:00
"""

PULSE = """id,survey_key,agent_id,item_key,answered_at,value,text,survey_title,survey_opens_at,\
survey_closes_at
p1,w10,a1,who5_1,2026-03-03T11:00:00Z,4,,Week 10,2026-03-02T08:00:00Z,2026-03-09T08:00:00Z
p2,w10,a2,who5_1,2026-03-03T12:00:00Z,2,,,,
p3,w10,a2,custom_text,2026-03-03T12:00:00Z,,"Too many calls, no breaks",,,
"""


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def snapshot(engine) -> dict[str, list[tuple]]:
    """Every data table's rows (ids included), to show a re-import changes nothing.

    ``synced_at`` is left out: it records *when* a row was last written, which is the one thing a
    re-import should change (the incremental compute reads it).
    """
    out = {}
    with engine.connect() as conn:
        for model in DATA_TABLES:
            table = model.__table__
            columns = [c for c in table.c if c.name != "synced_at"]
            out[table.name] = [tuple(r) for r in conn.execute(select(*columns).order_by(table.c.id))]
    return out


def count(engine, model) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(model.__table__)).scalar_one()


def load_all(engine, tmp_path: Path) -> None:
    for kind, text in (("agents", AGENTS), ("contacts", CONTACTS), ("status", STATUS), ("pulse", PULSE)):
        result = import_csv(engine, kind, write(tmp_path, f"{kind}.csv", text))
        assert result.error_count == 0, result.errors
        assert result.rows_imported == result.rows_read == 3


def test_good_files_of_every_kind_import_the_right_rows(engine, tmp_path):
    load_all(engine, tmp_path)
    with engine.connect() as conn:
        agents = {a.external_id: a for a in conn.execute(select(Agent.__table__))}
        assert agents["a1"].name == "Ana Lima" and agents["a1"].timezone == "Europe/Lisbon"
        assert agents["a1"].scheduled_hours_per_day == 7.5 and agents["a1"].active
        assert agents["a2"].email is None and agents["a2"].timezone == "UTC"
        assert agents["a2"].scheduled_hours_per_day == 8.0 and agents["a2"].active
        assert not agents["a3"].active
        assert {a.source for a in agents.values()} == {"csv"}
        teams = dict(conn.execute(select(Team.__table__.c.id, Team.__table__.c.name)).all())
        assert sorted(teams.values()) == ["Billing", "Technical Support"]
        tm = TeamMembership.__table__
        members = {(teams[t], a) for t, a in conn.execute(select(tm.c.team_id, tm.c.agent_id))}
        by_id = {a.id: ext for ext, a in agents.items()}
        assert {(t, by_id[a]) for t, a in members} == {
            ("Billing", "a1"),
            ("Billing", "a2"),
            ("Technical Support", "a3"),
        }

        contacts = {c.external_id: c for c in conn.execute(select(Contact.__table__))}
        c1, c2, c3 = contacts["c1"], contacts["c2"], contacts["c3"]
        assert c1.channel == "phone" and c1.agent_id == agents["a1"].id and teams[c1.team_id] == "Billing"
        assert c1.handle_seconds == 510  # empty: talk + hold + wrap
        assert (c1.talk_seconds, c1.hold_seconds, c1.wrap_seconds, c1.wait_seconds) == (400, 50, 60, 30)
        assert c1.csat == 5 and c1.sentiment == 0.5 and not c1.escalated and not c1.reopened
        assert c1.solved_at == datetime(2026, 3, 2, 9, 10, tzinfo=UTC)
        assert c2.channel == "email" and c2.created_at == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
        assert c2.handle_seconds == 900 and c2.talk_seconds is None and c2.team_id is None
        assert c2.csat == 1 and c2.sentiment == -0.75 and c2.escalated and c2.reopened
        assert c3.agent_id is None and c3.handle_seconds is None and c3.csat is None

        st = AgentStatusInterval.__table__
        statuses = {r.external_id: r for r in conn.execute(select(st))}
        assert statuses["s2"].status == "break" and statuses["s2"].agent_id == agents["a1"].id
        assert statuses["s3"].started_at == datetime(2026, 3, 2, 13, 0, tzinfo=UTC)
        assert statuses["s3"].ended_at == datetime(2026, 3, 2, 22, 0, tzinfo=UTC)

        (survey,) = conn.execute(select(PulseSurvey.__table__)).all()
        assert (survey.key, survey.title, survey.instrument) == ("w10", "Week 10", "custom")
        assert survey.opens_at == datetime(2026, 3, 2, 8, tzinfo=UTC)
        answers = {a.external_id: a for a in conn.execute(select(PulseAnswer.__table__))}
        assert answers["p1"].value == 4 and answers["p1"].survey_id == survey.id
        assert answers["p2"].agent_id == agents["a2"].id and answers["p2"].item_key == "who5_1"
        assert answers["p3"].value is None and answers["p3"].text == "Too many calls, no breaks"
        streams = set(conn.execute(select(SyncState.__table__.c.stream)).scalars())
        assert streams == {"csv-agents", "csv-contacts", "csv-status", "csv-pulse"}


def test_reimport_changes_nothing(engine, tmp_path):
    load_all(engine, tmp_path)
    before = snapshot(engine)
    assert sum(len(rows) for rows in before.values()) > 15
    load_all(engine, tmp_path)
    assert snapshot(engine) == before


def test_templates_are_valid_files_of_their_kind(engine, tmp_path):
    for kind in KINDS:
        text = template(kind)
        header, _example, *rest = text.splitlines()
        assert header == ",".join(c.name for c in COLUMNS[kind]) and not rest
        result = import_csv(engine, kind, write(tmp_path, f"{kind}.csv", text))
        assert (result.error_count, result.rows_imported) == (0, 1), result.errors
    assert count(engine, Contact) == count(engine, AgentStatusInterval) == count(engine, PulseAnswer) == 1


BAD_CONTACTS = """id,channel,created_at,handle_seconds,csat,sentiment,escalated
ok1,email,2026-03-02T09:00:00Z,300,5,0.1,true
bad1,fax,2026-03-02T09:00:00Z,abc,5,0,false
bad2,chat,yesterday,-5,6,1.5,maybe
,phone,2026-03-02,10.5,0,,
ok2,phone,2026-03-02T09:00:00Z,,,,
ok1,chat,2026-03-02T09:00:00Z,1,1,1,1
short,chat
"""

BAD_EXPECTED = [
    (3, "channel", 'expected one of email, chat, phone, social, messaging, other, got "fax"'),
    (3, "handle_seconds", 'expected a whole number of seconds ≥ 0, got "abc"'),
    (4, "created_at", 'expected an ISO 8601 date and time such as 2026-03-02T09:15:00Z, got "yesterday"'),
    (4, "handle_seconds", 'expected a whole number of seconds ≥ 0, got "-5"'),
    (4, "csat", 'expected a whole number from 1 to 5, got "6"'),
    (4, "sentiment", 'expected a number from -1 to 1, got "1.5"'),
    (4, "escalated", 'expected true/false, 1/0 or yes/no, got "maybe"'),
    (5, "id", "required, but empty"),
    (5, "created_at", 'expected an ISO 8601 date and time such as 2026-03-02T09:15:00Z, got "2026-03-02"'),
    (5, "handle_seconds", 'expected a whole number of seconds ≥ 0, got "10.5"'),
    (5, "csat", 'expected a whole number from 1 to 5, got "0"'),
    (7, "id", 'duplicate id "ok1" (first on line 2)'),
    (8, None, "expected 7 fields like the header, got 2"),
]


def test_a_file_with_bad_rows_imports_nothing_and_reports_every_error(engine, tmp_path):
    result = import_csv(engine, "contacts", write(tmp_path, "bad.csv", BAD_CONTACTS))
    assert [(e.line, e.column, e.reason) for e in result.errors] == BAD_EXPECTED
    assert result.error_count == len(BAD_EXPECTED) and result.rows_bad == 5 and result.rows_read == 7
    assert result.rows_imported == 0
    assert (
        str(result.errors[1])
        == 'line 3, column handle_seconds: expected a whole number of seconds ≥ 0, got "abc"'
    )
    assert count(engine, Contact) == count(engine, SyncState) == 0


def test_skip_bad_rows_imports_the_good_rows_only(engine, tmp_path):
    result = import_csv(engine, "contacts", write(tmp_path, "bad.csv", BAD_CONTACTS), skip_bad_rows=True)
    assert result.error_count == len(BAD_EXPECTED) and result.rows_imported == 2
    assert "2 of 7 rows imported" in result.summary() and "5 bad rows skipped" in result.summary()
    with engine.connect() as conn:
        rows = conn.execute(select(Contact.__table__.c.external_id, Contact.__table__.c.channel)).all()
    assert sorted(rows) == [("ok1", "email"), ("ok2", "phone")]  # the duplicate ok1 is not imported


def test_cross_column_checks(engine, tmp_path):
    status = "id,agent_id,status,started_at,ended_at\ns1,a1,busy,2026-03-02T10:00:00Z,2026-03-02T10:00:00Z\n"
    status += "s2,a1,lunch,2026-03-02T10:00:00Z,2026-03-02T11:00:00+02:00\n"
    result = import_csv(engine, "status", write(tmp_path, "s.csv", status))
    # a row's cross-column checks run once its cells parse: line 3 reports the status only
    assert [(e.line, e.column) for e in result.errors] == [(2, "ended_at"), (3, "status")]
    contacts = "id,channel,created_at,solved_at\nc1,chat,2026-03-02T10:00:00Z,2026-03-02T09:59:59Z\n"
    result = import_csv(engine, "contacts", write(tmp_path, "c.csv", contacts))
    assert [str(e) for e in result.errors] == ["line 2, column solved_at: is before created_at"]
    assert count(engine, AgentStatusInterval) == count(engine, Contact) == 0


def test_pulse_answers_need_a_known_survey_and_answer_each_item_once(engine, tmp_path):
    import_csv(engine, "agents", write(tmp_path, "a.csv", AGENTS))
    header = (
        "id,survey_key,agent_id,item_key,answered_at,value,survey_title,survey_opens_at,survey_closes_at\n"
    )
    opens, closes = "2026-03-02T08:00:00Z", "2026-03-09T08:00:00Z"
    rows = [
        f"p1,w10,a1,enps,2026-03-03T11:00:00Z,3,Week 10,{opens},{closes}",
        "p2,nope,a1,enps,2026-03-03T11:00:00Z,3,,,",
        "p3,w10,a1,enps,2026-03-03T11:00:00Z,4,,,",
        f"p4,w10,a2,enps,2026-03-03T11:00:00Z,4,Week ten,{opens},{closes}",
        f"p5,w11,a2,enps,2026-03-03T11:00:00Z,4,Week 11,{closes},{opens}",
        f"p6,w12,a2,enps,2026-03-03T11:00:00Z,,Week 12,{opens},",
        "p7,nope,a2,enps,2026-03-03T11:00:00Z,1,,,",
    ]
    result = import_csv(engine, "pulse", write(tmp_path, "p.csv", header + "\n".join(rows) + "\n"))
    errors = [(e.line, e.column) for e in result.errors]
    assert errors == [
        (4, "item_key"),
        (5, "survey_title"),
        (6, "survey_closes_at"),
        (7, "value"),
        (7, "survey_closes_at"),
        (3, "survey_key"),
        (8, "survey_key"),
    ]
    assert 'unknown survey "nope"' in str(result.errors[-1])
    assert "on line 2" in result.errors[0].reason and "on line 2" in result.errors[1].reason
    assert count(engine, PulseSurvey) == count(engine, PulseAnswer) == 0

    good = import_csv(engine, "pulse", write(tmp_path, "p1.csv", header + rows[0] + "\n"))
    assert good.error_count == 0 and count(engine, PulseAnswer) == 1
    # The survey exists now; the same answer under another id would break "once per item".
    again = import_csv(
        engine, "pulse", write(tmp_path, "p2.csv", header + "p9,w10,a1,enps,2026-03-04T09:00:00Z,5,,,\n")
    )
    assert [(e.line, e.column) for e in again.errors] == [(2, "id")]
    assert 'with id "p1"' in again.errors[0].reason
    later = import_csv(
        engine, "pulse", write(tmp_path, "p3.csv", header + "p10,w10,a2,enps,2026-03-04T09:00:00Z,5,,,\n")
    )
    assert later.error_count == 0 and count(engine, PulseAnswer) == 2


def test_changing_an_agents_team_ends_the_old_membership(engine, tmp_path):
    import_csv(engine, "agents", write(tmp_path, "a.csv", AGENTS))
    moved = AGENTS.replace("a2,Ben Okafor,,,,,Billing", "a2,Ben Okafor,,,,,Technical Support")
    moved = moved.replace("Asia/Singapore,6,false,Technical Support", "Asia/Singapore,6,false,")
    assert import_csv(engine, "agents", write(tmp_path, "b.csv", moved)).error_count == 0
    tm, team, agent = TeamMembership.__table__, Team.__table__, Agent.__table__
    with engine.connect() as conn:
        rows = conn.execute(
            select(team.c.name, agent.c.external_id)
            .select_from(tm.join(team, tm.c.team_id == team.c.id).join(agent, tm.c.agent_id == agent.c.id))
            .where(tm.c.deleted.is_(False))
        ).all()
    assert sorted(rows) == [("Billing", "a1"), ("Technical Support", "a2")]


def test_pages_of_records_are_written_in_several_transactions(engine, tmp_path):
    lines = [f"c{n},chat,2026-03-02T09:{n:02d}:00Z" for n in range(7)]
    path = write(tmp_path, "c.csv", "id,channel,created_at\n" + "\n".join(lines) + "\n")
    result = import_csv(engine, "contacts", path, page_size=3)
    assert result.rows_imported == 7 and result.written.rows["contact"] == 7
    assert count(engine, Contact) == 7
    with engine.connect() as conn:
        assert conn.execute(select(SyncState.__table__.c.rows_total)).scalar_one() == 7


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        (b"", ["the file is empty", "id, channel, created_at"]),
        (b"\n", ["line 1 must be the header"]),
        (b"id;channel;created_at\nc1;chat;2026-03-02T09:00:00Z\n", ["separated by semicolons", "commas"]),
        (b"id\tchannel\tcreated_at\n", ["separated by tabs"]),
        (
            b"id,channel,created,agent\n",
            ["unknown columns: created, agent", "missing required columns: created_at"],
        ),
        (b"id,channel,created_at,Channel\n", ["duplicate columns: channel"]),
        (b"ID,Channel,created_at,sol\n", ["unknown columns: sol"]),
        (
            "id,channel,created_at\nc1,chat,2026-03-02T09:00:00Z,café\n".encode("latin-1"),
            ["line 2 is not UTF-8"],
        ),
        ("id,channel,created_at\n".encode("utf-16"), ["line 1 is not UTF-8"]),
        (b'id,channel,created_at\nc1,"chat"x,2026-03-02T09:00:00Z\n', ["line 2", "malformed CSV"]),
    ],
)
def test_file_problems_are_one_clear_error(engine, tmp_path, content, fragments):
    path = tmp_path / "f.csv"
    path.write_bytes(content)
    with pytest.raises(CsvFileError) as caught:
        import_csv(engine, "contacts", path)
    for fragment in fragments:
        assert fragment in str(caught.value)
    assert count(engine, Contact) == 0


def test_missing_file_and_unknown_kind_and_timezone(engine, tmp_path):
    with pytest.raises(CsvFileError, match="cannot open"):
        import_csv(engine, "contacts", tmp_path / "nope.csv")
    with pytest.raises(CsvFileError, match="unknown kind"):
        import_csv(engine, "tickets", write(tmp_path, "c.csv", CONTACTS))
    with pytest.raises(CsvFileError, match="unknown timezone"):
        import_csv(engine, "contacts", write(tmp_path, "c.csv", CONTACTS), timezone="Mars/Olympus")


def test_bom_blank_lines_and_multiline_fields(engine, tmp_path):
    text = (
        "id,agent_id,item_key,answered_at,text,survey_key,survey_title,survey_opens_at,survey_closes_at\n"
        'p1,a1,custom_text,2026-03-03T11:00:00Z,"line one\nline two",w,W,'
        "2026-03-02T08:00:00Z,2026-03-09T08:00:00Z\n"
        "\n"
        ",,,,,,,,\n"
        "p2,a2,custom_text,2026-03-03T11:00:00Z,,w,,,\n"
    )
    import_csv(engine, "agents", write(tmp_path, "a.csv", AGENTS))
    result = import_csv(engine, "pulse", write(tmp_path, "p.csv", text, encoding="utf-8-sig"))
    path = tmp_path / "p.csv"
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert [str(e) for e in result.errors] == ["line 6, column value: value or text is required"]
    assert result.rows_read == 2
    fixed = text.replace("custom_text,2026-03-03T11:00:00Z,,", "custom_text,2026-03-03T11:00:00Z,ok,")
    path.write_text(fixed, encoding="utf-8-sig")
    assert import_csv(engine, "pulse", path).rows_imported == 2
    with engine.connect() as conn:
        texts = dict(
            conn.execute(select(PulseAnswer.__table__.c.external_id, PulseAnswer.__table__.c.text)).all()
        )
    assert texts == {"p1": "line one\nline two", "p2": "ok"}


def test_pulse_answers_are_validated_like_answers_in_the_app(engine, tmp_path):
    secret = "PRIVATE-" + "x" * 993  # 1001 characters: one over custom_text's limit
    header = "id,survey_key,agent_id,item_key,answered_at,value,text,survey_title,survey_opens_at,"
    header += "survey_closes_at\n"
    week = "Week 10,2026-03-02T08:00:00Z,2026-03-09T08:00:00Z"
    rows = [
        f"p1,w10,a1,who5_4,2026-03-03T11:00:00Z,5,a comment beside the number,{week}",
        "p2,w10,a1,who5_1,2026-03-03T11:00:00Z,6,,,,",
        "p3,w10,a1,who5_2,2026-03-03T11:00:00Z,2.5,,,,",
        "p4,w10,a1,enps,2026-03-03T11:00:00Z,-1,,,,",
        "p5,w10,a1,who5_3,2026-03-03T11:00:00Z,,fine,,,",
        "p6,w10,a1,custom_text,2026-03-03T11:00:00Z,3,,,,",
        f"p7,w10,a2,custom_text,2026-03-03T11:00:00Z,,{secret},,,",
        "p8,w10,a1,no_such_question,2026-03-03T11:00:00Z,1,,,,",
    ]
    import_csv(engine, "agents", write(tmp_path, "a.csv", AGENTS))
    path = write(tmp_path, "p.csv", header + "\n".join(rows) + "\n")
    result = import_csv(engine, "pulse", path)
    assert [str(e) for e in result.errors] == [
        'line 3, column value: expected a whole number from 0 to 5 for question "who5_1"',
        'line 4, column value: expected a whole number from 0 to 5 for question "who5_2"',
        'line 5, column value: expected a whole number from 0 to 10 for question "enps"',
        'line 6, column value: question "who5_3" needs a whole number from 0 to 5',
        'line 7, column value: question "custom_text" is answered in words: leave value empty, use text',
        'line 8, column text: expected at most 1000 characters for question "custom_text", got 1001',
        'line 9, column item_key: unknown question "no_such_question": use a question key AX knows '
        "(e.g. who5_1, single_burnout, enps, custom_text) or a custom question of the survey's definition",
    ]
    assert not any("PRIVATE" in e.reason for e in result.errors)  # answers are never echoed
    assert count(engine, PulseAnswer) == 0

    partial = import_csv(engine, "pulse", path, skip_bad_rows=True)
    assert partial.rows_imported == 1 and count(engine, PulseAnswer) == 1


def test_pulse_answers_to_a_stored_survey_use_its_questions(engine, tmp_path):
    import_csv(engine, "agents", write(tmp_path, "a.csv", AGENTS))
    custom = [{"key": "team_support", "text": "My team supports me", "kind": "likert"}]
    with Session(engine) as s:
        definition = SurveyDefinition(
            key="monthly", title="Monthly", cadence="monthly", custom_items=json.dumps(custom)
        )
        s.add(definition)
        s.flush()
        s.add(
            PulseSurvey(
                key="m03",
                title="Monthly, March",
                instrument="custom",
                opens_at=datetime(2026, 3, 2, 8, tzinfo=UTC),
                closes_at=datetime(2026, 3, 9, 8, tzinfo=UTC),
                definition_id=definition.id,
                items=json.dumps(["who5_1", "team_support"]),
            )
        )
        s.commit()
    header = "id,survey_key,agent_id,item_key,answered_at,value\n"
    rows = [
        "p1,m03,a1,team_support,2026-03-03T11:00:00Z,4",
        "p2,m03,a2,team_support,2026-03-03T11:00:00Z,9",
        "p3,m03,a1,who5_2,2026-03-03T11:00:00Z,3",
        "p4,m03,a1,other_custom,2026-03-03T11:00:00Z,1",
        "p5,m03,a1,who5_1,2026-03-03T11:00:00Z,5",
    ]
    result = import_csv(engine, "pulse", write(tmp_path, "p.csv", header + "\n".join(rows) + "\n"))
    assert [(e.line, e.column) for e in result.errors] == [(3, "value"), (5, "item_key"), (4, "item_key")]
    assert result.errors[0].reason == 'expected a whole number from 1 to 5 for question "team_support"'
    assert result.errors[1].reason.startswith('unknown question "other_custom"')
    assert result.errors[2].reason == 'question "who5_2" is not part of survey "m03"'
    assert count(engine, PulseAnswer) == 0
    ok = import_csv(engine, "pulse", write(tmp_path, "ok.csv", header + rows[0] + "\n" + rows[4] + "\n"))
    assert ok.error_count == 0 and count(engine, PulseAnswer) == 2


def test_naive_timestamps_need_a_timezone(engine, tmp_path):
    text = (
        "id,agent_id,status,started_at,ended_at\n"
        "s1,a1,busy,2026-01-15T09:00:00,2026-01-15 10:30:00\n"
        "s2,a1,busy,2026-07-15T09:00:00,2026-07-15T10:00:00Z\n"
    )
    import_csv(engine, "agents", write(tmp_path, "a.csv", AGENTS))
    path = write(tmp_path, "s.csv", text)
    refused = import_csv(engine, "status", path)
    assert [(e.line, e.column) for e in refused.errors] == [
        (2, "started_at"),
        (2, "ended_at"),
        (3, "started_at"),
    ]
    assert "no timezone offset" in refused.errors[0].reason and "--timezone" in refused.errors[0].reason
    assert count(engine, AgentStatusInterval) == 0

    result = import_csv(engine, "status", path, timezone="Europe/Berlin")
    assert result.error_count == 0
    with engine.connect() as conn:
        st = AgentStatusInterval.__table__
        rows = {r.external_id: r for r in conn.execute(select(st))}
    assert rows["s1"].started_at == datetime(2026, 1, 15, 8, 0, tzinfo=UTC)  # CET, +01:00
    assert rows["s1"].ended_at == datetime(2026, 1, 15, 9, 30, tzinfo=UTC)
    assert rows["s2"].started_at == datetime(2026, 7, 15, 7, 0, tzinfo=UTC)  # CEST, +02:00
    assert rows["s2"].ended_at == datetime(2026, 7, 15, 10, 0, tzinfo=UTC)  # explicit offset wins


def test_readme_column_tables_match_the_specs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "ax import-csv" in readme
    assert markdown_docs() in readme


# --- the command, as a user runs it ---------------------------------------------------------------


def ax(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("AX_")}
    full_env["PYTHONPATH"] = str(ROOT)
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "ax.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=120,
    )


def test_cli_template_import_errors_and_skip(store, tmp_path):
    env = {"AX_DATABASE_URL": store.url}
    shown = ax("import-csv", "status", "--template", env=env, cwd=tmp_path)
    assert shown.returncode == 0 and shown.stdout == template("status")
    (tmp_path / "agents.csv").write_text(AGENTS)
    ok = ax("import-csv", "agents", "agents.csv", env=env, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "agents: 3 of 3 rows imported (3 agent, 2 team, 3 team_membership)"

    bad_rows = "\n".join(f"c{n},chat,2026-03-02T09:00:00Z,{'abc' if n % 2 else n}" for n in range(120))
    (tmp_path / "c.csv").write_text("id,channel,created_at,handle_seconds\n" + bad_rows + "\n")
    refused = ax("import-csv", "contacts", "c.csv", env=env, cwd=tmp_path)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    lines = refused.stderr.strip().splitlines()
    assert lines[0] == 'line 3, column handle_seconds: expected a whole number of seconds ≥ 0, got "abc"'
    assert lines[49].startswith("line 101, column handle_seconds")
    assert lines[50] == "… and 10 more errors"
    assert "60 of 120 rows have errors; nothing imported" in lines[51]
    assert count(store.engine, Contact) == 0

    skipped = ax("import-csv", "contacts", "c.csv", "--skip-bad-rows", env=env, cwd=tmp_path)
    assert skipped.returncode == 1
    assert "60 of 120 rows imported" in skipped.stdout and "60 bad rows skipped" in skipped.stdout
    assert count(store.engine, Contact) == 60

    (tmp_path / "semi.csv").write_text("id;channel;created_at\n")
    broken = ax("import-csv", "contacts", "semi.csv", env=env, cwd=tmp_path)
    assert broken.returncode == 2 and len(broken.stderr.strip().splitlines()) == 1
    assert broken.stderr.startswith("ax: semi.csv: the columns seem to be separated by semicolons")
