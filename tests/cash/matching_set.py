"""A labelled set of incoming bank rows for measuring matching precision (C7), built from the demo's
hospital names (`salesops.demo._hospital_names`, the same 213 hospitals `seed_demo` creates) and the
ways Chinese hospitals really appear on statements: the legal name, the short name (邵逸夫医院 for
浙江大学医学院附属邵逸夫医院), a finance-office suffix, full-width characters, 市 dropped, a
distributor paying with our contract number in the 附言, equal instalments, partial payments, a
second payment from an account learned at the first confirmation, and payers who are not ours.

Everything is in memory (the matcher works on `OpenReceivable`s), so a test can assert the figure
and `make bench` can print it without a database.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from leads.cash.matching import Matcher, OpenReceivable, _account_key, normalise_name

TODAY = date(2026, 11, 20)
# Standard bundles (e.g. 2 × AK-HIP-01 incl. VAT): the same amount owed by many hospitals at once.
PACKAGES = [Decimal("32318.00"), Decimal("64636.00"), Decimal("11074.00"), Decimal("48477.00"), Decimal("22148.00")]


@dataclass
class LabelledRow:
    kind: str
    payer_name: str
    payer_account: str
    amount: Decimal
    memo: str
    booked_on: date
    expected: int | None  # the receivable the money is for; None: not ours, no proposal is right


def _short_names(name: str) -> list[str]:
    """How a payer may spell the hospital on a transfer."""
    variants = []
    for prefix in ("浙江大学医学院附属", "温州医科大学附属", "宁波大学附属"):
        if name.startswith(prefix):
            rest = name[len(prefix):]
            variants += [rest, prefix[:2] + "大" + rest if prefix.startswith("浙江") else prefix[:2] + rest]
    if "市" in name and not name.endswith("市"):
        variants.append(name.replace("市", "", 1))
    variants += [name + "财务处", name.replace("医院", "医院（本部）"), unicodedata.normalize("NFKC", name).translate({ord("医"): "医"})]
    return [v for v in variants if v]


def build(seed: int = 2026) -> tuple[Matcher, list[LabelledRow], dict[str, int]]:
    """(matcher, labelled rows, hospital ids by name)."""
    from salesops.demo import _hospital_names

    rng = random.Random(seed)
    names = [name for name, _grade, _city, _district in _hospital_names(int(0.5 * 10**6))]
    hospital_ids = {name: index + 1 for index, name in enumerate(names)}
    receivables: list[OpenReceivable] = []
    deals: list[tuple[str, list[OpenReceivable]]] = []
    next_id = 1
    for deal_index, name in enumerate(names[:150]):
        amount = Decimal(rng.randrange(2_000_000, 90_000_000)) / 100
        kind = deal_index % 3
        if kind == 0:  # one instalment, often a standard package price many hospitals owe alike
            amount = rng.choice(PACKAGES) if deal_index % 2 == 0 else amount
            parts = [(amount, TODAY + timedelta(days=rng.randrange(-40, 40)))]
        elif kind == 1:  # three equal instalments, 30 days apart
            part = (amount / 3).quantize(Decimal("0.01"))
            first = TODAY - timedelta(days=rng.randrange(0, 50))
            parts = [(part, first + timedelta(days=30 * n)) for n in range(3)]
        else:  # milestone 30/40/20/10, the last waiting for acceptance
            first = TODAY - timedelta(days=rng.randrange(0, 60))
            parts = [
                ((amount * Decimal(p) / 100).quantize(Decimal("0.01")), due)
                for p, due in ((30, first), (40, first + timedelta(days=45)), (20, first + timedelta(days=90)), (10, None))
            ]
        deal_number = f"HT2026{10 + deal_index % 2:02d}-{deal_index + 1:04d}"
        items = []
        for sequence, (part, due) in enumerate(parts, start=1):
            items.append(
                OpenReceivable(
                    id=next_id, deal_id=deal_index + 1, deal_number=deal_number, quote_number=f"QT202609-{deal_index + 1:04d}",
                    hospital_id=hospital_ids[name], hospital_name=name, hospital_key=normalise_name(name), customer_key=normalise_name(name),
                    sequence=sequence, due_date=due, outstanding=part,
                )
            )
            next_id += 1
        receivables += items
        deals.append((name, items))

    matcher = Matcher(receivables=receivables, aliases={})
    rows: list[LabelledRow] = []

    def earliest(items):
        dated = sorted((r for r in items if r.due_date), key=lambda r: r.due_date)
        return dated[0] if dated else items[0]

    for index, (name, items) in enumerate(deals):
        target = earliest(items)
        booked = TODAY - timedelta(days=rng.randrange(0, 10))
        account = f"1202{index:010d}"
        # the legal name, exact amount of the earliest due instalment
        rows.append(LabelledRow("legal name", name, account, target.outstanding, "货款", booked, target.id))
        # a spelling of the hospital
        variant = rng.choice(_short_names(name))
        rows.append(LabelledRow("short or decorated name", variant, account, target.outstanding, "设备款", booked, target.id))
        if index % 3 == 0:  # a distributor pays quoting our contract number
            rows.append(LabelledRow("contract number in memo", f"浙江{index % 17}医药有限公司", f"3301{index:08d}", target.outstanding, f"代付 合同{items[0].deal_number}", booked, target.id))
        if index % 5 == 0:  # a partial payment of the earliest instalment
            rows.append(LabelledRow("partial payment", name, account, (target.outstanding * Decimal("0.4")).quantize(Decimal("0.01")), "部分货款", booked, target.id))
        if index % 5 == 2:  # part of the money, under the short name: only the name can tell
            rows.append(LabelledRow("short name, partial", rng.choice(_short_names(name)), f"5500{index:08d}", (target.outstanding * Decimal("0.3")).quantize(Decimal("0.01")), "首付", booked, target.id))
        if index % 6 == 1:  # a clerk's typo in the distinctive part of the name
            chars = list(name.replace("医院", ""))
            position = len(chars) - 1 - rng.randrange(0, min(2, len(chars)))
            chars[position] = "爱" if chars[position] != "爱" else "仁"
            rows.append(LabelledRow("typo in the name", "".join(chars) + "医院", account, target.outstanding, "货款", booked, target.id))
        if index % 10 == 3:  # a colloquial abbreviation (浙一, 省人医) the matcher has never seen
            abbreviation = name[0] + name[-3] + "院"
            rows.append(LabelledRow("abbreviation", abbreviation, f"7700{index:08d}", target.outstanding, "货款", booked, target.id))
        if index % 4 == 0:  # not our money: a supplier refund, interest, another company's transfer
            rows.append(LabelledRow("not ours", f"杭州{index}科技有限公司", f"9558{index:08d}", Decimal(rng.randrange(10_000, 900_000)) / 100, "往来款", booked, None))
    # Learned payers: the first payment from an odd name is confirmed by a person (the account is
    # learned, as `payer_alias_learn` does), the next one from that account is recognised.
    for index, (name, items) in enumerate(deals[:30]):
        account = f"6222{index:012d}"
        matcher.accounts[_account_key(account)] = items[0].hospital_id
        latest = sorted((r for r in items if r.due_date), key=lambda r: r.due_date)[-1]
        # equal instalments: the earliest due one with that amount is the right answer
        later = sorted((r for r in items if r.due_date and r.outstanding == latest.outstanding), key=lambda r: r.due_date)[0]
        rows.append(LabelledRow("learned account", f"{name[:2]}医疗集团结算中心", account, later.outstanding, "货款", TODAY, later.id))
    return matcher, rows, hospital_ids


def measure(matcher: Matcher, rows: list[LabelledRow]) -> dict:
    """precision of the top proposal (wrong = a proposal for the wrong instalment, or any proposal
    for money that is not ours), precision of the high-confidence ones, and how many rows the
    matcher placed correctly (recall)."""
    proposed = correct = high = high_correct = labelled = found = 0
    misses: list[tuple[str, str, str]] = []
    by_kind: dict[str, list[int]] = {}
    for row in rows:
        proposals = matcher.propose(amount=row.amount, booked_on=row.booked_on, payer_name=row.payer_name, memo=row.memo, payer_account=row.payer_account)
        top = proposals[0] if proposals else None
        hit = top is not None and row.expected is not None and top.allocations[0][0] == row.expected
        stats = by_kind.setdefault(row.kind, [0, 0])
        stats[0] += 1
        stats[1] += hit or (row.expected is None and top is None)
        if row.expected is not None:
            labelled += 1
            found += hit
        if top is not None:
            proposed += 1
            correct += hit
            if top.confidence == "high":
                high += 1
                high_correct += hit
        if (top is not None and not hit) or (top is None and row.expected is not None):
            misses.append((row.kind, row.payer_name, top.reasons[0] if top else "no proposal"))
    return {
        "rows": len(rows),
        "precision": correct / proposed if proposed else 0.0,
        "proposed": proposed,
        "high_precision": high_correct / high if high else 0.0,
        "high": high,
        "recall": found / labelled if labelled else 0.0,
        "by_kind": by_kind,
        "misses": misses,
    }
