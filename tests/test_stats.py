"""service.stats against hand-counted fixtures: every grouping, the site's time zone, filters."""

from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

import pytest
from django.db import connection

from django_smsc_status import service
from django_smsc_status.models import SentMessage
from django_smsc_status.stats import MEDIAN_VENDORS

pytestmark = pytest.mark.django_db

UTC = dt_timezone.utc


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


#: (sent_at, status, err, is_final, operator, region, cost, seconds to final status)
FIXTURE = [
    (at(1, 10), 1, 0, True, "MTS", "Moscow", "1.50", 60),
    (at(1, 11), 1, 0, True, "MTS", "Moscow", "1.50", 120),
    (at(1, 22, 30), 20, 1, True, "Beeline", "Kazan", "2.00", 300),  # 2 Nov in Moscow
    (at(2, 9), -1, None, False, "MTS", "", None, None),
    (at(2, 12), 2, 0, True, "Beeline", "Moscow", "3.25", 30),
    (None, 22, 0, True, "", "", "0.00", 600),  # never knew sent_at: created_at counts
    (None, None, None, False, "", "", None, None),  # not checked yet
]
CREATED = {5: at(3, 8), 6: at(3, 10)}


@pytest.fixture
def messages(smsc_settings):
    rows = []
    for i, (sent, status, err, final, operator, region, cost, seconds) in enumerate(FIXTURE):
        start = sent or CREATED[i]
        rows.append(
            SentMessage(
                smsc_id=str(500 + i),
                phone=f"7999000{i:04d}",
                sent_at=sent,
                created_at=start,
                status=status,
                err=err,
                is_final=final,
                operator=operator,
                region=region,
                cost=Decimal(cost) if cost else None,
                status_changed_at=start + timedelta(seconds=seconds) if seconds else None,
            )
        )
    SentMessage.objects.bulk_create(rows)


def figures(rows, *names):
    return {row["key"]: tuple(row[n] for n in names) for row in rows}


FIELDS = ("total", "delivered", "failed", "pending", "delivery_rate", "cost", "median_seconds")


def d(value: str) -> Decimal:
    return Decimal(value)


def med(seconds: float | None) -> float | None:
    """The median expected where the database computes one (README: not on MariaDB/MySQL)."""
    return seconds if connection.vendor in MEDIAN_VENDORS else None


def test_by_day_in_utc(messages):
    rows = service.stats(SentMessage.objects.all(), "day")
    assert [row["key"] for row in rows] == [date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)]
    assert figures(rows, *FIELDS) == {
        date(2026, 11, 1): (3, 2, 1, 0, 0.6667, d("5.0000"), med(120.0)),
        date(2026, 11, 2): (2, 1, 0, 1, 1.0, d("3.2500"), med(30.0)),
        date(2026, 11, 3): (2, 0, 1, 1, 0.0, d("0.0000"), med(600.0)),
    }
    assert rows[0]["label"] == "2026-11-01"


def test_by_day_follows_the_site_time_zone(messages, settings):
    settings.TIME_ZONE = "Europe/Moscow"  # UTC+3: 22:30 UTC on 1 Nov is 2 Nov
    rows = service.stats(SentMessage.objects.all(), "day")
    assert figures(rows, *FIELDS) == {
        date(2026, 11, 1): (2, 2, 0, 0, 1.0, d("3.0000"), med(90.0)),
        date(2026, 11, 2): (3, 1, 1, 1, 0.5, d("5.2500"), med(165.0)),
        date(2026, 11, 3): (2, 0, 1, 1, 0.0, d("0.0000"), med(600.0)),
    }


def test_by_operator_largest_first(messages):
    rows = service.stats(SentMessage.objects.all(), "operator")
    assert [row["key"] for row in rows] == ["MTS", "", "Beeline"]
    assert figures(rows, *FIELDS[:6]) == {
        "MTS": (3, 2, 0, 1, 1.0, d("3.0000")),
        "Beeline": (2, 1, 1, 0, 0.5, d("5.2500")),
        "": (2, 0, 1, 1, 0.0, d("0.0000")),
    }
    assert rows[1]["label"] == "unknown"
    assert {row["median_seconds"] for row in rows} == {None}  # medians only per day and overall


def test_by_region(messages):
    rows = service.stats(SentMessage.objects.all(), "region")
    assert [row["key"] for row in rows] == ["", "Moscow", "Kazan"]
    assert figures(rows, *FIELDS[:6]) == {
        "Moscow": (3, 3, 0, 0, 1.0, d("6.2500")),
        "Kazan": (1, 0, 1, 0, 0.0, d("2.0000")),
        "": (3, 0, 1, 2, 0.0, d("0.0000")),
    }


def test_by_err_with_labels(messages):
    rows = service.stats(SentMessage.objects.all(), "err")
    assert [row["key"] for row in rows] == [0, None, 1]
    assert figures(rows, *FIELDS[:6]) == {
        0: (4, 3, 1, 0, 0.75, d("6.2500")),
        None: (2, 0, 0, 2, None, d("0.0000")),
        1: (1, 0, 1, 0, 0.0, d("2.0000")),
    }
    assert rows[2]["label"] == "Subscriber does not exist"


def test_by_status_unchecked_last(messages):
    rows = service.stats(SentMessage.objects.all(), "status")
    assert [row["key"] for row in rows] == [1, -1, 2, 20, 22, None]
    assert figures(rows, "total", "delivered", "failed", "pending", "cost") == {
        1: (2, 2, 0, 0, d("3.0000")),
        -1: (1, 0, 0, 1, d("0.0000")),
        2: (1, 1, 0, 0, d("3.2500")),
        20: (1, 0, 1, 0, d("2.0000")),
        22: (1, 0, 1, 0, d("0.0000")),
        None: (1, 0, 0, 1, d("0.0000")),
    }


def test_whole_queryset_and_filters(messages):
    (everything,) = service.stats(SentMessage.objects.all(), None)
    assert tuple(everything[f] for f in FIELDS) == (7, 3, 2, 2, 0.6, d("8.2500"), med(120.0))
    mts = service.stats(SentMessage.objects.filter(operator="MTS"), "day")
    assert figures(mts, *FIELDS) == {
        date(2026, 11, 1): (2, 2, 0, 0, 1.0, d("3.0000"), med(90.0)),
        date(2026, 11, 2): (1, 0, 0, 1, None, d("0.0000"), None),
    }
    assert service.stats(SentMessage.objects.none(), "region") == []


def test_combined_rows_equal_the_whole(messages):
    whole = service.stats(SentMessage.objects.all(), None)[0]
    for group_by in ("day", "operator", "err"):
        combined = service.combine_stats(service.stats(SentMessage.objects.all(), group_by))
        assert {f: combined[f] for f in FIELDS[:6]} == {f: whole[f] for f in FIELDS[:6]}


def test_ordering_of_the_queryset_does_not_split_groups(messages):
    rows = service.stats(SentMessage.objects.order_by("-created_at", "phone"), "operator")
    assert len(rows) == 3


def test_limit_keeps_the_largest(messages):
    rows = service.stats(SentMessage.objects.all(), "operator", limit=1)
    assert [row["key"] for row in rows] == ["MTS"]


def test_unknown_grouping_is_a_clear_error(messages):
    with pytest.raises(ValueError, match="group_by must be one of day, operator"):
        service.stats(SentMessage.objects.all(), "phone")


def test_median_counts_final_messages_only(smsc_settings):
    """A pending message whose status changed (at the operator) has a change time too; the
    median time to the *final* status leaves it out (Django 6.0 dropped an aggregate's
    ``filter=`` from our median's SQL: it counted such messages)."""
    for i, (final, seconds) in enumerate([(True, 60), (False, 1000), (False, 2000)]):
        SentMessage.objects.create(
            smsc_id=str(700 + i),
            phone=f"7999111{i:04d}",
            sent_at=at(4, 10),
            status=1 if final else 0,
            is_final=final,
            status_changed_at=at(4, 10) + timedelta(seconds=seconds),
        )
    (row,) = service.stats(SentMessage.objects.all(), "day")
    assert row["median_seconds"] == med(60.0)
