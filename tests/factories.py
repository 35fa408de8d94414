"""Factories for the master data every app's tests share. App-specific factories live next to
that app's tests (tests/<app>/factories.py) and import from here."""

from __future__ import annotations

from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from salesops.models import (
    Contact,
    ContactTitle,
    Customer,
    Department,
    Hospital,
    HospitalGrade,
    Product,
    ProductLine,
    Rep,
    Role,
    Team,
)

User = get_user_model()
PASSWORD = "salesops-test-pw"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Sequence(lambda n: f"销售{n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"杭州{n}组")
    region = "杭州"


class RepFactory(factory.django.DjangoModelFactory):
    """A user with a sales profile. `RepFactory(role=Role.SUPERVISOR, team=t)`."""

    class Meta:
        model = Rep

    user = factory.SubFactory(UserFactory)
    role = Role.REP
    team = factory.SubFactory(TeamFactory)
    grades_served = factory.LazyFunction(lambda: [HospitalGrade.GRADE_3A, HospitalGrade.GRADE_2A])
    capacity = 20
    on_duty = True
    wecom_userid = factory.Sequence(lambda n: f"wecom{n}")
    phone = factory.Sequence(lambda n: f"1380000{n:04d}")

    @factory.post_generation
    def product_lines(self, create, extracted, **kwargs):
        if create and extracted:
            self.product_lines.set(extracted)


class HospitalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Hospital

    name = factory.Sequence(lambda n: f"杭州市第{n}人民医院")
    grade = HospitalGrade.GRADE_3A
    city = "杭州"
    address = "浙江省杭州市上城区解放路88号"
    latitude = Decimal("30.257000")
    longitude = Decimal("120.170000")


class DepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Department

    hospital = factory.SubFactory(HospitalFactory)
    name = factory.Sequence(lambda n: f"骨科{n}")


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    department = factory.SubFactory(DepartmentFactory)
    hospital = factory.SelfAttribute("department.hospital")
    name = factory.LazyAttribute(lambda o: f"{o.department.hospital.name} {o.department.name}")
    owner = None


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    customer = factory.SubFactory(CustomerFactory)
    name = factory.Sequence(lambda n: f"王{n}")
    title = ContactTitle.DIRECTOR
    phone = factory.Sequence(lambda n: f"1390000{n:04d}")


class ProductLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProductLine
        django_get_or_create = ("code",)

    code = "joint"
    name = "关节类"


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    model_number = factory.Sequence(lambda n: f"JT-{n:04d}")
    name = "人工髋关节"
    line = factory.SubFactory(ProductLineFactory)
    list_price = Decimal("12800.00")


def consented_intake(**fields):
    """A website lead as the intake service receives it, with the person's consent to the privacy
    notice (P1). Tests of the consent rule itself build `IntakeData` without it."""
    from django.utils import timezone

    from leads.intake import IntakeData

    fields.setdefault("consent_basis", "notice")
    fields.setdefault("consent_version", "v1")
    fields.setdefault("consent_given_at", timezone.now())
    fields.setdefault("consent_channel", "website")
    return IntakeData(**fields)
