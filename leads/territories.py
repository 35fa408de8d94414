"""Which team's territory a lead's hospital lies in (L10).

A territory is owned by a team and made of areas: a whole city, a district of a city (matched
against the hospital's address, e.g. 「西湖」 in 「浙江省杭州市西湖区…」) or single hospitals. The most
specific area wins: hospital, then district, then city. A lead whose hospital is not in the master
data is placed by the city (and district) its free-text hospital name mentions.

The live path reads only the areas that can match this lead (one query); the simulation builds the
same index from history (`as_of`) and matches in memory.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db.models import F, Q, Value

from .routing_models import Territory, TerritoryArea

HOSPITAL, DISTRICT, CITY = "hospital", "district", "city"


@dataclass(frozen=True)
class TerritoryMatch:
    team_ids: frozenset[int]
    names: tuple[str, ...]
    level: str  # hospital | district | city

    def as_json(self) -> dict:
        return {"name": "、".join(self.names), "team_ids": sorted(self.team_ids), "level": self.level}


@dataclass(frozen=True)
class AreaRow:
    hospital_id: int | None
    city: str
    district: str
    territory: str
    team_id: int


class TerritoryIndex:
    """Areas by hospital and by city, matched in memory."""

    def __init__(self, rows: list[AreaRow]) -> None:
        self.by_hospital: dict[int, list[AreaRow]] = defaultdict(list)
        self.by_city: dict[str, list[AreaRow]] = defaultdict(list)
        for row in rows:
            if row.hospital_id:
                self.by_hospital[row.hospital_id].append(row)
            elif row.city:
                self.by_city[row.city].append(row)

    def match(self, hospital_id: int | None, city: str, text: str) -> TerritoryMatch | None:
        """`city` and `text` (address, else the hospital's name as typed) of the lead's hospital."""
        if hospital_id and self.by_hospital.get(hospital_id):
            return _match(self.by_hospital[hospital_id], HOSPITAL)
        cities = [city] if city else [name for name in self.by_city if name and name in text]
        rows = [row for name in cities for row in self.by_city.get(name, ())]
        in_district = [row for row in rows if row.district and row.district in text]
        if in_district:
            return _match(in_district, DISTRICT)
        whole_city = [row for row in rows if not row.district]
        return _match(whole_city, CITY) if whole_city else None


def _match(rows: list[AreaRow], level: str) -> TerritoryMatch:
    return TerritoryMatch(frozenset(row.team_id for row in rows), tuple(sorted({row.territory for row in rows})), level)


def _hospital_text(hospital, hospital_name: str) -> tuple[int | None, str, str]:
    if hospital is not None:
        return hospital.pk, (hospital.city or "").removesuffix("市"), f"{hospital.address} {hospital.name}"
    return None, "", hospital_name or ""


def territory_for(hospital=None, hospital_name: str = "") -> TerritoryMatch | None:
    """The live territory of a hospital (or of a hospital name typed by the customer): one query
    over the areas that can match it."""
    hospital_id, city, text = _hospital_text(hospital, hospital_name)
    if not hospital_id and not text:
        return None
    areas = TerritoryArea.objects.filter(territory__active=True)
    if hospital_id:
        areas = areas.filter(Q(hospital_id=hospital_id) | Q(hospital__isnull=True, city=city))
    else:
        areas = areas.filter(hospital__isnull=True).exclude(city="").alias(text=Value(text)).filter(text__contains=F("city"))
    rows = [AreaRow(*values) for values in areas.values_list("hospital_id", "city", "district", "territory__name", "territory__team_id")]
    return TerritoryIndex(rows).match(hospital_id, city, text)


def index_as_of(moment: datetime) -> TerritoryIndex:
    """Territories as they were at `moment` (simple_history), for replaying past leads."""
    territories = {
        row.id: row for row in Territory.history.as_of(moment) if row.active
    }
    rows = [
        AreaRow(area.hospital_id, area.city, area.district, territories[area.territory_id].name, territories[area.territory_id].team_id)
        for area in TerritoryArea.history.as_of(moment)
        if area.territory_id in territories
    ]
    return TerritoryIndex(rows)


def match_lead(index: TerritoryIndex, hospital, hospital_name: str) -> TerritoryMatch | None:
    hospital_id, city, text = _hospital_text(hospital, hospital_name)
    return index.match(hospital_id, city, text)


# --- Import from Excel (admin) ---------------------------------------------------------------

IMPORT_COLUMNS = {"辖区": "territory", "团队": "team", "城市": "city", "区县": "district", "医院": "hospital"}
IMPORT_MAX_ROWS = 20_000


class TerritoryImportError(Exception):
    """The file as a whole cannot be read (named in Chinese, with what to do)."""


@dataclass
class ImportOutcome:
    errors: list[str]
    territories_created: int = 0
    areas_created: int = 0
    unchanged: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors


def read_territory_file(fileobj, name: str) -> list[tuple[int, dict[str, str]]]:
    """Rows of an .xlsx (first sheet) or .csv (UTF-8 or GBK) with the header 辖区 | 团队 | 城市 |
    区县 | 医院 → [(line number, {field: text})]."""
    import csv
    import io

    lower = name.lower()
    if lower.endswith(".csv"):
        raw = fileobj.read()
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = raw.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise TerritoryImportError(f"文件「{name}」不是 UTF-8 或 GBK 编码的 CSV，请另存为 CSV UTF-8 后重试。")
        rows = list(csv.reader(io.StringIO(text)))
    elif lower.endswith(".xlsx"):
        from openpyxl import load_workbook

        try:
            sheet = load_workbook(fileobj, read_only=True, data_only=True).worksheets[0]
            rows = [["" if cell is None else str(cell) for cell in row] for row in sheet.iter_rows(values_only=True, max_row=IMPORT_MAX_ROWS + 1)]
        except Exception as exc:  # openpyxl raises many kinds for a broken file
            raise TerritoryImportError(f"文件「{name}」不是有效的 Excel .xlsx 文件，或已损坏。") from exc
    else:
        raise TerritoryImportError(f"文件「{name}」的格式不支持：请上传 .xlsx 或 .csv。")
    if not rows:
        raise TerritoryImportError(f"文件「{name}」是空的。")
    header = [str(cell).strip() for cell in rows[0]]
    mapping = {index: IMPORT_COLUMNS[title] for index, title in enumerate(header) if title in IMPORT_COLUMNS}
    missing = [title for title, key in IMPORT_COLUMNS.items() if key in ("territory", "team") and key not in mapping.values()]
    if missing:
        raise TerritoryImportError(f"文件「{name}」第 1 行缺少表头：{'、'.join(missing)}（需要 辖区、团队，以及 城市/区县 或 医院）。")
    result = []
    for line, row in enumerate(rows[1:], start=2):
        values = {key: (str(row[index]).strip() if index < len(row) else "") for index, key in mapping.items()}
        if any(values.values()):
            result.append((line, values))
    return result


@dataclass
class _Known:
    """What the file's lines are checked against (read once)."""

    teams: dict
    territories: dict
    hospitals: dict
    taken: dict  # (hospital id, city, district) → territory name
    wanted_team: dict  # territory name → the team the file gives it first


def _check_line(values: dict[str, str], known: _Known) -> tuple[list[str], tuple, object, str]:
    """→ (problems, area key, team, territory name) for one line."""
    name, team_name = values.get("territory", ""), values.get("team", "")
    city, district = values.get("city", "").removesuffix("市"), values.get("district", "")
    hospital_name = values.get("hospital", "")
    problems = []
    if not name:
        problems.append("辖区为空")
    team = known.teams.get(team_name)
    if team is None:
        problems.append(f"团队「{team_name}」不存在" if team_name else "团队为空")
    existing = known.territories.get(name)
    if existing is not None and team is not None and existing.team_id != team.pk:
        problems.append(f"辖区「{name}」已属于「{existing.team.name}」")
    if known.wanted_team.setdefault(name, team_name) != team_name:
        problems.append(f"辖区「{name}」在文件中对应了不同的团队")
    hospital = known.hospitals.get(hospital_name) if hospital_name else None
    if hospital_name and hospital is None:
        problems.append(f"医院「{hospital_name}」不在医院主数据中")
    if hospital_name and (city or district):
        problems.append("按医院划分时城市、区县留空")
    if not hospital_name and not city:
        problems.append("请填写城市，或填写医院")
    key = (hospital.pk if hospital else None, "" if hospital else city, "" if hospital else district)
    owner = known.taken.get(key)
    if owner is not None and owner != name:
        problems.append(f"该范围已属于辖区「{owner}」")
    return problems, key, team, name


def territories_import(rows: list[tuple[int, dict[str, str]]], *, by) -> ImportOutcome:
    """All rows or none: every line is checked first; any error → nothing is written and every
    bad line is named. Existing areas of the same territory are left as they are (re-importing the
    same file changes nothing)."""
    from django.db import transaction

    from salesops.models import Hospital, Team

    known = _Known(
        teams={team.name: team for team in Team.objects.all()},
        territories={territory.name: territory for territory in Territory.objects.select_related("team")},
        hospitals={hospital.name: hospital for hospital in Hospital.objects.only("pk", "name")},
        taken={(a.hospital_id, a.city, a.district): a.territory.name for a in TerritoryArea.objects.select_related("territory")},
        wanted_team={},
    )
    outcome, plan = ImportOutcome([]), []
    for line, values in rows:
        problems, key, team, name = _check_line(values, known)
        if problems:
            outcome.errors.append(f"第 {line} 行：" + "；".join(problems))
        elif known.taken.get(key) == name:
            outcome.unchanged += 1
        else:
            known.taken[key] = name
            plan.append((name, team, key))
    if outcome.errors:
        return outcome
    with transaction.atomic():
        for name, team, (hospital_id, city, district) in plan:
            territory = known.territories.get(name)
            if territory is None:
                territory = Territory(name=name, team=team)
                territory._history_user, territory._change_reason = by, "Excel 导入"
                territory.save()
                known.territories[name] = territory
                outcome.territories_created += 1
            area = TerritoryArea(territory=territory, hospital_id=hospital_id, city=city, district=district)
            area.full_clean()
            area._history_user, area._change_reason = by, "Excel 导入"
            area.save()
            outcome.areas_created += 1
    return outcome
