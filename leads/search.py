"""Lead text search (K2): name, phone or hospital, one function for every list."""

from __future__ import annotations

from django.db.models import Q

from .models import Lead


def search_lead_ids(query: str):
    """Ids of leads whose contact name, hospital or phone contains `query` (a subquery)."""
    return Lead.objects.filter(
        Q(contact_name__icontains=query) | Q(hospital_name__icontains=query) | Q(phone__contains=query)
    ).values("pk")
