"""A period's case report as a file (``python -m bot report``): CSV or an Excel workbook.

The rows, counts and medians are ``handlers.cases.reports``', the same as ``/thongke``. CSV is UTF-8 with a
BOM (Excel then reads the Vietnamese right); the .xlsx workbook (openpyxl, imported only to write one) has
the cases and a summary sheet. Times are in the campaign's time zone; contacts are always masked.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from handlers.cases.reports import COLUMNS, EVERYTHING, HEADERS, Period, Scope, load_rows, summarise, summary_sections
from handlers.config import AppConfig
from handlers.text_safety import spreadsheet_cell
from storage.db import UnitOfWork

Records = list[dict[str, Any]]
Rows = list[tuple[str, Any]]


@dataclass(frozen=True)
class PeriodReport:
    records: Records  # one row per case (``COLUMNS``)
    heading: Rows  # what the report is: the department, the period, its time zone, when made, the total
    sections: list[tuple[str, Rows]]  # titled counts and medians


async def period_report(
    uow: UnitOfWork, config: AppConfig, period: Period, now: datetime, scope: Scope = EVERYTHING
) -> PeriodReport:
    """Every case (in ``scope``) submitted in ``period``, and the summary of them."""
    rows = await load_rows(uow, scope, period=period)
    summary = summarise(rows, config)
    heading: Rows = [
        ("Báo cáo phản ánh của người tiêu dùng", config.department.name),
        ("Khoảng thời gian", period.label),
        ("Từ", period.start.astimezone(period.zone)),
        ("Đến (không kể)", period.end.astimezone(period.zone)),
        ("Múi giờ", period.zone.key),
        ("Lập lúc", now.astimezone(period.zone)),
        ("Tổng số phản ánh", summary.total),
    ]
    records = [row.record(config, period.zone) for row in rows]
    return PeriodReport(records, heading, summary_sections(summary, with_minutes=True))


def default_file_name(period: Period, fmt: str) -> str:
    """``bao-cao-phan-anh_2024-11-27_2024-11-28.xlsx``: the period's first and last day."""
    first = period.start.astimezone(period.zone).date()
    last = (period.end - timedelta(microseconds=1)).astimezone(period.zone).date()
    return f"bao-cao-phan-anh_{first:%Y-%m-%d}_{last:%Y-%m-%d}.{fmt}"


def _cell(value: Any) -> Any:
    """A CSV cell: times as ISO 8601 with their offset, nothing as an empty cell, never a formula."""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return "" if value is None else spreadsheet_cell(value)


def write_csv(records: Records, handle: TextIO) -> None:
    handle.write("\ufeff")  # the BOM: Excel opens the file as UTF-8
    writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writerow(HEADERS)
    writer.writerows({key: _cell(value) for key, value in record.items()} for record in records)


def _naive(value: Any) -> Any:
    """An Excel cell: local wall-clock time (Excel has no time zones); text never a formula."""
    return value.replace(tzinfo=None) if isinstance(value, datetime) else spreadsheet_cell(value)


def write_xlsx(report: PeriodReport, path: Path) -> None:
    """A workbook: sheet «Phản ánh» (one row per case), sheet «Tổng hợp» (the period, counts and medians)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    bold = Font(bold=True)
    book = Workbook()
    sheet = book.active
    sheet.title = "Phản ánh"
    sheet.append([HEADERS[key] for key in COLUMNS])
    for cell in sheet[1]:
        cell.font = bold
    sheet.freeze_panes = "B2"
    for record in report.records:
        # Excel has no time zones: local wall-clock times, the zone named on the summary sheet.
        sheet.append([_naive(record[key]) for key in COLUMNS])
    for index, key in enumerate(COLUMNS, start=1):
        letter = get_column_letter(index)
        if key.endswith("_at"):
            for cell in sheet[letter][1:]:
                cell.number_format = "dd/mm/yyyy hh:mm"
        widest = max([len(HEADERS[key]), *(len(str(record[key] or "")) for record in report.records)])
        sheet.column_dimensions[letter].width = min(max(widest, 10), 60) + 2
    summary = book.create_sheet("Tổng hợp")
    for label, value in report.heading:
        summary.append([label, _naive(value)])
        summary.cell(summary.max_row, 1).font = bold
        if isinstance(value, datetime):
            summary.cell(summary.max_row, 2).number_format = "dd/mm/yyyy hh:mm"
    for title, rows in report.sections:
        summary.append([])
        summary.append([title])
        summary.cell(summary.max_row, 1).font = bold
        for label, value in rows:
            summary.append([spreadsheet_cell(label), _naive(value)])
    summary.column_dimensions["A"].width = 52
    summary.column_dimensions["B"].width = 60
    book.save(path)
