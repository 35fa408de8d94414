"""django-q2 entry points. The schedule `scoring.sweep` (data migration 0002) runs `sweep` every
minute; it is idempotent, so an overlapping or repeated run adds nothing."""

from __future__ import annotations


def sweep() -> dict[str, int]:
    from .services import scoring_sweep

    return scoring_sweep()
