import pytest

from scoring.defaults import install_defaults
from scoring.models import BonusPolicy, ContributionRule

from ..factories import CustomerFactory


@pytest.fixture(autouse=True)
def scoring_defaults(db):
    """The shipped rules and policy (a transactional test elsewhere may have flushed the
    migration's rows)."""
    install_defaults(ContributionRule, BonusPolicy)


@pytest.fixture
def customer(alice):
    return CustomerFactory(owner=alice, name="浙江省人民医院 骨科")
