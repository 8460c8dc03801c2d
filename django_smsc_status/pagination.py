"""Page numbers without counting millions of rows (issue 23).

Django's paginator (the admin's and DRF's page-number pagination) runs an exact ``COUNT(*)``
of the filtered messages for every page: linear in the table, seconds at ten million rows.
:class:`CappedPaginator` counts at most up to a limit instead — ``COUNT_LIMIT`` rows, or
further when the requested page lies beyond them, since reading that page with ``OFFSET``
costs as much anyway — so the count costs no more than the page, whatever the table's size.
When it stops counting it says so (``is_exact``), and the pages it has counted, the page
after and every page the table does hold still work; a page past the last row is an
:class:`~django.core.paginator.EmptyPage`, as with Django's paginator.

On PostgreSQL an unfiltered list past the cap may use the planner's estimate of the table's
rows instead of "more than" (``estimate=True``, the admin changelist: "about 10,000,000 sent
messages"): one EXPLAIN, no rows read; below the cap the count is exact (an estimate lags
behind a bulk delete until the next ANALYZE). Filtered lists are counted (capped), never
estimated: an estimate of a filter can be wrong by orders of magnitude.
"""

from __future__ import annotations

import json

from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.utils.functional import cached_property

#: Rows counted before a list says "more than": 200 pages of 50. On PostgreSQL counting them
#: through an index takes a few milliseconds.
COUNT_LIMIT = 10_000

#: No count or offset reaches beyond this (every database takes it as a LIMIT/OFFSET);
#: a page past it is an empty page, not a database error.
MAX_ROWS = 2**31 - 1


def count_up_to(queryset: QuerySet, limit: int) -> int:
    """The rows of ``queryset``, counted up to ``limit + 1`` at most:
    ``SELECT COUNT(*) FROM (SELECT ... LIMIT limit + 1)``."""
    return queryset.order_by()[: limit + 1].count()


def planner_estimate(queryset: QuerySet) -> int | None:
    """PostgreSQL's estimate of the rows ``queryset`` selects (EXPLAIN's plan rows: the
    table's ``reltuples`` scaled to its current size when unfiltered); ``None`` on other
    databases."""
    if connections[queryset.db].vendor != "postgresql":
        return None
    plan = json.loads(queryset.order_by().explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])


def is_unfiltered(queryset: QuerySet) -> bool:
    """Every row of the table: no WHERE, no DISTINCT, no slice (what an estimate can stand
    for)."""
    query = queryset.query
    return not query.where and not query.distinct and not query.is_sliced


class CappedPaginator(Paginator):
    """A paginator whose ``count`` is exact up to ``counted_to`` rows (``count_limit``, or the
    end of the requested ``page`` if further), then a lower bound: ``counted_to + 1``,
    meaning "more than ``counted_to``" (so the next page is always known to exist). With
    ``estimate=True`` an unfiltered queryset on PostgreSQL is counted by the planner's
    estimate when that is beyond ``counted_to``.

    ``is_exact``, ``is_estimate`` and ``counted_to`` say which (read them after ``count``)."""

    count_limit = COUNT_LIMIT

    def __init__(
        self,
        object_list,
        per_page,
        orphans: int = 0,
        allow_empty_first_page: bool = True,
        *,
        page: object = 1,
        estimate: bool = False,
        count_limit: int | None = None,
    ) -> None:
        super().__init__(object_list, per_page, orphans, allow_empty_first_page)
        if count_limit is not None:
            self.count_limit = count_limit
        try:
            wanted = int(page)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            wanted = 1
        per_page = max(int(self.per_page), 1)
        # Count through the requested page and one row past it (is there a next page?).
        self.counted_to = min(max(self.count_limit, wanted * per_page + self.orphans), MAX_ROWS)
        self.estimate = estimate
        self.is_exact = True
        self.is_estimate = False

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):
            return super().count  # a list: len()
        counted = count_up_to(queryset, self.counted_to)
        self.is_exact = counted <= self.counted_to
        if not self.is_exact and self.estimate and is_unfiltered(queryset):
            # past the cap only: an estimate can lag far behind the table (after a bulk
            # delete or a prune, until the next ANALYZE) and must not stand for a small one
            guess = planner_estimate(queryset)
            if guess is not None and guess > self.counted_to:
                self.is_estimate = True
                return guess
        return counted

    def get_elided_page_range(self, number=1, *, on_each_side=3, on_ends=2):
        """Django's, without the last pages of an estimate: they may not exist, and OFFSET
        makes them the slowest. (Counted pages exist: counting read their rows.)"""
        pages = super().get_elided_page_range(number, on_each_side=on_each_side, on_ends=on_ends)
        if not self.is_estimate:
            yield from pages
            return
        last_shown = number + on_each_side
        shown = []
        for page in pages:
            if page != self.ELLIPSIS and page > last_shown:
                break
            shown.append(page)
        while shown and shown[-1] == self.ELLIPSIS:
            shown.pop()
        yield from shown
        if self.num_pages > last_shown:
            yield self.ELLIPSIS
