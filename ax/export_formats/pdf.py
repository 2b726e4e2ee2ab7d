"""The PDF report: a header, then per section its note, a chart and its table (fpdf2, no matplotlib).

Charts are drawn with fpdf2's own shapes and always carry their numbers as text, so colour is
never the only signal; a hidden figure is drawn as the word "suppressed", never as a bar. A
report is read by people, so each table holds at most ``MAX_TABLE_ROWS`` rows (the CSV and XLSX
exports hold every row) and charts add up the rows as they stream past.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from fpdf import FPDF
from fpdf.fonts import FontFace

from ax.export_formats import header_lines, pages
from ax.export_sections import SUPPRESSED, Kind

if TYPE_CHECKING:
    from ax.export_sections import Column, Row, Section
    from ax.exports import Plan, Progress

MAX_TABLE_ROWS = 400
MAX_BARS = 16
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
INK = (33, 37, 41)
MUTED = (110, 110, 110)
BAR = (31, 78, 121)
LEVEL_COLOURS = {"Low": (170, 200, 225), "Elevated": (240, 173, 78), "High": (200, 60, 50)}
OCCUPANCY_CEILING = 85.0


@dataclass
class _Collected:
    """What one section contributes to the report: the first rows, the row count, chart sums."""

    section: Section
    rows: list[Row] = field(default_factory=list)
    count: int = 0
    sums: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(float)))
    latest: dict[str, Any] = field(default_factory=dict)


class _Report(FPDF):
    def __init__(self) -> None:
        super().__init__(orientation="L", unit="mm", format="A4")
        self.family = "Helvetica"
        regular, bold = FONT_DIR / "DejaVuSans.ttf", FONT_DIR / "DejaVuSans-Bold.ttf"
        if regular.exists() and bold.exists():  # any script; the built-in fonts are Latin-1 only
            self.add_font("DejaVu", "", str(regular))
            self.add_font("DejaVu", "B", str(bold))
            self.family = "DejaVu"
        self.set_auto_page_break(True, margin=14)
        self.set_title("AX HR summary")

    def text_of(self, value: str) -> str:
        return value if self.family == "DejaVu" else value.encode("latin-1", "replace").decode("latin-1")

    def footer(self) -> None:
        self.set_y(-10)
        self.set_font(self.family, "", 7)
        self.set_text_color(*MUTED)
        self.cell(0, 5, self.text_of(f"AX HR summary · page {self.page_no()}"), align="R")


def write_pdf(plan: Plan, sections: Sequence[Section], out: BinaryIO, progress: Progress) -> int:
    collected = {section.key: _Collected(section) for section in sections}
    for section, page in pages(sections, progress):
        _collect(collected[section.key], page)
    pdf = _Report()
    pdf.add_page()
    pdf.set_text_color(*INK)
    pdf.set_font(pdf.family, "B", 18)
    pdf.cell(0, 10, "AX HR summary", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(pdf.family, "", 10)
    for key, value in header_lines(plan):
        pdf.cell(0, 5.5, pdf.text_of(f"{key}: {value}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_text_color(*MUTED)
    pdf.multi_cell(
        0,
        4.5,
        pdf.text_of(
            f'Aggregates only. Figures reading "{SUPPRESSED}" are hidden by the privacy rules (small groups, '
            "and the groups next to them so they cannot be worked out); the Note column says why."
        ),
    )
    for item in collected.values():
        _section(pdf, item)
    pdf.output(out)
    return sum(item.count for item in collected.values())


def _collect(item: _Collected, page: list[Row]) -> None:
    item.count += len(page)
    room = MAX_TABLE_ROWS - len(item.rows)
    if room > 0:
        item.rows.extend(page[:room])
    names = [c.name for c in item.section.columns]
    for row in page:
        values = dict(zip(names, row, strict=True))
        if item.section.key == "workload":
            item.sums["Contacts"][values["Month"]] += values["Contacts"] or 0
            if values["Occupancy %"] is not None:
                item.latest.setdefault("month", values["Month"])
                if values["Month"] >= item.latest["month"]:
                    if values["Month"] > item.latest["month"]:
                        item.latest = {"month": values["Month"]}
                    item.latest[values["Team"]] = values["Occupancy %"]
        elif item.section.key == "risk" and values["Low"] != SUPPRESSED:
            for level in LEVEL_COLOURS:
                item.sums[values["Month"]][level] += values[level]
        elif item.section.key == "survey":
            item.latest.setdefault("order", [])
            if values["Month"] >= item.latest.get("month", ""):
                if values["Month"] > item.latest.get("month", ""):
                    item.latest = {"month": values["Month"], "order": []}
                item.latest["order"].append((values["Group"], values["WHO-5 mean (0-100)"]))


def _section(pdf: _Report, item: _Collected) -> None:
    section = item.section
    pdf.add_page()
    pdf.set_text_color(*INK)
    pdf.set_font(pdf.family, "B", 14)
    pdf.cell(0, 8, pdf.text_of(section.title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(pdf.family, "", 8.5)
    pdf.set_text_color(*MUTED)
    pdf.multi_cell(0, 4.2, pdf.text_of(section.note), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    if item.count == 0:
        pdf.set_text_color(*INK)
        pdf.set_font(pdf.family, "", 10)
        message = (
            "No actions recorded for these teams and months; leads record them on their team page."
            if section.key == "actions"
            else "No data for these teams and months."
        )
        pdf.cell(0, 6, pdf.text_of(message), new_x="LMARGIN", new_y="NEXT")
        return
    _chart(pdf, item)
    _table(pdf, section.columns, item.rows)
    if item.count > len(item.rows):
        pdf.set_font(pdf.family, "", 8)
        pdf.set_text_color(*MUTED)
        pdf.cell(
            0,
            6,
            f"First {len(item.rows)} of {item.count} rows; the CSV and XLSX exports hold them all.",
            new_x="LMARGIN",
            new_y="NEXT",
        )


def _chart(pdf: _Report, item: _Collected) -> None:
    key = item.section.key
    if key == "workload":
        months = sorted(item.sums["Contacts"])
        _bars(
            pdf,
            "Contacts per month, all teams in the export",
            [(m, item.sums["Contacts"][m]) for m in months],
        )
        teams = sorted((t, v) for t, v in item.latest.items() if t != "month")
        if teams:
            _bars(
                pdf,
                f"Occupancy % by team, {item.latest['month']} (ceiling {OCCUPANCY_CEILING:.0f}%)",
                teams,
                reference=OCCUPANCY_CEILING,
                scale_max=100.0,
            )
    elif key == "risk" and item.sums:
        _stacked(pdf, "Agents by highest risk level per month (teams with counts shown)", item.sums)
    elif key == "survey" and item.latest.get("order"):
        _bars(
            pdf, f"WHO-5 mean (0-100) by group, {item.latest['month']}", item.latest["order"], scale_max=100.0
        )


def _bars(
    pdf: _Report,
    title: str,
    items: list[tuple[str, Any]],
    *,
    reference: float | None = None,
    scale_max: float | None = None,
) -> None:
    """Horizontal bars, each labelled with its value; a hidden value is written, not drawn."""
    items = items[:MAX_BARS]
    numbers = [v for _, v in items if isinstance(v, int | float)]
    top = scale_max or (max(numbers) if numbers else 1.0) or 1.0
    label_w, bar_w, row_h = 60.0, 150.0, 5.2
    _chart_title(pdf, title)
    x0 = pdf.l_margin
    for label, value in items:
        _room(pdf, row_h)
        y = pdf.get_y()
        pdf.set_font(pdf.family, "", 8)
        pdf.set_text_color(*INK)
        pdf.set_xy(x0, y)
        pdf.cell(label_w - 2, row_h, pdf.text_of(str(label))[:40], align="R")
        if isinstance(value, int | float):
            width = max(0.4, bar_w * min(float(value), top) / top)
            pdf.set_fill_color(*BAR)
            pdf.rect(x0 + label_w, y + 0.8, width, row_h - 1.6, style="F")
            pdf.set_xy(x0 + label_w + width + 1.5, y)
            pdf.cell(30, row_h, _text(value, Kind.number))
        else:
            pdf.set_text_color(*MUTED)
            pdf.set_xy(x0 + label_w, y)
            pdf.cell(60, row_h, SUPPRESSED if value == SUPPRESSED else "no data")
        pdf.set_y(y + row_h)
    if reference is not None:
        x = x0 + label_w + bar_w * reference / top
        pdf.set_draw_color(*LEVEL_COLOURS["High"])
        bottom = pdf.get_y()
        pdf.set_dash_pattern(dash=1, gap=1)
        pdf.line(x, bottom - row_h * len(items), x, bottom)
        pdf.set_dash_pattern()
    pdf.ln(3)


def _stacked(pdf: _Report, title: str, sums: dict[str, dict[str, float]]) -> None:
    """One bar per month split by level; every part is named with its count beside the bar."""
    months = sorted(sums)[-MAX_BARS:]
    top = max(sum(sums[m].values()) for m in months) or 1.0
    label_w, bar_w, row_h = 25.0, 140.0, 5.2
    _chart_title(pdf, title)
    x0 = pdf.l_margin
    for month in months:
        _room(pdf, row_h)
        y = pdf.get_y()
        pdf.set_font(pdf.family, "", 8)
        pdf.set_text_color(*INK)
        pdf.set_xy(x0, y)
        pdf.cell(label_w - 2, row_h, month, align="R")
        x = x0 + label_w
        for level, colour in LEVEL_COLOURS.items():
            width = bar_w * sums[month][level] / top
            if width > 0:
                pdf.set_fill_color(*colour)
                pdf.rect(x, y + 0.8, width, row_h - 1.6, style="F")
                x += width
        pdf.set_xy(x + 1.5, y)
        pdf.cell(90, row_h, " · ".join(f"{level} {sums[month][level]:.0f}" for level in LEVEL_COLOURS))
        pdf.set_y(y + row_h)
    pdf.ln(3)


def _chart_title(pdf: _Report, title: str) -> None:
    _room(pdf, 14)
    pdf.set_font(pdf.family, "B", 9)
    pdf.set_text_color(*INK)
    pdf.cell(0, 6, pdf.text_of(title), new_x="LMARGIN", new_y="NEXT")


def _room(pdf: _Report, height: float) -> None:
    if pdf.get_y() + height > pdf.h - pdf.b_margin:
        pdf.add_page()


def _table(pdf: _Report, columns: Sequence[Column], rows: list[Row]) -> None:
    pdf.set_font(pdf.family, "", 7 if len(columns) > 8 else 8)
    pdf.set_text_color(*INK)
    pdf.set_fill_color(255, 255, 255)
    pdf.set_draw_color(200, 200, 200)
    widths = [3.0 if c.name in ("Note", "Action") else 1.6 if c.kind is Kind.text else 1.0 for c in columns]
    heading = FontFace(emphasis="BOLD", color=(255, 255, 255), fill_color=BAR)
    with pdf.table(
        col_widths=widths,
        headings_style=heading,
        line_height=3.8,
        text_align=["LEFT" if c.kind is Kind.text else "RIGHT" for c in columns],
        first_row_as_headings=True,
    ) as table:
        header = table.row()
        for column in columns:
            header.cell(pdf.text_of(column.name))
        for row in rows:
            cells = table.row()
            for value, column in zip(row, columns, strict=True):
                cells.cell(pdf.text_of(_text(value, column.kind)))


def _text(value: Any, kind: Kind) -> str:
    if value is None:
        return "–" if kind is not Kind.text else ""
    if isinstance(value, float):
        return (
            f"{value:,.0f}" if kind is Kind.count or (value.is_integer() and value > 999) else f"{value:,.1f}"
        )
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
