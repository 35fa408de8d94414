"""Lead-to-cash fixtures on top of the shared personas (tests/conftest.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.factories import CustomerFactory, HospitalFactory, ProductFactory, ProductLineFactory

from .helpers import DATA


@pytest.fixture
def hip(db):
    return ProductFactory(model_number="AK-HIP-01", name="人工髋关节假体（生物型）", list_price=Decimal("28600.00"))


@pytest.fixture
def screw(db):
    line = ProductLineFactory(code="spine", name="脊柱类")
    return ProductFactory(model_number="SP-PED-01", name="椎弓根螺钉系统", line=line, list_price=Decimal("9800.00"))


@pytest.fixture
def customer_a(alice):
    """alice's customer (team A)."""
    hospital = HospitalFactory(name="浙江省人民医院")
    return CustomerFactory(department__hospital=hospital, owner=alice, name="浙江省人民医院 骨科")


@pytest.fixture
def customer_b(charlie):
    """charlie's customer (team B)."""
    hospital = HospitalFactory(name="宁波市第一医院")
    return CustomerFactory(department__hospital=hospital, owner=charlie, name="宁波市第一医院 关节外科")


@pytest.fixture
def data_dir():
    return DATA
