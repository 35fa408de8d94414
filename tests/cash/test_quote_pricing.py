"""C1: quotes are priced by the server from the price list, in Decimal, exact to the cent.

Rounding rule: per line, net = quantity × unit price × (1 − discount) rounded half-up to the cent,
tax = net × rate rounded half-up to the cent; version totals are sums of the rounded lines.
"""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given, settings
from hypothesis import strategies as st

from leads.cash import quotes
from leads.cash.models import QuoteLine
from tests.factories import ProductFactory

from .helpers import make_quote

pytestmark = pytest.mark.django_db


def test_line_is_rounded_half_up_to_the_cent():
    """C1: 3 × 33.33 × 95 % = 94.9905 → 94.99; 13 % tax = 12.3487 → 12.35; total 107.34."""
    assert quotes.price_line(3, Decimal("33.33"), Decimal("5"), Decimal("13")) == (
        Decimal("94.99"),
        Decimal("12.35"),
        Decimal("107.34"),
    )


def test_exact_half_cent_rounds_up_not_to_even():
    """C1: 10.05 at 50 % off is 5.025 → 5.03 (banker's rounding would give 5.02)."""
    net, tax, total = quotes.price_line(1, Decimal("10.05"), Decimal("50"), Decimal("13"))
    assert (net, tax, total) == (Decimal("5.03"), Decimal("0.65"), Decimal("5.68"))


def test_version_totals_are_the_sums_of_rounded_lines(alice, customer_a):
    """C1: two lines whose tax is 0.065 each: the paper adds up (0.07 + 0.07), not round(0.13)."""
    first = ProductFactory(model_number="TR-SCR-01", list_price=Decimal("0.50"))
    second = ProductFactory(model_number="TR-SCR-02", list_price=Decimal("0.50"))
    _quote, version = make_quote(customer_a, alice, [(first, 1, "0"), (second, 1, "0")])
    lines = list(version.lines.all())
    quotes.quote_line_update(line=lines[0], by=alice, quantity=1, discount_percent=Decimal("0"), tax_rate_percent=Decimal("13"))
    version.refresh_from_db()
    assert [line.line_tax for line in version.lines.all()] == [Decimal("0.07"), Decimal("0.07")]
    assert version.subtotal == Decimal("1.00")
    assert version.tax_total == Decimal("0.14")
    assert version.total == Decimal("1.14")


def test_quote_with_two_products_totals_exactly(alice, customer_a, hip, screw):
    """C1: 2 × 28,600.00 and 1 × 9,800.00 at 7.5 % off, 13 % VAT — exact cents."""
    _quote, version = make_quote(customer_a, alice, [(hip, 2, "0"), (screw, 1, "7.5")])
    assert version.subtotal == Decimal("57200.00") + Decimal("9065.00")
    assert version.tax_total == Decimal("7436.00") + Decimal("1178.45")
    assert version.total == Decimal("74879.45")


@settings(max_examples=60, deadline=None)
@given(
    quantity=st.integers(min_value=1, max_value=500),
    cents=st.integers(min_value=0, max_value=10_000_000),
    discount=st.decimals(min_value=0, max_value=Decimal("99.99"), places=2),
    rate=st.sampled_from([Decimal("0"), Decimal("1"), Decimal("3"), Decimal("6"), Decimal("9"), Decimal("13")]),
)
def test_every_line_is_whole_cents_and_adds_up(quantity, cents, discount, rate):
    """C1: whatever the inputs, net, tax and total are whole cents and total = net + tax."""
    net, tax, total = quotes.price_line(quantity, Decimal(cents) / 100, discount, rate)
    for value in (net, tax, total):
        assert value == value.quantize(Decimal("0.01"))
    assert total == net + tax
    assert abs(net - Decimal(quantity) * Decimal(cents) / 100 * (100 - discount) / 100) <= Decimal("0.005")


def test_unit_price_comes_from_the_price_list_not_the_browser(client, alice, customer_a, hip):
    """C1: a posted unit price is ignored; the line carries the list price and its snapshot."""
    quote, version = make_quote(customer_a, alice, [])
    client.force_login(alice)
    client.post(f"/cash/quotes/{quote.pk}/lines/", {"product": hip.pk, "quantity": 1, "tax_rate_percent": "13.00", "unit_price": "1.00", "total": "1.00"})
    line = QuoteLine.objects.get(version=version)
    assert line.unit_price == Decimal("28600.00")
    assert (line.product_model, line.product_name) == ("AK-HIP-01", "人工髋关节假体（生物型）")
    version.refresh_from_db()
    assert version.total == Decimal("32318.00")


def test_adding_a_product_twice_adds_quantity(alice, customer_a, hip):
    _quote, version = make_quote(customer_a, alice, [(hip, 1, "0"), (hip, 2, "0")])
    assert [(line.product_model, line.quantity) for line in version.lines.all()] == [("AK-HIP-01", 3)]


def test_a_product_no_longer_sold_cannot_be_quoted(alice, customer_a):
    retired = ProductFactory(active=False)
    _quote, version = make_quote(customer_a, alice, [])
    with pytest.raises(ValidationError) as error:
        quotes.quote_line_add(version=version, product=retired, by=alice)
    assert "已停售" in str(error.value)


@pytest.mark.parametrize(
    ("field", "values"),
    [("quantity", {"quantity": 0}), ("discount_percent", {"discount_percent": Decimal("100")}), ("tax_rate_percent", {"tax_rate_percent": Decimal("-1")})],
)
def test_bad_line_values_are_named(alice, customer_a, hip, field, values):
    _quote, version = make_quote(customer_a, alice, [(hip, 1, "0")])
    arguments = {"quantity": 1, "discount_percent": Decimal("0"), "tax_rate_percent": Decimal("13")} | values
    with pytest.raises(ValidationError) as error:
        quotes.quote_line_update(line=version.lines.get(), by=alice, **arguments)
    assert field in error.value.message_dict
