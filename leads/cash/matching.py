"""Proposing which open receivables an incoming bank payment pays (C3). Proposals only: nothing
here records a payment; a person confirms (`leads.cash.statements.statement_row_confirm`).

Rules, in order:
1. Known payer + unique exact amount in the date window → one EXACT proposal, confidence HIGH.
   "Known payer": the normalised payer name equals a hospital's normalised name, or a
   PayerAlias learned from an earlier confirmation (or entered by ops).
2. Otherwise candidates are ranked by normalised payer-name similarity, a quote/deal number found
   in the memo, and the amount (equal to the outstanding, or a part of it). Combined payments
   (several instalments or deals paid at once) and partial payments get their own proposals.
   All of these wait in the review queue.

The matcher is built once per import (`Matcher.load()`: a handful of queries) and then works in
memory, so a 5,000-row statement costs the same number of queries as a 5-row one.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from itertools import combinations

from django.utils.translation import gettext as _
from rapidfuzz import fuzz

# Words that say nothing about WHO paid: legal forms, the finance office, campus labels.
_NOISE_SUFFIXES = (
    "股份有限公司",
    "有限责任公司",
    "有限公司",
    "财务处",
    "财务科",
    "财务部",
    "计财处",
    "本部",
    "院区",
    "分院",
    "医院",
    "公司",
)
_PUNCTUATION = re.compile(r"[\s·•・,.，。、;；:：'\"“”‘’()（）\[\]【】<>《》\-_/\\*＊]+")
REFERENCE_PATTERN = re.compile(r"(QT|HT)-?(\d{6})-?(\d{4})")
MAX_PROPOSALS = 5
SIMILAR_THRESHOLD = 0.7
MAX_SIMILAR_HOSPITALS = 3


@lru_cache(maxsize=20000)
def normalise_name(name: str) -> str:
    """`浙江省人民医院（财务处）` and `浙江省人民医院财务处` and `ＺＪ省人民医院` compare equal:
    full width → half width (NFKC), case folded, punctuation and spaces removed, noise suffixes
    (有限公司, 医院, 财务处 …) stripped from the end."""
    text = unicodedata.normalize("NFKC", name or "").casefold()
    text = _PUNCTUATION.sub("", text)
    changed = True
    while changed and text:
        changed = False
        for suffix in _NOISE_SUFFIXES:
            if text.endswith(suffix) and len(text) > len(suffix):
                text = text[: -len(suffix)]
                changed = True
    return text


_NUMBERS = re.compile(r"[0-9]+|[零〇一二三四五六七八九十百]+")
# Parts of a hospital name that say where it is or whom it belongs to, not which hospital it is:
# 浙江省 / 杭州市 / 西湖区, 浙江大学 / 医学院 / 附属. What is left (邵逸夫, 第一人民, 儿童) is compared.
_REGION = re.compile(r"[一-龥]{2,3}?(?:自治区|省|市|区|县)")
_CITY_AND_DISTRICT = re.compile(r"([一-龥]{2})([一-龥]{2}(?:区|县))")  # 杭州临平区: the city without 市
_AFFILIATION = re.compile(r"[一-龥]{2,6}?大学|医学院|医科大学|附属|中国人民解放军|联勤保障部队")


@lru_cache(maxsize=20000)
def _name_parts(key: str) -> tuple[frozenset, str, str]:
    """(regions, the distinctive rest, the name as space-separated tokens) of a normalised name.
    Regions are read from the start of the name (浙江省 杭州市 临平区 …), where Chinese names put them."""
    regions, rest = [], key
    while rest:
        match = _REGION.match(rest)
        if match:
            regions.append(match.group(0))
            rest = rest[match.end():]
            continue
        match = _CITY_AND_DISTRICT.match(rest)
        if match:
            regions += [f"{match.group(1)}市", match.group(2)]
            rest = rest[match.end():]
            continue
        break
    rest = _AFFILIATION.sub(" ", rest)
    tokens = " ".join(part for part in rest.split() if part)
    return frozenset(regions), rest.replace(" ", ""), " ".join([*sorted(regions), tokens])


def name_similarity(a: str, b: str) -> float:
    """0..1 between two *normalised* names, with rapidfuzz (C7).

    - Names whose numbers differ (杭州市第一 / 第二人民医院, 第12 / 第13) are different hospitals
      however alike the rest reads; so are names in different cities or provinces.
    - Otherwise the distinctive parts are compared with the partial ratio (a short name inside the
      legal one: 邵逸夫 in 浙江大学医学院附属邵逸夫, scaled a little by how much of it is covered) and
      the whole names with the token-set ratio (the same words in another order or with extra
      region words: 浙江省 杭州市 第一人民 / 杭州市 第一人民)."""
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    numbers_a, numbers_b = _NUMBERS.findall(a), _NUMBERS.findall(b)
    if numbers_a and numbers_b and numbers_a != numbers_b:
        return 0.0
    regions_a, rest_a, tokens_a = _name_parts(a)
    regions_b, rest_b, tokens_b = _name_parts(b)
    if regions_a and regions_b and not (regions_a & regions_b) and not _nested_regions(regions_a, regions_b):
        return 0.0
    districts_a = {r for r in regions_a if r.endswith(("区", "县"))}
    districts_b = {r for r in regions_b if r.endswith(("区", "县"))}
    # A district hospital (婺城区中医院) is not the city's (金华市中医院) however alike the rest reads.
    level = 0.8 if bool(districts_a) != bool(districts_b) else 1.0
    # 宁波第一人民 vs 宁波市第一人民: the city written without 市 is still the city.
    rest_a, rest_b = _strip_stems(rest_a, regions_b), _strip_stems(rest_b, regions_a)
    if rest_a and rest_b:
        # Both say which hospital they are: only that part counts (附属儿童 ≠ 附属妇产科).
        if rest_a == rest_b:
            return (0.95 if len(rest_a) >= 2 else 0.8) * level
        shorter, longer = sorted((len(rest_a), len(rest_b)))
        score = max(fuzz.ratio(rest_a, rest_b), fuzz.token_set_ratio(rest_a, rest_b) * 0.9)
        if shorter >= 3:
            score = max(score, fuzz.partial_ratio(rest_a, rest_b) * (0.7 + 0.3 * shorter / longer))
        # The whole names break ties between hospitals whose distinctive parts read alike.
        score = 0.85 * score + 0.15 * fuzz.ratio(a, b)
    else:
        score = max(fuzz.ratio(a, b), fuzz.token_set_ratio(tokens_a, tokens_b))
    return round(score * level / 100, 3)


def _strip_stems(rest: str, regions: frozenset) -> str:
    """Remove the other name's region stems (宁波 of 宁波市) from the start of this name's rest."""
    for region in sorted(regions, key=len, reverse=True):
        stem = region[:-1] if not region.endswith("自治区") else region[:-3]
        if len(stem) >= 2 and rest.startswith(stem) and len(rest) > len(stem):
            return rest[len(stem):]
    return rest


def _nested_regions(first: frozenset, second: frozenset) -> bool:
    """杭州市 and 浙江省 are not a conflict when one name only says the province (we cannot tell);
    two different cities (or two different provinces) are."""
    cities = lambda regions: {r for r in regions if not r.endswith("省")}  # noqa: E731
    provinces = lambda regions: {r for r in regions if r.endswith("省")}  # noqa: E731
    if cities(first) and cities(second):
        return bool(cities(first) & cities(second))
    if provinces(first) and provinces(second):
        return bool(provinces(first) & provinces(second))
    return True


def references_in(text: str) -> set[str]:
    """Quote and deal numbers (QT202611-0001, HT2026110003, `ht 202611 0003`) found in a memo."""
    compact = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or "")).upper()
    return {f"{prefix}{period}-{serial}" for prefix, period, serial in REFERENCE_PATTERN.findall(compact)}


@dataclass
class OpenReceivable:
    id: int
    deal_id: int
    deal_number: str
    quote_number: str
    hospital_id: int
    hospital_name: str
    hospital_key: str
    customer_key: str
    sequence: int
    due_date: date | None  # None: waiting for delivery/acceptance (C6)
    outstanding: Decimal


def due_order(receivable: "OpenReceivable") -> tuple:
    """Earliest due first; instalments still waiting for their milestone date last."""
    return (receivable.due_date is None, receivable.due_date or date.min, receivable.deal_id, receivable.sequence)


def _account_key(account: str) -> str:
    return re.sub(r"\D", "", unicodedata.normalize("NFKC", account or ""))


@dataclass
class Proposal:
    kind: str
    confidence: str
    score: int
    reasons: list[str]
    allocations: list[tuple[int, Decimal]]  # (receivable id, amount)


@dataclass
class Matcher:
    receivables: list[OpenReceivable]
    aliases: dict[str, int]  # payer key → hospital id
    accounts: dict[str, int] = field(default_factory=dict)  # payer account number → hospital id
    days_before_due: int = 60
    days_after_due: int = 365
    by_hospital: dict[int, list[OpenReceivable]] = field(default_factory=dict)
    by_reference: dict[str, list[OpenReceivable]] = field(default_factory=dict)
    by_amount: dict[Decimal, list[OpenReceivable]] = field(default_factory=dict)
    hospital_keys: dict[str, set[int]] = field(default_factory=dict)
    _name_cache: dict[str, list[tuple[int, float]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for receivable in sorted(self.receivables, key=due_order):
            self.by_hospital.setdefault(receivable.hospital_id, []).append(receivable)
            self.by_amount.setdefault(receivable.outstanding, []).append(receivable)
            for number in (receivable.deal_number, receivable.quote_number):
                if number:
                    self.by_reference.setdefault(number.upper(), []).append(receivable)
            self.hospital_keys.setdefault(receivable.hospital_key, set()).add(receivable.hospital_id)

    @classmethod
    def load(cls) -> "Matcher":
        """Open receivables and known payers, in a fixed number of queries."""
        from .models import CashSettings, PayerAlias, Receivable

        settings = CashSettings.load()
        rows = (
            Receivable.objects.open()
            .select_related("deal__hospital", "deal__customer", "deal__quote_version__quote")
            .order_by("due_date", "pk")
        )
        receivables = [
            OpenReceivable(
                id=row.pk,
                deal_id=row.deal_id,
                deal_number=row.deal.number,
                quote_number=row.deal.quote_version.quote.number if row.deal.quote_version_id else "",
                hospital_id=row.deal.hospital_id,
                hospital_name=row.deal.hospital.name,
                hospital_key=normalise_name(row.deal.hospital.name),
                customer_key=normalise_name(row.deal.customer.name),
                sequence=row.sequence,
                due_date=row.due_date,
                outstanding=row.amount - row.paid_amount,
            )
            for row in rows
        ]
        aliases, accounts = {}, {}
        for payer_key, payer_account, hospital_id in PayerAlias.objects.values_list("payer_key", "payer_account", "hospital_id"):
            aliases.setdefault(payer_key, hospital_id)
            if payer_account:
                accounts.setdefault(payer_account, hospital_id)
        return cls(
            receivables=receivables,
            aliases=aliases,
            accounts=accounts,
            days_before_due=settings.match_days_before_due,
            days_after_due=settings.match_days_after_due,
        )

    # --- pieces -------------------------------------------------------------------------------

    def known_hospitals(self, payer_key: str, payer_account: str = "") -> set[int]:
        """Hospitals this payer is known to be: by name (a hospital's own or a learned alias) or by
        the account the money came from (learned from an earlier confirmation)."""
        known = set(self.hospital_keys.get(payer_key, set()))
        if payer_key in self.aliases:
            known.add(self.aliases[payer_key])
        account = _account_key(payer_account)
        if account and account in self.accounts:
            known.add(self.accounts[account])
        return known

    def similar_hospitals(self, payer_key: str) -> list[tuple[int, float]]:
        """The few hospitals with open receivables whose name most resembles the payer, best first
        (cached per payer: a statement repeats its payers)."""
        if payer_key not in self._name_cache:
            scored: list[tuple[int, float]] = []
            if payer_key:
                for key, hospital_ids in self.hospital_keys.items():
                    similarity = name_similarity(payer_key, key)
                    if similarity >= SIMILAR_THRESHOLD:
                        scored.extend((hospital_id, similarity) for hospital_id in hospital_ids)
            self._name_cache[payer_key] = sorted(scored, key=lambda pair: (-pair[1], pair[0]))[:MAX_SIMILAR_HOSPITALS]
        return self._name_cache[payer_key]

    def in_window(self, receivable: OpenReceivable, booked_on: date) -> bool:
        if receivable.due_date is None:
            return True  # the milestone's date is not known yet; money often comes first
        return (
            receivable.due_date - timedelta(days=self.days_before_due)
            <= booked_on
            <= receivable.due_date + timedelta(days=self.days_after_due)
        )

    # --- the proposal -------------------------------------------------------------------------

    def propose(
        self, *, amount: Decimal, booked_on: date, payer_name: str, memo: str, reference: str = "", payer_account: str = ""
    ) -> list[Proposal]:
        """Proposals for one incoming payment, best first. Empty for money out."""
        if amount <= 0:
            return []
        payer_key = normalise_name(payer_name)
        known = self.known_hospitals(payer_key, payer_account)
        open_known = [r for h in sorted(known) for r in self.by_hospital.get(h, []) if r.outstanding > 0]
        named = sorted(
            {r.id: r for number in sorted(references_in(f"{memo} {reference}")) for r in self.by_reference.get(number, []) if r.outstanding > 0}.values(),
            key=due_order,
        )

        # 1. A contract or quote number in the memo wins: whoever paid, the payer says what for.
        named_exact = [r for r in named if r.outstanding == amount]
        if named_exact:
            receivable = named_exact[0]
            reasons = [_("附言中含单号 %(number)s") % {"number": receivable.deal_number or receivable.quote_number}]
            reasons.append(_("金额与第 %(seq)d 期未收金额一致") % {"seq": receivable.sequence})
            if len(named_exact) > 1:
                reasons.append(_("另有 %(n)d 期同额，按最早到期的一期") % {"n": len(named_exact) - 1})
            return [Proposal(kind="exact", confidence="high", score=100, reasons=reasons, allocations=[(receivable.id, amount)])]

        # 2. Known payer and an instalment with exactly this amount in the window; equal
        #    instalments resolve to the earliest due open one.
        exact_known = sorted((r for r in open_known if r.outstanding == amount and self.in_window(r, booked_on)), key=due_order)
        if exact_known:
            receivable = exact_known[0]
            reasons = [
                _("已知付款方：%(name)s") % {"name": receivable.hospital_name},
                _("金额与第 %(seq)d 期未收金额完全一致") % {"seq": receivable.sequence},
            ]
            if len(exact_known) > 1:
                reasons.append(_("另有 %(n)d 期同额，按最早到期的一期") % {"n": len(exact_known) - 1})
            if receivable.due_date:
                reasons.append(_("到账日期在到期日 %(due)s 的匹配窗口内") % {"due": receivable.due_date.isoformat()})
            return [Proposal(kind="exact", confidence="high", score=100, reasons=reasons, allocations=[(receivable.id, amount)])]

        # Candidates: the known payer's receivables, those named in the memo, similar names,
        # and any receivable with exactly this amount in the window.
        referenced = {r.id for r in named}
        # A known payer is who paid; only an unknown one is compared with hospital names.
        similarity: dict[int, float] = {h: 1.0 for h in known} or dict(self.similar_hospitals(payer_key))
        pool: dict[int, OpenReceivable] = {r.id: r for r in open_known}
        for hospital_id in similarity:
            pool.update((r.id, r) for r in self.by_hospital.get(hospital_id, []) if r.outstanding > 0)
        pool.update((r.id, r) for r in named)
        pool.update((r.id, r) for r in self.by_amount.get(amount, []) if self.in_window(r, booked_on))

        proposals: list[Proposal] = []
        same_amount = sum(1 for r in pool.values() if r.outstanding == amount)
        for r in pool.values():
            if r.outstanding < amount:
                continue  # too small for this payment alone: see the combined proposals below
            score, reasons = self._score(r, amount, booked_on, similarity, known, referenced)
            if r.outstanding == amount:
                score += 25
                reasons.append(
                    _("金额与未收金额一致") if same_amount == 1 else _("金额与未收金额一致（另有 %(n)d 笔同额应收）") % {"n": same_amount - 1}
                )
                kind = "candidate"
            else:
                score += 15
                reasons.append(_("部分付款：未收 %(out)s，本笔 %(amount)s") % {"out": r.outstanding, "amount": amount})
                kind = "partial"
            proposals.append(self._proposal(kind, score, reasons, [(r.id, amount)]))
        proposals.extend(self._combined(amount, booked_on, pool, similarity, known, referenced))

        proposals.sort(key=lambda p: (-p.score, p.kind != "candidate", [a[0] for a in p.allocations]))
        return proposals[:MAX_PROPOSALS]

    def _score(self, r, amount, booked_on, similarity, known, referenced) -> tuple[int, list[str]]:
        score, reasons = 0, []
        name_score = similarity.get(r.hospital_id, 0.0)
        if r.hospital_id in known:
            score += 40
            reasons.append(_("已知付款方：%(name)s") % {"name": r.hospital_name})
        elif name_score:
            score += int(round(name_score * 35))
            reasons.append(_("付款方名称与“%(name)s”相似度 %(pct)d%%") % {"name": r.hospital_name, "pct": round(name_score * 100)})
        if r.id in referenced:
            score += 35
            reasons.append(_("附言中含单号 %(number)s") % {"number": r.deal_number or r.quote_number})
        if self.in_window(r, booked_on):
            score += 5
        else:
            reasons.append(_("到账日期不在到期日 %(due)s 的匹配窗口内") % {"due": r.due_date.isoformat() if r.due_date else "—"})
        return score, reasons

    def _proposal(self, kind: str, score: int, reasons: list[str], allocations) -> Proposal:
        confidence = "medium" if score >= 60 else "low"
        return Proposal(kind=kind, confidence=confidence, score=min(score, 99), reasons=reasons, allocations=allocations)

    def _combined(self, amount, booked_on, pool, similarity, known, referenced) -> list[Proposal]:
        """One payment covering several instalments/deals of one hospital: an exact subset (up to 4
        receivables) first, else oldest-first allocation when the hospital owes at least this much."""
        proposals = []
        by_hospital: dict[int, list[OpenReceivable]] = {}
        for r in pool.values():
            by_hospital.setdefault(r.hospital_id, []).append(r)
        for hospital_id, items in by_hospital.items():
            strong = hospital_id in known or similarity.get(hospital_id, 0) >= 0.85
            if len(items) < 2 or not (strong or any(r.id in referenced for r in items)):
                continue
            items.sort(key=due_order)
            base, reasons = self._score(items[0], amount, booked_on, similarity, known, referenced)
            exact = None
            for size in range(2, min(4, len(items)) + 1):
                for subset in combinations(items[:12], size):
                    if sum(r.outstanding for r in subset) == amount:
                        exact = subset
                        break
                if exact:
                    break
            if exact:
                deals = {r.deal_number or str(r.deal_id) for r in exact}
                reasons.append(
                    _("合并付款：%(n)d 笔应收（%(deals)s）合计正好等于本笔金额") % {"n": len(exact), "deals": "、".join(sorted(deals))}
                )
                proposals.append(self._proposal("combined", base + 22, reasons, [(r.id, r.outstanding) for r in exact]))
                continue
            if sum(r.outstanding for r in items) > amount:
                remaining, allocations = amount, []
                for r in items:
                    if remaining <= 0:
                        break
                    part = min(r.outstanding, remaining)
                    allocations.append((r.id, part))
                    remaining -= part
                if len(allocations) >= 2:
                    reasons.append(_("按到期先后分配到 %(n)d 笔应收（最后一笔部分付款）") % {"n": len(allocations)})
                    proposals.append(self._proposal("combined", base + 5, reasons, allocations))
        return proposals
