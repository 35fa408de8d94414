"""Public JSON API under /api/v1/ (lead intake, call-robot callback)."""

from django.urls import path

urlpatterns: list = []
