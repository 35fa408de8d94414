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


@pytest.fixture
def account(db):
    """The company's ICBC corporate account, read with the generic map (贷方金额 / 借方金额 …)."""
    from leads.cash.bankfiles import PRESETS
    from leads.cash.models import BankAccount

    return BankAccount.objects.create(name="工行基本户", bank="generic", account_number="1202026009200123456", column_map=PRESETS["generic"]["map"])


@pytest.fixture
def upload(client, django_capture_on_commit_callbacks):
    """Upload a statement file as `user` through the page; the import task runs after commit."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from leads.cash.models import BankStatement

    def _upload(user, account, name: str, data: bytes):
        client.force_login(user)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/cash/statements/", {"account": account.pk, "file": SimpleUploadedFile(name, data)})
        assert response.status_code == 302, response.content.decode()[:2000]
        return BankStatement.objects.get(pk=int(response["Location"].rstrip("/").rsplit("/", 1)[1]))

    return _upload
