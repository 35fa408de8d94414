"""The home screen per role (U1): today's numbers that matter, one card each, contributed by each
app's `home.py` (`cards(user, now) -> list[HomeCard]`), the way `nav.py` contributes menu items —
so no app reaches into another's tables. Each app may also answer the global search box
(`search(user, query) -> list[SearchHit]`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from importlib import import_module

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from .context_processors import NAV_APPS


@dataclass(frozen=True)
class HomeCard:
    label: str
    value: object
    url_name: str = ""
    query: str = ""  # appended to the URL ("?state=overdue")
    hint: str = ""
    tone: str = ""  # danger | warning | success | "" — the card's colour
    order: int = 100
    countdown_to: datetime | None = None  # shown as a live "还剩 mm:ss" (acknowledgement deadline)

    @property
    def url(self) -> str:
        if not self.url_name:
            return ""
        try:
            return reverse(self.url_name) + self.query
        except NoReverseMatch:
            return ""


@dataclass(frozen=True)
class SearchHit:
    kind: str  # 客户, 医院, 线索 …
    title: str
    url: str
    detail: str = ""


def _modules(name: str):
    for app in NAV_APPS:
        try:
            yield import_module(f"{app}.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"{app}.{name}":
                raise


def home_cards(user, now: datetime) -> list[HomeCard]:
    cards: list[HomeCard] = []
    for module in _modules("home"):
        if hasattr(module, "cards"):
            cards.extend(module.cards(user, now))
    return sorted(cards, key=lambda card: card.order)


SEARCH_LIMIT = 8  # per kind: the box finds, the lists filter


def search_all(user, query: str) -> list[SearchHit]:
    hits: list[SearchHit] = []
    for module in _modules("home"):
        if hasattr(module, "search"):
            hits.extend(module.search(user, query, SEARCH_LIMIT))
    return hits


# salesops is itself in NAV_APPS: its `home` module is this one.
def search(user, query: str, limit: int) -> list[SearchHit]:
    from django.db.models import Q

    from .models import Customer, Hospital
    from .search import search as text_search

    hits = [
        SearchHit(str(_("客户")), customer.name, reverse("customers:detail", args=[customer.pk]), customer.hospital.name)
        for customer in Customer.objects.visible_to(user)
        .filter(Q(pk__in=text_search(Customer, query)) | Q(hospital__in=text_search(Hospital, query)))  # K2
        .select_related("hospital")
        .order_by("name")[:limit]
    ]
    hits += [
        SearchHit(str(_("医院")), hospital.name, reverse("hospitals:detail", args=[hospital.pk]), hospital.city)
        for hospital in Hospital.objects.filter(pk__in=text_search(Hospital, query)).order_by("name")[:limit]
    ]
    return hits
