"""CSV and XLSX writers: both stream rows out as the sections yield them, so memory stays bounded.

CSV: one file, the sections one after another, each as a ``# title`` line, a header row, its
rows and a blank line, after a short header block (scope, months, who, when). XLSX: an "About"
sheet with the same header and each section's note, then one formatted sheet per section,
written in openpyxl's write-only mode (rows go to disk as they come).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, BinaryIO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from ax.export_formats import header_lines, neutralise, pages
from ax.export_sections import SUPPRESSED, Kind

if TYPE_CHECKING:
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

    from ax.export_sections import Section
    from ax.exports import Plan, Progress

SHEET_NAMES = {
    "workload": "Workload",
    "risk": "Risk levels",
    "survey": "Survey results",
    "responses": "Response rates",
    "actions": "Actions taken",
}
NUMBER_FORMATS = {Kind.count: "#,##0", Kind.number: "#,##0.0", Kind.percent: "0.0"}
WIDTHS = {Kind.text: 22, Kind.count: 12, Kind.number: 13, Kind.percent: 13}
HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="1F4E79")
HIDDEN_FONT = Font(italic=True, color="7F7F7F")


def write_csv(plan: Plan, sections: Sequence[Section], out: BinaryIO, progress: Progress) -> int:
    """UTF-8 with a byte-order mark (so Excel reads accents right), written page by page."""
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=True)
    writer = csv.writer(text)
    writer.writerow(["# AX HR summary"])
    for key, value in header_lines(plan):
        writer.writerow([f"# {key}", neutralise(value)])
    current = None
    rows = 0
    for section, page in pages(sections, progress):
        if section is not current:
            writer.writerows(
                [[], [f"# {section.title}"], [f"# {section.note}"], [c.name for c in section.columns]]
            )
            current = section
        writer.writerows([neutralise(value) for value in row] for row in page)
        rows += len(page)
    text.flush()
    text.detach()  # leave ``out`` open for the caller
    return rows


def write_xlsx(plan: Plan, sections: Sequence[Section], out: BinaryIO, progress: Progress) -> int:
    """One formatted sheet per section: bold header, frozen first row, number formats, widths."""
    book = Workbook(write_only=True)
    about = book.create_sheet("About")
    about.column_dimensions["A"].width = 24
    about.column_dimensions["B"].width = 100
    about.append([_bold(about, "AX HR summary")])
    for key, value in header_lines(plan):
        about.append([key, _cell(about, value, Kind.text)])
    about.append([])
    about.append([_bold(about, "Section"), _bold(about, "What it shows")])
    for section in sections:
        about.append([SHEET_NAMES[section.key], section.note])
    about.append([])
    about.append(
        ["Hidden figures", f'Cells reading "{SUPPRESSED}" are hidden by the privacy rules; see Note.']
    )

    sheets: dict[str, WriteOnlyWorksheet] = {}
    rows = 0
    for section, page in pages(sections, progress):
        sheet = sheets.get(section.key)
        if sheet is None:
            sheet = sheets[section.key] = _section_sheet(book, section)
        for row in page:
            sheet.append(
                [_cell(sheet, value, column.kind) for value, column in zip(row, section.columns, strict=True)]
            )
        rows += len(page)
    book.save(out)
    return rows


def _section_sheet(book: Workbook, section: Section) -> WriteOnlyWorksheet:
    sheet = book.create_sheet(SHEET_NAMES[section.key])
    sheet.freeze_panes = "A2"
    for index, column in enumerate(section.columns, start=1):
        width = 60 if column.name == "Note" or column.name == "Action" else WIDTHS[column.kind]
        sheet.column_dimensions[get_column_letter(index)].width = max(width, len(column.name) + 2)
    header = []
    for column in section.columns:
        cell = WriteOnlyCell(sheet, column.name)
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        header.append(cell)
    sheet.append(header)
    return sheet


def _cell(sheet: WriteOnlyWorksheet, value: object, kind: Kind) -> WriteOnlyCell:
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)  # control characters XLSX cannot hold
    cell = WriteOnlyCell(sheet, neutralise(value))
    if value == SUPPRESSED:
        cell.font = HIDDEN_FONT
        cell.alignment = Alignment(horizontal="right")
    elif kind in NUMBER_FORMATS:
        cell.number_format = NUMBER_FORMATS[kind]
    return cell


def _bold(sheet: WriteOnlyWorksheet, text: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, text)
    cell.font = Font(bold=True)
    return cell
