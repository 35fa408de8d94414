"""The scoring pages in English (UI language: Chinese by default, English available)."""

from __future__ import annotations

import re

from .test_views import NOW, frozen_now, worked_deal  # noqa: F401 - fixtures

CJK = re.compile(r"[\u4e00-\u9fff]")


def _visible_text(html: str) -> str:
    """The page's own content (the navigation belongs to every app)."""
    html = html[html.index("<main") : html.index("</main>")]
    # The shared audit block (salesops/audit.py) is the foundation's to translate.
    html = re.sub(r'<section class="card history".*?</section>', " ", html, flags=re.S)
    html = re.sub(r"<(script|style|title)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def test_scoring_pages_have_no_chinese_left_in_english(client, worked_deal, bob, customer):
    """S1–S4: every label on the scoring pages is translated; only data (names) stays Chinese."""
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    client.force_login(bob)
    data = ["简体中文", "鲍勃", "艾丽", customer.name, customer.hospital.name, bob.rep.team.name, "院长"]
    contribution = worked_deal.contributions.filter(rep=bob).first()
    for url in (
        "/scoring/",
        "/scoring/board/",
        f"/scoring/board/drill/?customer={customer.pk}",
        "/scoring/statement/",
        "/scoring/splits/",
        f"/scoring/splits/{worked_deal.pk}/",
        f"/scoring/activities/{contribution.activity_id}/",
    ):
        text = _visible_text(client.get(url).content.decode())
        for value in data:
            text = text.replace(value, "")
        assert CJK.findall(text) == [], (url, sorted(set(CJK.findall(text))))
    board = client.get("/scoring/board/").content.decode()
    assert "Collaboration board" in board and "Needs diagnosis" in board and "Q2 2026" in board
