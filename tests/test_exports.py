"""HR exports: open the CSV, XLSX and PDF that were produced and check what a reader would see.

The demo org here is small (12 agents in four teams of three), so team-level risk counts and
survey figures must come out suppressed while the whole organisation's survey figures show.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlmodel import Session, select
from typer.testing import CliRunner

from ax.access import AccessDenied
from ax.accounts import viewer_for
from ax.cli import app
from ax.demo import load_demo
from ax.export_formats import neutralise
from ax.export_sections import SUPPRESSED
from ax.exports import (
    MAX_MONTHS,
    ExportError,
    ExportRequest,
    Month,
    export_options,
    parse_request,
    run_export,
)
from ax.settings import reset_settings
from db.migrate import upgrade
from db.models import AuditEvent, Team, TeamAction, User
from tests.conftest import BACKENDS, Store

FORMULA_TEAM = '=HYPERLINK("http://evil.test","x")'
FORMULA_ACTION = "+cmd|' /C calc'!A0"
SECRET = "tok-super-secret-123"


@pytest.fixture(scope="module", params=BACKENDS)
def org(request, tmp_path_factory):
    s = Store(request.param, str(tmp_path_factory.mktemp("exports")))
    upgrade(s.engine)
    load_demo(s.engine, agents=12, days=40, seed=5, password="demo")
    with Session(s.engine) as session:
        team = session.exec(select(Team).order_by(Team.id)).first()
        team.name = FORMULA_TEAM  # a helpdesk name nobody checked
        lead = session.exec(select(User).where(User.username == "lead")).one()
        session.add(TeamAction(team_id=team.id, created_by=lead.id, about="other", text=FORMULA_ACTION))
        session.add(
            TeamAction(
                team_id=team.id, created_by=lead.id, about="alert", text="moved Ana off phones", shared=False
            )
        )
        session.commit()
    yield s
    s.close()


@pytest.fixture
def session(org, monkeypatch):
    monkeypatch.setenv("AX_DATABASE_URL", org.url)
    monkeypatch.setenv("AX_ZENDESK_API_TOKEN", SECRET)
    reset_settings()
    with Session(org.engine) as session:
        yield session


def viewer(session: Session, username: str):
    return viewer_for(session, session.exec(select(User).where(User.username == username)).one())


def whole_range(session: Session) -> ExportRequest:
    options = export_options(session, viewer(session, "hr"))
    return ExportRequest(options.first_month, options.current_month)


def produce(session: Session, fmt: str, request: ExportRequest | None = None, username: str = "hr") -> bytes:
    out = io.BytesIO()
    seen: list[tuple[int, int]] = []
    result = run_export(
        session,
        viewer(session, username),
        request or whole_range(session),
        fmt,
        out,
        progress=lambda d, t, _: seen.append((d, t)),
    )
    assert result.rows > 0
    assert seen[-1][0] == seen[-1][1] and seen[0][0] == 0  # progress ran from 0 to the end
    return out.getvalue()


def csv_sections(data: bytes) -> dict[str, list[dict[str, str]]]:
    """The CSV's sections by title, each as a list of dict rows."""
    lines = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    found: dict[str, list[dict[str, str]]] = {}
    index = 0
    while index < len(lines):
        line = lines[index]
        if (
            len(line) == 1
            and line[0].startswith("# ")
            and index + 2 < len(lines)
            and not lines[index + 2][0].startswith("#")
        ):
            title, header = line[0][2:], lines[index + 2]
            rows, index = [], index + 3
            while index < len(lines) and lines[index]:
                rows.append(dict(zip(header, lines[index], strict=True)))
                index += 1
            found[title] = rows
        index += 1
    return found


def test_csv_holds_every_section_with_small_groups_suppressed(session):
    sections = csv_sections(produce(session, "csv"))
    assert list(sections) == [
        "Workload by team and month",
        "Burnout risk levels by team and month",
        "Survey results by group and month",
        "Survey response rates by group and month",
        "Actions taken by team and month",
    ]
    workload = sections["Workload by team and month"]
    assert all(0 < int(row["Agents"]) < 5 and int(row["Contacts"]) > 0 for row in workload)
    risk = sections["Burnout risk levels by team and month"]
    assert risk and all(row["High"] == SUPPRESSED and row["Low"] == SUPPRESSED for row in risk)
    assert all("Fewer than 5 agents" in row["Note"] for row in risk)
    survey = sections["Survey results by group and month"]
    org_rows = [row for row in survey if row["Group"] == "Whole organisation"]
    team_rows = [row for row in survey if row["Group"] != "Whole organisation"]
    assert any(row["WHO-5 mean (0-100)"] not in ("", SUPPRESSED) for row in org_rows)  # 12 people: shown
    assert team_rows and all(row["WHO-5 mean (0-100)"] in ("", SUPPRESSED) for row in team_rows)
    assert all(row["WHO-5 respondents"] in ("", SUPPRESSED) for row in team_rows)
    rates = sections["Survey response rates by group and month"]
    assert {row["Respondents"] for row in rates if row["Group"] != "Whole organisation"} == {SUPPRESSED}
    assert any(
        row["Response rate %"] not in ("", SUPPRESSED)
        for row in rates
        if row["Group"] == "Whole organisation"
    )


def test_csv_neutralises_formulas_and_leaves_out_unshared_actions(session):
    data = produce(session, "csv")
    sections = csv_sections(data)
    teams = {row["Team"] for row in sections["Workload by team and month"]}
    assert "'" + FORMULA_TEAM in teams and FORMULA_TEAM not in teams
    actions = sections["Actions taken by team and month"]
    assert [row["Action"] for row in actions] == ["'" + FORMULA_ACTION]
    assert b"moved Ana" not in data  # an action about one person is never shared, never exported
    assert SECRET.encode() not in data
    negative = [
        row["eNPS"] for row in sections["Survey results by group and month"] if row["eNPS"].startswith("-")
    ]
    assert all(not value.startswith("'") for value in negative)  # numbers are not touched


def test_xlsx_has_one_formatted_sheet_per_section(session):
    book = load_workbook(io.BytesIO(produce(session, "xlsx")))
    assert book.sheetnames == [
        "About",
        "Workload",
        "Risk levels",
        "Survey results",
        "Response rates",
        "Actions taken",
    ]
    sheet = book["Workload"]
    assert sheet.freeze_panes == "A2" and sheet["A1"].font.bold and sheet["A1"].value == "Team"
    names = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert "'" + FORMULA_TEAM in names
    assert all(
        cell.data_type != "f" for row in book["Workload"].iter_rows() for cell in row
    )  # no formula cells
    assert sheet["E2"].number_format == "#,##0" and isinstance(sheet["E2"].value, int)
    risk = list(book["Risk levels"].iter_rows(min_row=2, values_only=True))
    assert risk and all(row[6] == SUPPRESSED for row in risk)
    assert book["Risk levels"]["G2"].font.italic  # a hidden cell looks hidden, not only reads so
    actions = list(book["Actions taken"].iter_rows(min_row=2, values_only=True))
    assert [row[5] for row in actions] == ["'" + FORMULA_ACTION]
    about = [row for row in book["About"].iter_rows(values_only=True) if row and row[0]]
    assert ("Generated by", "hr") in [tuple(r[:2]) for r in about]


def test_pdf_report_reads_with_charts_and_suppressed_cells(session):
    reader = PdfReader(io.BytesIO(produce(session, "pdf")))
    text = "\n".join(page.extract_text() for page in reader.pages)
    for title in ("AX HR summary", "Workload by team and month", "Contacts per month", "Burnout risk levels"):
        assert title in text
    assert SUPPRESSED in text and "Fewer than 5 agents" in text
    assert "Whole organisation" in text and "moved Ana" not in text and SECRET not in text
    assert len(reader.pages) >= 5


def test_every_export_is_audited_with_its_filters(session):
    request = whole_range(session)
    team_id = session.exec(select(Team.id).order_by(Team.id)).first()
    before = session.exec(select(AuditEvent).where(AuditEvent.action == "export")).all()
    produce(session, "csv", ExportRequest(request.first, request.last, team_id=team_id), username="admin")
    after = session.exec(
        select(AuditEvent).where(AuditEvent.action == "export").order_by(AuditEvent.id)
    ).all()
    assert len(after) == len(before) + 1
    entry = after[-1]
    details = json.loads(entry.details)
    assert entry.username == "admin" and details["team_id"] == team_id and details["format"] == "csv"
    assert details["from"] == request.first.label and details["rows"] > 0


@pytest.mark.parametrize("username", ["agent", "lead"])
def test_agents_and_leads_cannot_export(session, username):
    with pytest.raises(AccessDenied):
        run_export(session, viewer(session, username), whole_range(session), "csv", io.BytesIO())
    refusal = session.exec(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert refusal.action == "access_denied" and refusal.username == username


@pytest.mark.parametrize(
    ("first", "last", "team", "site", "message"),
    [
        ("2026-13", None, None, None, "is not a month"),
        ("last year", None, None, None, "write it as YYYY-MM"),
        ("2026-03", "2026-01", None, None, "starts (2026-03) after it ends"),
        ("2019-01", "2026-03", None, None, f"at most {MAX_MONTHS}"),
        ("2099-01", None, None, None, "has not started yet"),
        ("2001-01", None, None, None, "nothing to export"),
        ("2026-01", None, "No such team", None, "no team called 'No such team'"),
        ("2026-01", None, None, "Atlantis", "no team works at site 'Atlantis'"),
    ],
)
def test_bad_filters_get_a_sentence(session, first, last, team, site, message):
    with pytest.raises(ExportError, match=message.replace("(", r"\(").replace(")", r"\)")):
        request = parse_request(session, first, last, team=team, site=site)
        run_export(session, viewer(session, "hr"), request, "csv", io.BytesIO())


def test_team_filter_keeps_its_team_only(session):
    hr = viewer(session, "hr")
    team = session.exec(select(Team).where(Team.name == "Returns")).one()
    request = whole_range(session)
    data = produce(session, "csv", ExportRequest(request.first, request.last, team_id=team.id))
    workload = csv_sections(data)["Workload by team and month"]
    assert {row["Team"] for row in workload} == {"Returns"}
    assert export_options(session, hr).teams  # the filter choices list every team


def test_neutralise_covers_every_formula_start():
    for start in ("=", "+", "-", "@", "\t", "\r"):
        assert neutralise(f"{start}1+1") == f"'{start}1+1"
    assert neutralise("Billing") == "Billing" and neutralise(-20.0) == -20.0 and neutralise(None) is None


def test_cli_export_writes_the_file_and_audits_the_os_user(session, tmp_path, monkeypatch):
    monkeypatch.setenv("SUDO_USER", "maria")
    request = whole_range(session)
    target = tmp_path / "summary.xlsx"
    result = CliRunner().invoke(
        app,
        [
            "export",
            "--from",
            request.first.label,
            "--to",
            request.last.label,
            "-f",
            "xlsx",
            "-o",
            str(target),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "rows to" in result.output and load_workbook(target).sheetnames[0] == "About"
    entry = session.exec(
        select(AuditEvent).where(AuditEvent.action == "export").order_by(AuditEvent.id.desc())
    ).first()
    assert entry.username == "cli:maria" and entry.user_id is None
    assert not list(tmp_path.glob("*.part"))


def test_cli_export_refuses_bad_input_in_one_line(session, tmp_path):
    result = CliRunner().invoke(app, ["export", "--from", "2026-1x", "-o", str(tmp_path / "x.csv")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "is not a month" in result.output
    result = CliRunner().invoke(app, ["export", "--from", "2026-01", "-f", "docx"])
    assert result.exit_code == 2 and "unknown format 'docx'" in result.output
    assert not list(tmp_path.iterdir())


def test_month_helpers():
    assert Month.parse("2026-12").next == Month(2027, 1)
    assert Month(2026, 3).survey_period.label == "Mar 2026"
    assert datetime(2026, 3, 1, tzinfo=UTC).month == Month.parse(" 2026-3 ").month
