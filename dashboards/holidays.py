"""Importing the State Council's annual 放假调休 notice (D6).

Ops paste the notice as published (国务院办公厅关于 YYYY 年部分节假日安排的通知) — or plain lines
such as ``2027-02-06 班`` / ``2027-02-10至2027-02-16 休`` — preview what was understood, and confirm:
every day becomes a `WorkdayOverride` (history-tracked) and the year counts as covered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db import transaction
from django.utils.translation import gettext as _

from .models import HolidayNotice, WorkdayOverride

CLAUSE_NAME = re.compile(r"^\s*[一二三四五六七八九十]+\s*[、.．]\s*([^：:]{1,8})[：:]")
CN_DATE = re.compile(r"(?:(\d{1,2})\s*月\s*)?(\d{1,2})\s*日(?:\s*[（(][^）)]*[）)])?")
CN_RANGE = re.compile(CN_DATE.pattern + r"\s*(至|到|—|-|～|~)\s*" + CN_DATE.pattern)
ISO_DATE = r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?"
ISO_LINE = re.compile(r"^\s*" + ISO_DATE + r"(?:\s*(?:至|到|—|～|~)\s*" + ISO_DATE + r")?\s*[,，\s]*(休|放假|班|上班)\s*(.*)$")
MAX_SPAN_DAYS = 15


@dataclass
class NoticeDay:
    day: date
    is_workday: bool
    note: str

    @property
    def weekday_label(self) -> str:
        return "一二三四五六日"[self.day.weekday()]


@dataclass
class ParsedNotice:
    year: int
    days: list[NoticeDay] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def holidays(self) -> list[NoticeDay]:
        return [d for d in self.days if not d.is_workday]

    @property
    def workdays(self) -> list[NoticeDay]:
        return [d for d in self.days if d.is_workday]


def _add(parsed: ParsedNotice, seen: dict, day: date, is_workday: bool, note: str, line_no: int) -> None:
    if day in seen and seen[day].is_workday != is_workday:
        parsed.errors.append(_("第 %(line)s 行：%(day)s 同时被写成放假和上班") % {"line": line_no, "day": day.isoformat()})
        return
    if day not in seen:
        seen[day] = NoticeDay(day, is_workday, note[:60])
        parsed.days.append(seen[day])


def _span(parsed: ParsedNotice, seen: dict, first: date, last: date, is_workday: bool, note: str, line_no: int) -> None:
    if last < first or (last - first).days > MAX_SPAN_DAYS:
        parsed.errors.append(_("第 %(line)s 行：日期范围 %(a)s 至 %(b)s 不合理") % {"line": line_no, "a": first.isoformat(), "b": last.isoformat()})
        return
    day = first
    while day <= last:
        _add(parsed, seen, day, is_workday, note, line_no)
        day += timedelta(days=1)


def _make(year: int, month: int, day: int, line_no: int, parsed: ParsedNotice) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        parsed.errors.append(_("第 %(line)s 行：%(m)s月%(d)s日 不是有效日期") % {"line": line_no, "m": month, "d": day})
        return None


def _sentence(parsed: ParsedNotice, seen: dict, text: str, name: str, line_no: int) -> None:
    """One sentence of a clause: "…至…放假调休" lists rest days, "…、…上班" make-up working days."""
    is_workday = "上班" in text
    if not is_workday and "放假" not in text and "休" not in text:
        return
    year = parsed.year
    month = None
    found = False
    position = 0
    while position < len(text):
        ranged = CN_RANGE.match(text, position) if not is_workday else None
        single = CN_DATE.match(text, position)
        if ranged:
            m1, d1, _sep, m2, d2 = ranged.groups()
            month = int(m1) if m1 else month
            if month is None:
                parsed.errors.append(_("第 %(line)s 行：日期缺少月份") % {"line": line_no})
                return
            start_month, end_month = month, int(m2) if m2 else month
            # 元旦 may start on the last days of December of the year before.
            start_year = year - 1 if end_month < start_month else year
            first = _make(start_year, start_month, int(d1), line_no, parsed)
            last = _make(year, end_month, int(d2), line_no, parsed)
            if first and last:
                _span(parsed, seen, first, last, False, name, line_no)
            month, found, position = end_month, True, ranged.end()
        elif single:
            m, d = single.groups()
            month = int(m) if m else month
            if month is None:
                parsed.errors.append(_("第 %(line)s 行：日期缺少月份") % {"line": line_no})
                return
            day = _make(year, month, int(d), line_no, parsed)
            if day:
                _add(parsed, seen, day, is_workday, name + (_("调休上班") if is_workday else ""), line_no)
            found, position = True, single.end()
        else:
            position += 1
    if not found:
        parsed.errors.append(_("第 %(line)s 行：写了“放假/上班”但没有找到日期") % {"line": line_no})


def parse_notice(text: str, year: int) -> ParsedNotice:
    """What the pasted notice (or date lines) says about `year`; `errors` name the line."""
    parsed = ParsedNotice(year)
    seen: dict[date, NoticeDay] = {}
    for line_no, line in enumerate((text or "").splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        iso = ISO_LINE.match(line)
        if iso:
            y1, m1, d1, y2, m2, d2, mark, note = iso.groups()
            first = _make(int(y1), int(m1), int(d1), line_no, parsed)
            last = _make(int(y2), int(m2), int(d2), line_no, parsed) if y2 else first
            if first and last:
                if last.year != year and first.year != year:
                    parsed.errors.append(_("第 %(line)s 行：日期不在 %(year)s 年") % {"line": line_no, "year": year})
                    continue
                _span(parsed, seen, first, last, mark in ("班", "上班"), note.strip(), line_no)
            continue
        clause = CLAUSE_NAME.match(line)
        name = clause.group(1).strip() if clause else ""
        body = line[clause.end():] if clause else line
        if not clause and not re.search(r"\d+\s*日", body):
            continue  # the notice's heading and closing paragraphs
        for sentence in re.split(r"[。；;]", body):
            if sentence.strip():
                _sentence(parsed, seen, sentence, name, line_no)
    parsed.days.sort(key=lambda d: d.day)
    if not parsed.days and not parsed.errors:
        parsed.errors.append(_("没有识别到任何放假或上班日期：请粘贴通知正文，或按“2027-01-01 休”逐行填写。"))
    return parsed


def holiday_notice_import(*, year: int, text: str, by) -> HolidayNotice:
    """Store the year's schedule: one `WorkdayOverride` per day (saved one by one: history), and
    the notice itself, which marks the year as covered. Re-importing replaces the year's days."""
    parsed = parse_notice(text, year)
    if parsed.errors:
        raise ValueError("; ".join(parsed.errors))
    with transaction.atomic():
        wanted = {d.day: d for d in parsed.days}
        for stale in WorkdayOverride.objects.filter(day__year=year).exclude(day__in=list(wanted)):
            stale._history_user = by
            stale.delete()
        for item in parsed.days:
            row = WorkdayOverride.objects.filter(day=item.day).first() or WorkdayOverride(day=item.day)
            if row.pk and (row.is_workday, row.note) == (item.is_workday, item.note):
                continue
            row.is_workday, row.note = item.is_workday, item.note
            row._history_user = by
            row.full_clean()
            row.save()
        notice = HolidayNotice.objects.filter(year=year).first() or HolidayNotice(year=year)
        notice.text, notice.imported_by = text, by
        from django.utils import timezone

        notice.imported_at = timezone.now()
        notice._history_user = by
        notice.full_clean()
        notice.save()
    return notice
