"""Public JSON API under /api/v1/ (lead intake, call-robot callback, OpenAPI description)."""

from django.urls import path

from . import api

urlpatterns = [
    path("leads", api.lead_intake_api, name="api_leads"),
    path("calls/callback", api.call_callback_api, name="api_call_callback"),
    path("openapi.json", api.openapi_json, name="api_openapi"),
]
