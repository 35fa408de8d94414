"""C1: 大写金额 on quotes and statements."""

from decimal import Decimal

import pytest

from salesops.lib.money import rmb_uppercase, to_cents


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("0", "人民币零元整"),
        ("0.05", "人民币伍分"),
        ("10", "人民币壹拾元整"),
        ("1010", "人民币壹仟零壹拾元整"),
        ("10050", "人民币壹万零伍拾元整"),
        ("1234.56", "人民币壹仟贰佰叁拾肆元伍角陆分"),
        ("20300.07", "人民币贰万零叁佰元零柒分"),
        ("100010000", "人民币壹亿零壹万元整"),
        ("1002003004", "人民币壹拾亿零贰佰万叁仟零肆元整"),
    ],
)
def test_rmb_uppercase(amount, expected):
    """C1"""
    assert rmb_uppercase(Decimal(amount)) == expected


def test_to_cents_rounds_half_up():
    assert to_cents("2.345") == Decimal("2.35")
    assert to_cents("2.344") == Decimal("2.34")
