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
