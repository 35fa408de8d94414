"""The lead-to-cash pages in English (UI language: Chinese by default, English available).

The catalogue checks here are shared with tests/dashboards/test_i18n.py."""

from __future__ import annotations

import ast
import gettext
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone, translation

from .helpers import make_quote, make_won_deal, plan_of
from .statement_files import Line, corporate_csv

pytestmark = pytest.mark.django_db

ROOT = Path(settings.BASE_DIR)
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(autouse=True)
def _back_to_chinese():
    yield
    translation.activate(settings.LANGUAGE_CODE)


def english(client) -> None:
    """The footer switcher's cookie (Accept-Language is deliberately ignored)."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


def headings_and_nav(html: str) -> str:
    """The text of the page title, the main navigation, the headings and the table headers."""
    parts = re.findall(r"<(title|nav|h1|h2|h3|th)\b[^>]*>(.*?)</\1>", html, flags=re.S)
    return " | ".join(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", inner)).strip() for _tag, inner in parts)


def leftover_chinese(html: str, data: list[str]) -> list[str]:
    text = headings_and_nav(html)
    for value in sorted(data, key=len, reverse=True):
        text = text.replace(value, "")
    return sorted(set(CJK.findall(text)))


def po_entries(po: Path) -> list[dict]:
    """Each entry of a .po file: its flags, msgid(s) and msgstr(s)."""
    entries = []
    for block in po.read_text(encoding="utf-8").split("\n\n"):
        entry: dict = {"flags": "", "fields": {}}
        key = None
        for line in block.splitlines():
            if line.startswith("#,"):
                entry["flags"] += line
            elif match := re.match(r"^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d\])?) (\".*\")$", line):
                key = match.group(1)
                entry["fields"][key] = ast.literal_eval(match.group(2))
            elif line.startswith('"') and key:
                entry["fields"][key] += ast.literal_eval(line)
        if "msgid" in entry["fields"]:
            entries.append(entry)
    return entries


def assert_catalogue_complete(folder: Path) -> None:
    """Every entry translated, none fuzzy, and the committed .mo compiled from this .po."""
    po, mo = folder / "django.po", folder / "django.mo"
    assert po.exists() and mo.exists()
    entries = [e for e in po_entries(po) if e["fields"]["msgid"]]
    assert len(entries) > 50
    assert [e["fields"]["msgid"] for e in entries if "fuzzy" in e["flags"]] == []
    empty = [e["fields"]["msgid"] for e in entries if not all(v for k, v in e["fields"].items() if k.startswith("msgstr"))]
    assert empty == []
    with mo.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)._catalog  # noqa: SLF001 - the compiled entries
    for e in entries:
        f = e["fields"]
        key = f["msgid"] if "msgctxt" not in f else f"{f['msgctxt']}\x04{f['msgid']}"
        if "msgid_plural" in f:
            assert compiled.get((key, 0)) == f["msgstr[0]"], key
        else:
            assert compiled.get(key) == f["msgstr"], key


def test_cash_catalogue_has_no_empty_or_fuzzy_entries():
    assert_catalogue_complete(ROOT / "leads" / "cash" / "locale" / "en" / "LC_MESSAGES")


@pytest.fixture
def worked(alice, customer_a, hip, screw):
    """A sent quote and a won deal with two instalments for alice's customer."""
    make_quote(customer_a, alice, [(screw, 2, "0")], send=True)
    return make_won_deal(customer_a, alice, hip, plan=plan_of(("16159", -5), ("16159", 25)))


def test_quote_deal_and_receivable_pages_are_english(client, alice, worked, customer_a, hip, screw):
    """C1/C2: the reps' lead-to-cash pages speak English once the person picks it."""
    client.force_login(alice)
    english(client)
    data = [customer_a.name, customer_a.hospital.name, hip.name, screw.name, alice.get_full_name(), "简体中文"]
    expected = {
        "/cash/": "Quotes",
        "/cash/deals/": "Deals & payments",
        "/cash/receivables/": "Receivables",
        f"/cash/deals/{worked.pk}/": "Payment progress",
        f"/cash/quotes/{worked.quote_version.quote_id}/": "Quote",
    }
    for url, heading in expected.items():
        html = client.get(url).content.decode()
        assert '<html lang="en">' in html, url
        assert re.search(rf"<h[12][^>]*>\s*{re.escape(heading)}\b", html), (url, headings_and_nav(html))
        assert leftover_chinese(html, data) == [], (url, headings_and_nav(html))


def test_review_queue_is_english(client, upload, olga, account, alice, customer_a, hip):
    """C3: the payment matching queue and its proposals in English."""
    make_won_deal(customer_a, alice, hip, plan=plan_of(("32318", 10)))

    upload(olga, account, "流水.csv", corporate_csv([Line(timezone.localdate(), credit=Decimal("32318.00"), payer="浙江省人民医院（财务处）", reference="R1")]))
    english(client)
    html = client.get("/cash/review/").content.decode()
    assert "<h1>Payment matching</h1>" in html and "High confidence" in html
    assert "Unique amount, known payer" in html and "Confirm and record payment" in html
    row_url = re.search(r'href="(/cash/review/\d+/)"', html).group(1)
    row = client.get(row_url).content.decode()
    assert "<h2>Match proposals</h2>" in row and "Allocate by hand" in row
    assert leftover_chinese(row, ["浙江省人民医院（财务处）", account.name, "流水.csv", "简体中文"]) == []
    assert leftover_chinese(html, ["浙江省人民医院（财务处）", customer_a.hospital.name, "简体中文"]) == []
    statements = client.get("/cash/statements/").content.decode()
    assert "Upload statement" in statements and leftover_chinese(statements, [account.name, "流水.csv", "简体中文"]) == []


def test_cash_pages_stay_chinese_by_default(client, alice, worked):
    client.force_login(alice)
    html = client.get("/cash/deals/", headers={"Accept-Language": "en-US,en;q=0.9"}).content.decode()
    assert "<h1>成交与回款</h1>" in html
