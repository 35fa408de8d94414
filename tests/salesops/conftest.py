"""Fixtures for the foundation's import tests: hospitals to import customers into, and a helper
that uploads a real .xlsx through the test client and lets the (inline) django-q2 task run."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.utils import translation

from salesops.models import ImportJob

from ..factories import DepartmentFactory, HospitalFactory
from .xlsx import CUSTOMER_HEADERS, xlsx_upload


@pytest.fixture(autouse=True)
def _default_language_after_each_test():
    """A request in English leaves English active in this thread (LocaleMiddleware does not reset
    it); put the default back so later tests, in any app, run in Chinese."""
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture
def people_hospital(db):
    hospital = HospitalFactory(name="浙江省人民医院", city="杭州")
    DepartmentFactory(hospital=hospital, name="骨科")
    return hospital


@pytest.fixture
def upload(client, django_capture_on_commit_callbacks):
    """upload(user, rows, kind="customers", headers=None, name=...) -> (response, job or None).
    The parse task runs on commit, inline (Q_CLUSTER sync under pytest)."""

    def _upload(user, rows, *, kind="customers", headers=None, name="客户.xlsx", file=None, **xlsx_options):
        client.force_login(user)
        file = file or xlsx_upload(headers or CUSTOMER_HEADERS, rows, name=name, **xlsx_options)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(f"/imports/{kind}/new/", {"file": file})
        job = ImportJob.objects.filter(uploaded_by=user).order_by("-pk").first() if response.status_code == 302 else None
        return response, job

    return _upload
