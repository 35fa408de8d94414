import pytest
from django.utils import translation

from scoring.defaults import install_defaults
from scoring.models import BonusPolicy, ContributionRule

from ..factories import CustomerFactory


@pytest.fixture(autouse=True)
def chinese():
    """Chinese is the default; a request switched to English elsewhere must not leak into labels
    read outside a request."""
    with translation.override("zh-hans"):
        yield


@pytest.fixture(autouse=True)
def scoring_defaults(db):
    """The shipped rules and policy (a transactional test elsewhere may have flushed the
    migration's rows)."""
    install_defaults(ContributionRule, BonusPolicy)


@pytest.fixture
def customer(alice):
    return CustomerFactory(owner=alice, name="浙江省人民医院 骨科")
