from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: date | str, hour: int = 10, minute: int = 0) -> datetime:
    """An aware moment in Asia/Shanghai."""
    if isinstance(day, str):
        day = date.fromisoformat(day)
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI)


@pytest.fixture
def screen(db):
    from dashboards.models import TvScreen

    return TvScreen.objects.create(name="晨会大屏", location="杭州总部 3 楼")


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The KPI code caches settled per-deal facts; test databases reuse ids, so start clean."""
    from django.core.cache import cache

    from dashboards.kpis import kpi_cache

    cache.clear()
    kpi_cache().clear()
    yield
    cache.clear()
    kpi_cache().clear()
