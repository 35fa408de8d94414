"""Money helpers: exact Decimal cents and the Chinese capital amount (大写金额) for documents."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_UNITS = ["", "拾", "佰", "仟"]
_SECTIONS = ["", "万", "亿", "万亿"]


def to_cents(value: Decimal | int | str) -> Decimal:
    """Round half up to the cent — the rule Chinese invoices and quotes use."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def _section(number: int) -> str:
    """0..9999 → e.g. 1010 → 壹仟零壹拾."""
    text, zero = "", False
    for position in range(3, -1, -1):
        digit = number // 10**position % 10
        if digit == 0:
            zero = bool(text)
            continue
        if zero:
            text += "零"
            zero = False
        text += _DIGITS[digit] + _UNITS[position]
    return text


def rmb_uppercase(amount: Decimal | int | str) -> str:
    """¥1,234.56 → 人民币壹仟贰佰叁拾肆元伍角陆分; whole amounts end in 整."""
    value = to_cents(amount)
    if value < 0:
        return "负" + rmb_uppercase(-value)
    cents = int(value * 100)
    yuan, jiao, fen = cents // 100, cents // 10 % 10, cents % 10
    if yuan == 0 and cents == 0:
        return "人民币零元整"
    parts: list[str] = []
    section_index, need_zero = 0, False
    while yuan > 0:
        section = yuan % 10000
        if section:
            text = _section(section) + _SECTIONS[section_index]
            if need_zero:
                text += "零"
            parts.insert(0, text)
            need_zero = section < 1000
        else:
            need_zero = bool(parts)
        yuan //= 10000
        section_index += 1
    # A section below 1000 that follows a higher one reads with 零 (e.g. 壹万零伍拾).
    text = "".join(parts)
    result = "人民币" + (text + "元" if text else "")
    if jiao == 0 and fen == 0:
        return result + "整"
    if jiao:
        result += _DIGITS[jiao] + "角"
    elif text:
        result += "零"
    if fen:
        result += _DIGITS[fen] + "分"
    else:
        result += "整"
    return result
