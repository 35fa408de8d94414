"""Fixtures of the visits tests: the shipped library, a customer of alice's at the test hospital,
a task on it, and helpers that put each evidence module in place through the services."""

from __future__ import annotations

import pytest
from django.utils import timezone

from salesops.models import ContactTitle
from visits import services
from visits.library import DEAN_CODE, MEDICAL_CODE, SOLUTION_DEMO_CODE, install_library
from visits.models import ModuleKind, TemplateModule, VisitTemplate

from ..factories import ContactFactory, CustomerFactory
from .factories import pdf_upload, photo_upload


@pytest.fixture
def library(db):
    """Installed by a data migration; reinstalled here because transactional tests flush it."""
    return {template.code: template for template in install_library(VisitTemplate, TemplateModule)}


@pytest.fixture
def medical(library):
    return library[MEDICAL_CODE]


@pytest.fixture
def solution_demo(library):
    return library[SOLUTION_DEMO_CODE]


@pytest.fixture
def dean_template(library):
    return library[DEAN_CODE]


@pytest.fixture
def customer(alice):
    return CustomerFactory(owner=alice)


@pytest.fixture
def dean(customer):
    return ContactFactory(customer=customer, name="李院长", title=ContactTitle.DEAN)


@pytest.fixture
def task(alice, customer, medical):
    return services.visit_task_create(rep=alice, customer=customer, template=medical, due_date=timezone.localdate(), by=alice)


def module_of(task, kind):
    return task.template.modules.get(kind=kind, required=True) if kind != ModuleKind.VOICE_MEMO else task.template.modules.get(kind=kind)


def add_photo(task, by=None, **kwargs):
    return services.evidence_add(task=task, module=module_of(task, ModuleKind.PHOTO), upload=photo_upload(**kwargs), by=by or task.rep)


def add_pdf(task, by=None, seed="sign"):
    return services.evidence_add(task=task, module=module_of(task, ModuleKind.SIGNED_DOCUMENT), upload=pdf_upload(seed=seed), by=by or task.rep)


def add_needs(task, by=None, items=None):
    module = module_of(task, ModuleKind.NEEDS)
    items = items or [(module.choices[0], "年增30%"), (module.choices[1], ""), (module.choices[4], "术后感染低")]
    return services.needs_capture(task=task, module=module, items=items, by=by or task.rep)


def fill_required(task, seed="door"):
    add_photo(task, seed=seed)
    add_pdf(task)
    add_needs(task)


@pytest.fixture(autouse=True)
def _fresh_photo_index():
    """Each test's database starts over; so does the in-process reuse index (F4)."""
    from visits import photo_index

    photo_index.reset()
    yield
    photo_index.reset()
