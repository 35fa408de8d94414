"""The OpenAPI 3.1 description of the public API, served at /api/v1/openapi.json."""

from __future__ import annotations

from django.conf import settings

from salesops.integrations.dialer import CALL_STATUSES

from .models import LeadSource

ERRORS = {
    "type": "object",
    "properties": {"errors": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}}},
    "required": ["errors"],
    "example": {"errors": {"phone": ["不是有效的中国大陆电话号码：12345"], "hospital_grade": ["未知的医院等级：4A（可用：3A/三甲、2A/二甲、private/民营）"]}},
}
SIGNATURE_HEADERS = [
    {"name": "webhook-id", "in": "header", "required": True, "schema": {"type": "string", "maxLength": 200},
     "description": "Unique message id. Replaying an id returns the first response and changes nothing."},
    {"name": "webhook-timestamp", "in": "header", "required": True, "schema": {"type": "integer"},
     "description": "Unix seconds; rejected when more than 5 minutes from the server's clock."},
    {"name": "webhook-signature", "in": "header", "required": True, "schema": {"type": "string"},
     "description": "`v1,<base64 HMAC-SHA256(key, \"{webhook-id}.{webhook-timestamp}.{raw body}\")>`, space-separated "
                    "when several keys are valid (rotation). Key = base64-decoded part of a `whsec_…` secret."},
]


def _error(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Errors"}}}}


def document(max_body_bytes: int) -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "SalesOps public API",
            "version": "1.0.0",
            "description": (
                "Lead intake for the company website and results from the outbound call robot. Every request "
                "is signed per Standard Webhooks 1.0 (https://www.standardwebhooks.com/). Lead intake secrets: "
                "LEAD_INTAKE_SECRETS; call robot secrets: DIALER_SECRETS."
            ),
        },
        "servers": [{"url": settings.SITE_URL.rstrip("/") + "/api/v1"}],
        "paths": {
            "/leads": {
                "post": {
                    "operationId": "createLead",
                    "summary": "Submit a lead (assigned to a rep within milliseconds)",
                    "parameters": SIGNATURE_HEADERS,
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/LeadIn"}}}},
                    "responses": {
                        "201": {"description": "Lead created and kept. `status` is `assigned` when a rep took it in this request, "
                                               "or `new` when nobody is available or the assignment step failed after the lead was "
                                               "saved (R1): the lead is kept and the per-minute sweep assigns it. Do not resend.",
                                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/LeadOut"}}}},
                        "200": {"description": "Same phone within the dedupe window: recorded as a repeat contact on the existing lead (`duplicate: true`)",
                                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/LeadOut"}}}},
                        "400": _error("Invalid JSON or fields; `errors` names every bad field"),
                        "401": _error("Missing, wrong or stale signature"),
                        "413": _error(f"Body larger than {max_body_bytes} bytes"),
                        "429": _error("Rate limited; see Retry-After"),
                        "503": _error("The database is busy (locked or timed out): nothing was kept; resend the same request "
                                      "(same webhook-id) after Retry-After seconds"),
                    },
                }
            },
            "/calls/callback": {
                "post": {
                    "operationId": "callRobotCallback",
                    "summary": "Result of a first-touch call requested from the call robot",
                    "parameters": SIGNATURE_HEADERS,
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CallEvent"}}}},
                    "responses": {
                        "200": {"description": "Applied, or a duplicate `event_id` (`duplicate: true`)",
                                "content": {"application/json": {"schema": {"type": "object", "properties": {
                                    "ok": {"type": "boolean"}, "duplicate": {"type": "boolean"}, "lead_id": {"type": "integer"}}}}}},
                        "400": _error("Invalid JSON or fields"),
                        "401": _error("Missing, wrong or stale signature"),
                        "404": _error("Unknown external_ref"),
                        "413": _error(f"Body larger than {max_body_bytes} bytes"),
                        "503": _error("The database is busy: resend after Retry-After seconds"),
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "LeadIn": {
                    "type": "object",
                    "required": ["name", "phone"],
                    "properties": {
                        "name": {"type": "string", "maxLength": 80, "description": "客户名 (contact or customer name)"},
                        "phone": {"type": "string", "description": "CN mobile or landline in any usual writing; stored as E.164", "example": "138 0000 1111"},
                        "product_model": {"type": "string", "maxLength": 60, "description": "意向型号, e.g. AK-HIP-01 (unknown models are kept as text)"},
                        "hospital": {"type": ["string", "integer"], "description": "Hospital name, or its SalesOps id (an unknown id is an error)"},
                        "hospital_grade": {"type": "string", "enum": ["3A", "2A", "private", "三甲", "二甲", "民营"],
                                           "description": "Ignored when the hospital is known (master data wins)"},
                        "source": {"type": "string", "enum": list(LeadSource.values), "default": "website",
                                   "description": "Source channel; the Chinese labels (官网, 展会, 转介绍 …) are accepted too"},
                        "note": {"type": "string", "maxLength": 2000},
                        "consent": {
                            "type": "object", "required": ["version", "given_at", "channel"],
                            "description": "P1: the person's consent to the privacy notice. Required unless the source is configured "
                                           "as collecting consent elsewhere (400 naming `consent` otherwise)",
                            "properties": {"version": {"type": "string", "maxLength": 20}, "given_at": {"type": "string", "format": "date-time"},
                                           "channel": {"type": "string", "maxLength": 40}},
                        },
                    },
                    "example": {"name": "王主任", "phone": "13800001111", "product_model": "AK-HIP-01",
                                "hospital": "浙江省人民医院", "hospital_grade": "3A", "source": "website", "note": "想了解髋关节集采价格",
                                "consent": {"version": "v1", "given_at": "2026-12-02T10:00:00+08:00", "channel": "website"}},
                },
                "LeadOut": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "status": {"type": "string", "enum": ["new", "assigned", "acknowledged", "contacted", "converted", "closed"],
                                   "description": "`new` on a 201: kept but not assigned yet (nobody free, or assignment failed); "
                                                  "the sweep assigns it within a minute or two"},
                        "assignee": {"oneOf": [{"type": "null"}, {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}}]},
                        "assigned_in_ms": {"type": ["number", "null"], "description": "From receiving the request to the committed assignment"},
                        "duplicate": {"type": "boolean"},
                    },
                },
                "CallEvent": {
                    "type": "object",
                    "required": ["event_id", "event_type", "external_ref", "status"],
                    "properties": {
                        "event_id": {"type": "string", "description": "Deduplicated: a repeated event_id changes nothing"},
                        "event_type": {"type": "string", "example": "call.completed"},
                        "external_ref": {"type": "string", "description": "The external_ref of our call request"},
                        "attempt": {"type": "integer", "minimum": 1},
                        "status": {"type": "string", "enum": list(CALL_STATUSES)},
                        "talk_seconds": {"type": "integer", "minimum": 0},
                        "answered_at": {"type": "string", "format": "date-time"},
                        "ended_at": {"type": "string", "format": "date-time"},
                        "hangup_by": {"type": "string"},
                        "intent": {"type": "string"},
                        "transcript": {"type": "array", "items": {"type": "object"}},
                        "recording_url": {"type": "string", "format": "uri"},
                    },
                },
                "Errors": ERRORS,
            }
        },
    }
