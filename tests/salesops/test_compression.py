"""K5: HTML is compressed where no attacker text is reflected next to a secret (BREACH); static
files are served pre-compressed by WhiteNoise."""

from __future__ import annotations

import gzip

import pytest

pytestmark = pytest.mark.django_db


def test_pages_are_gzipped_unless_the_query_carries_free_text(client, carol):
    """K5: the team list is compressed as it opens and with its filters; a search (`q`) or any
    unknown parameter is answered uncompressed."""
    client.force_login(carol)
    opened = client.get("/leads/team/?state=all&page=1", headers={"accept-encoding": "gzip"})
    assert opened["Content-Encoding"] == "gzip"
    assert "团队线索" in gzip.decompress(opened.content).decode()
    searched = client.get("/leads/team/?q=secret", headers={"accept-encoding": "gzip"})
    assert not searched.has_header("Content-Encoding") and "团队线索" in searched.content.decode()
    odd = client.get("/leads/team/?next=/x", headers={"accept-encoding": "gzip"})
    assert not odd.has_header("Content-Encoding")

