"""Pages of long lists without counting the table (K1).

`Paginator` counts every matching row to print "page 3 / 3,334" — at a million rows that COUNT
costs more than the page itself. A `ListPage` reads one row more than it shows to know whether a
next page exists, and reads the list as a chain of index-ordered segments, so the database never
sorts the whole table either. Page numbers stay (`?page=3`), the total does not.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from django.db.models import QuerySet


class ListPage:
    """Quacks like `django.core.paginator.Page` for the pager templates (no `paginator.num_pages`)."""

    paginator = None  # no total: the pager prints the page number only

    def __init__(self, object_list: list, number: int, has_next: bool) -> None:
        self.object_list = object_list
        self.number = number
        self._has_next = has_next

    def __iter__(self) -> Iterator:
        return iter(self.object_list)

    def __len__(self) -> int:
        return len(self.object_list)

    def has_next(self) -> bool:
        return self._has_next

    def has_previous(self) -> bool:
        return self.number > 1

    def has_other_pages(self) -> bool:
        return self.has_next() or self.has_previous()

    def next_page_number(self) -> int:
        return self.number + 1

    def previous_page_number(self) -> int:
        return self.number - 1


def page_number(raw) -> int:
    """`?page=` as a positive int; anything else (missing, "abc", "-3", 23 digits) is page 1."""
    try:
        number = int(str(raw))
    except (TypeError, ValueError):
        return 1
    return number if 1 <= number <= 100_000 else 1


def list_page(segments: Sequence[QuerySet] | QuerySet, raw_number, per_page: int) -> ListPage:
    """The page `raw_number` of the rows of `segments` read one after another (each already ordered,
    ideally by an index). Page 1 costs one query per segment it reaches; a later page also counts
    the segments before the last (never the last, which holds the bulk of the rows)."""
    if isinstance(segments, QuerySet):
        segments = [segments]
    number = page_number(raw_number)
    skip, want, rows = (number - 1) * per_page, per_page + 1, []
    last = len(segments) - 1
    for index, segment in enumerate(segments):
        if want <= 0:
            break
        if skip and index < last:
            # A later page: an earlier segment (short by design: the unacknowledged leads) is
            # counted; if the page starts past it, it is skipped without reading its rows.
            size = segment.count()
            if size <= skip:
                skip -= size
                continue
        chunk = list(segment[skip : skip + want])
        skip = 0
        rows.extend(chunk)
        want -= len(chunk)
    return ListPage(rows[:per_page], number, has_next=len(rows) > per_page)
