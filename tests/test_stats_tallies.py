"""The per-day tallies (PostgreSQL) answer exactly what a direct GROUP BY answers.

After random inserts, status, account and operator changes, deletes and prunes, and while
sweeping OS processes write (concurrent compaction included), ``stats(..., tally=...)`` equals
the live ``stats(...)`` for every grouping and every filter the tallies can take, in a constant
number of queries. On SQLite and MariaDB there are no tallies: the same calls are live (the
comparisons still run, and show the fallback).
"""

from __future__ import annotations

import random
import time
from dataclasses import replace
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from django_smsc_status import retention, service, stats_tallied, tallies
from django_smsc_status.models import SentMessage, StatsTally, StatsTallyDelta
from django_smsc_status.stats import GROUPS, TallyFilter

UTC = dt_timezone.utc
PG = pytest.mark.skipif("connection.vendor != 'postgresql'")
GROUPINGS = [*GROUPS, None]
STATUSES = [None, -1, 0, 1, 2, 3, 4, 20, 22, 25, 102]
FINAL = {1, 3, 4, 20, 22, 25}
OPERATORS = ["MTS", "Beeline", "", "Tele2"]
REGIONS = ["Moscow", "Kazan", "", "Omsk"]
ACCOUNTS = ["default", "kz", "old"]


def messages_queryset(spec: TallyFilter):
    """What the API's filters make of ``spec``."""
    qs = SentMessage.objects.all()
    if spec.sent_after is not None:
        qs = qs.filter(sent_at__gte=spec.sent_after)
    if spec.sent_before is not None:
        qs = qs.filter(sent_at__lt=spec.sent_before)
    if spec.account is not None:
        qs = qs.filter(account=spec.account)
    if spec.statuses is not None:
        codes = [s for s in spec.statuses if s is not None]
        none = Q(status__isnull=True) if None in spec.statuses else Q(pk__in=[])
        qs = qs.filter(Q(status__in=codes) | none)
    if spec.is_final is not None:
        qs = qs.filter(is_final=spec.is_final)
    return qs


def specs(now: datetime) -> list[TallyFilter]:
    tz = timezone.get_default_timezone()
    midnight = datetime.combine(
        (now - timedelta(days=10)).astimezone(tz).date(), datetime.min.time(), tzinfo=tz
    )
    return [
        TallyFilter(),
        TallyFilter(account="kz"),
        TallyFilter(statuses=(1, 20)),
        TallyFilter(statuses=(None, -1)),
        TallyFilter(is_final=False),
        TallyFilter(is_final=True, account="default"),
        TallyFilter(sent_after=midnight),  # a whole day
        TallyFilter(sent_after=midnight + timedelta(hours=5, minutes=7)),  # a partial first day
        TallyFilter(sent_before=midnight + timedelta(days=3, hours=13)),
        TallyFilter(sent_after=midnight - timedelta(days=5), sent_before=midnight + timedelta(days=1)),
        TallyFilter(sent_after=midnight + timedelta(hours=1), sent_before=midnight + timedelta(hours=2)),
        TallyFilter(sent_after=now - timedelta(days=30), statuses=(1,), account="kz", is_final=True),
        TallyFilter(sent_after=datetime(9999, 12, 31, 23, tzinfo=UTC)),  # the API takes these
        TallyFilter(sent_before=datetime(1, 1, 1, 1, tzinfo=UTC)),
        TallyFilter(
            sent_after=datetime(1, 1, 1, 1, tzinfo=UTC), sent_before=datetime(9999, 12, 31, 23, tzinfo=UTC)
        ),
        TallyFilter(sent_after=now + timedelta(hours=1)),
    ]


def assert_exact(now: datetime | None = None) -> None:
    """Every grouping and filter: the tallied answer is the live one."""
    if connection.vendor == "postgresql":
        assert stats_tallied.usable()
    for spec in specs(now or timezone.now()):
        qs = messages_queryset(spec)
        for group_by in GROUPINGS:
            live = service.stats(qs, group_by)
            tallied = service.stats(qs, group_by, tally=spec)
            assert tallied == live, (spec, group_by)
            assert service.stats(qs, group_by, limit=2, tally=spec) == live[:2], (spec, group_by)


def random_message(rng: random.Random, i: int, now: datetime) -> SentMessage:
    sent = now - timedelta(seconds=rng.randrange(0, 40 * 86400))
    if rng.random() < 0.03:
        sent = datetime(1999, 12, 31, 23, 30, tzinfo=UTC)  # before the window: no day
    elif rng.random() < 0.03:
        sent = now + timedelta(days=rng.choice([0.5, 3]))  # tomorrow and later: live
    status = rng.choice(STATUSES)
    final = status in FINAL
    return SentMessage(
        smsc_id=str(10_000 + i),
        phone=f"7999{i:07d}",
        account=rng.choice(ACCOUNTS),
        sent_at=None if rng.random() < 0.1 else sent,
        created_at=sent,
        status=status,
        err=rng.choice([None, 0, 1, 7]),
        is_final=final,
        operator=rng.choice(OPERATORS),
        region=rng.choice(REGIONS),
        cost=rng.choice([None, Decimal("1.5000"), Decimal("2.2500")]),
        status_changed_at=sent + timedelta(seconds=rng.randrange(1, 4000) + rng.random()) if final else None,
    )


def change_randomly(rng: random.Random, now: datetime, rounds: int) -> None:
    pks = list(SentMessage.objects.values_list("pk", flat=True))
    for _ in range(rounds):
        pk = rng.choice(pks)
        what = rng.randrange(6)
        qs = SentMessage.objects.filter(pk=pk)
        if what == 0:
            status = rng.choice(STATUSES)
            qs.update(
                status=status,
                is_final=status in FINAL,
                status_changed_at=now - timedelta(seconds=rng.randrange(9000)),
            )
        elif what == 1:
            qs.update(account=rng.choice(ACCOUNTS), operator=rng.choice(OPERATORS))
        elif what == 2:
            message = qs.first()
            if message:  # save(): every column written, the WHEN clause sorts out the rest
                message.region, message.cost = rng.choice(REGIONS), Decimal("0.7500")
                message.save()
        elif what == 3:
            qs.delete()
        elif what == 4:
            qs.update(next_check_at=now, check_attempts=3)  # the sweep's bookkeeping: no delta
        else:
            qs.update(sent_at=now - timedelta(days=rng.randrange(20), hours=rng.randrange(24)))


@pytest.mark.django_db
@pytest.mark.parametrize("zone", ["UTC", "Europe/Moscow", "America/New_York"])
def test_tallies_equal_a_direct_group_by_after_random_changes(zone):
    rng = random.Random(23)
    with override_settings(TIME_ZONE=zone):
        tallies.install() if tallies.enabled() else None  # the days of this zone
        now = timezone.now()
        SentMessage.objects.bulk_create(random_message(rng, i, now) for i in range(400))
        assert_exact()  # from the deltas alone
        tallies.compact()
        assert_exact()
        change_randomly(rng, now, 300)
        assert_exact()  # tallies and new deltas
        tallies.compact()
        assert_exact()
        if tallies.enabled():
            assert not StatsTallyDelta.objects.exists()
            assert not StatsTally.objects.filter(n=0).exists()  # emptied groups go


@pytest.mark.django_db
def test_a_recount_matches_the_triggers():
    """``install`` (the migration's backfill, ``--rebuild``) counts what the triggers counted."""
    if not tallies.enabled():
        pytest.skip("tallies are PostgreSQL's")
    rng = random.Random(5)
    now = timezone.now()
    SentMessage.objects.bulk_create(random_message(rng, i, now) for i in range(300))
    change_randomly(rng, now, 200)
    tallies.compact()
    columns = ("kind", "day", "hour", "account", "key", "status", "is_final", "has_sent", "n", "cost")
    kept = set(StatsTally.objects.values_list(*columns))
    tallies.install()
    assert set(StatsTally.objects.values_list(*columns)) == kept and kept


def test_coverage_takes_whole_hours_at_the_edges_across_the_clock_changes():
    """New York: on 2026-11-01 the hour from 1:00 comes twice (one tally hour, two real ones),
    on 2026-03-08 the hour from 2:00 never comes. Only whole tally hours are read from the
    tallies; the rest of the range is live."""
    with override_settings(TIME_ZONE="America/New_York"):
        now = datetime(2026, 12, 7, tzinfo=UTC)
        first_1_30, second_1_30 = (
            datetime(2026, 11, 1, 5, 30, tzinfo=UTC),
            datetime(2026, 11, 1, 6, 30, tzinfo=UTC),
        )
        for after in (first_1_30, second_1_30):
            cover = stats_tallied.coverage(TallyFilter(sent_after=after), hourly=True, now=now)
            assert cover.start == datetime(2026, 11, 1, 7, tzinfo=UTC)  # 2:00 EST: after both 1:00s
            assert cover.hours == (((date(2026, 11, 1), 2), (date(2026, 11, 2), 0)),)
            assert cover.days == (date(2026, 11, 2), date(2026, 12, 7))
            daily = stats_tallied.coverage(TallyFilter(sent_after=after), hourly=False, now=now)
            assert daily.start == datetime(2026, 11, 2, 5, tzinfo=UTC) and daily.hours == ()
        before = stats_tallied.coverage(TallyFilter(sent_before=second_1_30), hourly=True, now=now)
        assert before.end == datetime(2026, 11, 1, 5, tzinfo=UTC)  # 1:00 EDT: both 1:00s live
        assert before.hours == (((date(2026, 11, 1), 0), (date(2026, 11, 1), 1)),)
        spring = stats_tallied.coverage(
            TallyFilter(
                sent_after=datetime(2026, 3, 8, 6, 30, tzinfo=UTC),  # 1:30 EST
                sent_before=datetime(2026, 3, 8, 9, 10, tzinfo=UTC),  # 5:10 EDT
            ),
            hourly=True,
            now=now,
        )
        assert (spring.start, spring.end) == (
            datetime(2026, 3, 8, 7, tzinfo=UTC),
            datetime(2026, 3, 8, 9, tzinfo=UTC),
        )
        assert spring.hours == (((date(2026, 3, 8), 3), (date(2026, 3, 8), 5)),)  # 3:00 EDT: first after 1:30
        assert spring.days[0] == spring.days[1]  # no whole day
        inside_an_hour = TallyFilter(
            sent_after=datetime(2026, 5, 1, 12, 5, tzinfo=UTC),
            sent_before=datetime(2026, 5, 1, 12, 55, tzinfo=UTC),
        )
        empty = stats_tallied.coverage(inside_an_hour, hourly=True, now=now)
        assert empty.start == empty.end and empty.hours == ()


#: Clock changes of every shape a tally unit can be split by (found by a review): an hour
#: repeated (New York, Lord Howe's half hour), an hour skipped, a jump back over an hour's
#: start (Troll: 3:00 to 1:00; Chatham: 3:45 to 2:45) or over midnight (St John's, 2006:
#: 0:01 to 23:01 of the day before), a jump forward from 2:45 (Chatham). Instants in UTC.
CLOCK_CHANGES = [
    ("America/New_York", datetime(2026, 11, 1, 6, tzinfo=UTC)),
    ("America/New_York", datetime(2026, 3, 8, 7, tzinfo=UTC)),
    ("Australia/Lord_Howe", datetime(2026, 4, 4, 15, tzinfo=UTC)),
    ("Antarctica/Troll", datetime(2026, 10, 25, 1, tzinfo=UTC)),
    ("Pacific/Chatham", datetime(2026, 4, 4, 14, tzinfo=UTC)),
    ("Pacific/Chatham", datetime(2026, 9, 26, 14, tzinfo=UTC)),
    ("America/St_Johns", datetime(2006, 10, 29, 2, 31, tzinfo=UTC)),
]


@pytest.mark.parametrize(("zone", "change"), CLOCK_CHANGES)
def test_coverage_never_splits_a_tally_unit(zone, change):
    """Minute by minute over 30 hours around each change: an instant is answered by the tallies
    exactly when the tally unit (local hour or day, as PostgreSQL keys it) it falls in is read
    whole; for bounds every 15 minutes and a second either side of the change."""
    with override_settings(TIME_ZONE=zone):
        tz = timezone.get_default_timezone()
        samples = [change + timedelta(minutes=m) for m in range(-15 * 60, 15 * 60)]
        bounds = [change + timedelta(minutes=15 * k) for k in range(-40, 40)]
        bounds += [change + timedelta(seconds=d) for d in (-1, 0, 1)]
        specs = [TallyFilter(sent_after=b) for b in bounds] + [TallyFilter(sent_before=b) for b in bounds]
        specs += [TallyFilter(sent_after=b, sent_before=b + timedelta(minutes=100)) for b in bounds]
        for spec in specs:
            for hourly in (True, False):
                cover = stats_tallied.coverage(spec, hourly=hourly, now=datetime(2026, 12, 7, tzinfo=UTC))
                assert spec.sent_after is None or cover.start >= spec.sent_after or cover.start == cover.end
                assert spec.sent_before is None or cover.end <= spec.sent_before or cover.start == cover.end
                for moment in samples:
                    local = moment.astimezone(tz)
                    key = (local.date(), local.hour)
                    read = cover.days[0] <= key[0] < cover.days[1] or any(
                        a <= key < b for a, b in cover.hours
                    )
                    assert read == (cover.start <= moment < cover.end), (spec, hourly, moment, cover)


@PG
@pytest.mark.django_db
@pytest.mark.parametrize(("zone", "change"), CLOCK_CHANGES)
def test_hour_edges_are_exact_around_a_clock_change(zone, change):
    """Messages every 7 minutes around each clock change; ranges starting and ending every 40
    minutes and at the change: the tallied answer (hour rows at the edges) is the live one."""
    rng = random.Random(change.toordinal())
    with override_settings(TIME_ZONE=zone):
        tallies.install()
        start = change - timedelta(hours=6)
        messages = []
        for i in range(100):
            message = random_message(rng, i, start)
            message.created_at = start + timedelta(minutes=7 * i)
            message.sent_at = message.created_at if i % 5 else None
            if message.is_final:
                message.status_changed_at = message.created_at + timedelta(seconds=rng.randrange(1, 900))
            messages.append(message)
        SentMessage.objects.bulk_create(messages)
        tallies.compact()
        bounds = [start + timedelta(minutes=step) for step in range(0, 11 * 60, 40)] + [change]
        for after in bounds:
            for spec in (
                TallyFilter(sent_after=after),
                TallyFilter(sent_after=after, sent_before=after + timedelta(minutes=95)),
                TallyFilter(sent_before=after, account="kz"),
            ):
                qs = messages_queryset(spec)
                for group_by in (None, "day", "region", "status"):
                    assert service.stats(qs, group_by, tally=spec) == service.stats(qs, group_by), (
                        spec,
                        group_by,
                    )
        tallies.install()


@PG
@pytest.mark.django_db
def test_a_range_from_a_time_of_day_reads_its_first_hours_from_the_tallies():
    """``sent_after`` at 5:07: 5:07-6:00 live, 6:00-24:00 from the hour rows, later days from
    the day rows; ``region`` without an account or status filter from ``reg_all``."""
    rng = random.Random(3)
    now = timezone.now()
    SentMessage.objects.bulk_create(random_message(rng, i, now) for i in range(200))
    tallies.compact()
    midnight = datetime.combine(
        (now - timedelta(days=10)).astimezone(timezone.get_default_timezone()).date(),
        datetime.min.time(),
        tzinfo=timezone.get_default_timezone(),
    )
    spec = TallyFilter(sent_after=midnight + timedelta(hours=5, minutes=7))
    for group_by, kind in (("day", "err"), ("region", "reg_all"), ("operator", "operator")):
        with CaptureQueriesContext(connection) as queries:
            rows = service.stats(messages_queryset(spec), group_by, tally=spec)
        sql = queries.captured_queries[-1 if group_by != "day" else -2]["sql"]
        assert f"kind = '{kind}'" in sql and f"kind = '{kind}:h'" in sql, group_by
        assert rows == service.stats(messages_queryset(spec), group_by)
    cover = stats_tallied.coverage(spec, hourly=True)
    assert cover.start == midnight + timedelta(hours=6)
    assert stats_tallied.coverage(replace(spec, account="kz"), hourly=False).start == midnight + timedelta(
        days=1
    )


@pytest.mark.django_db
def test_the_sweeps_bookkeeping_writes_no_delta():
    if not tallies.enabled():
        pytest.skip("tallies are PostgreSQL's")
    message = SentMessage.objects.create(smsc_id="1", phone="79990000001", sent_at=timezone.now())
    assert StatsTallyDelta.objects.count() == 1
    SentMessage.objects.filter(pk=message.pk).update(
        next_check_at=timezone.now(), check_attempts=2, last_checked_at=timezone.now(), refresh_queued_at=None
    )
    message.save()  # every column written, none changed
    assert StatsTallyDelta.objects.count() == 1
    SentMessage.objects.filter(pk=message.pk).update(
        status=1, is_final=True, status_changed_at=timezone.now()
    )
    assert StatsTallyDelta.objects.count() == 3  # -1 as it was, +1 as it is


@pytest.mark.django_db
def test_prune_keeps_the_tallies_exact():
    rng = random.Random(7)
    now = timezone.now()
    SentMessage.objects.bulk_create(random_message(rng, i, now) for i in range(300))
    tallies.compact()
    retention.prune(None, 20, batch_size=50)
    assert SentMessage.objects.count() < 300
    assert_exact()
    tallies.compact()
    assert_exact()


@pytest.mark.django_db
@pytest.mark.parametrize("group_by", GROUPINGS)
def test_queries_per_request_are_constant(group_by):
    rng = random.Random(1)
    now = timezone.now()
    counts = []
    for size in (20, 400):
        SentMessage.objects.bulk_create(random_message(rng, i + len(counts) * 1000, now) for i in range(size))
        spec = TallyFilter(sent_after=now - timedelta(days=7, hours=3))
        with CaptureQueriesContext(connection) as queries:
            service.stats(messages_queryset(spec), group_by, tally=spec)
        counts.append(len(queries))
    assert counts[0] == counts[1]
    if tallies.enabled():  # the time zone, the figures, and the histogram for medians
        assert counts[0] == (3 if group_by in (None, "day") else 2)


# -- concurrent sweeps and compactions (real processes) ---------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_exact_under_concurrent_sweeps_and_compactions(fast_polling, smsc_simulator, tracked, spawn):
    """Three sweeping processes and one compacting over and over while the statuses change:
    no deadlock, no error, and afterwards the tallies are the direct GROUP BY."""
    if not tallies.enabled():
        pytest.skip("tallies are PostgreSQL's")
    smsc_simulator.smsc.latency = 0.01
    messages = [tracked((-1,), (0,), (1,), by_checks=True) for _ in range(60)]
    SentMessage.objects.filter(pk__in=[m.pk for m in messages[::3]]).update(operator="MTS", region="Omsk")
    workers = [spawn("sweep", 8) for _ in range(3)]
    compactor = spawn("compact", 8)
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        tallies.compact()
        assert_exact()
        time.sleep(0.2)
    for process in [*workers, compactor]:
        out, _ = process.communicate(timeout=60)
        assert process.returncode == 0, out
    assert SentMessage.objects.filter(is_final=True).exists()
    assert_exact()
    tallies.compact()
    assert_exact()
    assert not StatsTallyDelta.objects.exists()


# -- the API and the admin report take the fast path, with the same answers --------------------

#: A filter the tallies cannot take that selects every message: the same request, counted live.
FORCE_LIVE = {"created_after": "1990-01-01T00:00:00Z"}


def used_tallies(queries) -> bool:
    """Read the tallies (the log is cleared at the next request: call it right after one)."""
    return any(StatsTally._meta.db_table in query["sql"] for query in queries.captured_queries)


@pytest.fixture
def api(staff):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(staff)
    return client


@pytest.mark.django_db
def test_the_api_answers_from_the_tallies(api):
    rng = random.Random(11)
    now = timezone.now()
    SentMessage.objects.bulk_create(random_message(rng, i, now) for i in range(300))
    tallies.compact()
    week = (now - timedelta(days=7, hours=2)).isoformat()
    for params in (
        {},
        {"account": "kz"},
        {"status": "1,20", "sent_after": week},
        {"state": "pending"},
        {"state": "final", "is_final": "true", "sent_before": now.isoformat()},
        {"sent_after": "9999-12-31T23:00:00Z"},
        {"sent_before": "0001-01-01T01:00:00Z"},
    ):
        for group_by in [*GROUPS, "none"]:
            query = {**params, "group_by": group_by, "limit": 3}
            with CaptureQueriesContext(connection) as queries:
                fast = api.get("/api/smsc/stats/", query)
            assert used_tallies(queries) == tallies.enabled(), query  # before the next request clears them
            with CaptureQueriesContext(connection) as queries:
                live = api.get("/api/smsc/stats/", {**query, **FORCE_LIVE})
            assert not used_tallies(queries)
            assert fast.status_code == live.status_code == 200
            assert fast.json() == live.json(), query
    for beyond in (
        {"state": "due"},
        {"phone": "79990000001"},
        {"err": "1"},
        {"state": "pending", "is_final": "true"},
    ):
        with CaptureQueriesContext(connection) as queries:
            assert api.get("/api/smsc/stats/", beyond).status_code == 200
        assert not used_tallies(queries), beyond


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["1,", ",1", "1,,20", ",", ",,"])
def test_an_empty_item_in_the_status_list_is_no_code(api, status):
    """The list filter's IN drops an empty item; the tallies must not read it as "not checked
    yet" (status NULL). Only empty items: nothing matches, no 500."""
    rng = random.Random(5)
    SentMessage.objects.bulk_create(random_message(rng, i, timezone.now()) for i in range(200))
    assert SentMessage.objects.filter(status__isnull=True).exists()
    tallies.compact()
    query = {"status": status, "group_by": "none"}
    with CaptureQueriesContext(connection) as queries:
        fast = api.get("/api/smsc/stats/", query)
    assert used_tallies(queries) == (tallies.enabled() and status.strip(",") != "")
    live = api.get("/api/smsc/stats/", {**query, **FORCE_LIVE})
    assert fast.status_code == live.status_code == 200
    assert fast.json() == live.json()


@pytest.mark.django_db
def test_the_report_answers_from_the_tallies(admin_client):
    from django.urls import reverse

    rng = random.Random(13)
    now = timezone.now()
    SentMessage.objects.bulk_create(random_message(rng, i, now) for i in range(300))
    report = reverse("admin:django_smsc_status_sentmessage_report")
    since = str(datetime.combine((now - timedelta(days=9)).date(), datetime.min.time(), tzinfo=UTC))
    for params in (
        {},
        {"status": "1"},
        {"state": "final", "account": "kz"},
        {"sent_at__gte": since},
        {"status": "none"},
    ):
        with CaptureQueriesContext(connection) as queries:
            fast = admin_client.get(report, params)
        assert used_tallies(queries) == tallies.enabled(), params  # before the next request clears them
        live = admin_client.get(report, {**params, **FORCE_LIVE_ADMIN})
        for name in ("days", "totals", "sections"):
            assert fast.context[name] == live.context[name], (params, name)
        csv_fast = admin_client.get(report, {**params, "format": "csv", "group": "operator"})
        csv_live = admin_client.get(
            report, {**params, "format": "csv", "group": "operator", **FORCE_LIVE_ADMIN}
        )
        assert b"".join(csv_fast.streaming_content) == b"".join(csv_live.streaming_content)
    with CaptureQueriesContext(connection) as queries:
        admin_client.get(report, {"q": "79990000001"})
    assert not used_tallies(queries)


FORCE_LIVE_ADMIN = {"created_at__gte": "1990-01-01 00:00:00+00:00"}


# -- the time zone, the command, the check ------------------------------------------------------


@pytest.mark.django_db
def test_a_new_time_zone_counts_live_until_rebuilt(capsys):
    from django.core.checks import run_checks
    from django.core.management import call_command

    SentMessage.objects.create(smsc_id="1", phone="79990000001", sent_at=timezone.now())
    with override_settings(TIME_ZONE="Asia/Almaty"):
        warned = [m.id for m in run_checks(databases=["default"])]
        if not tallies.enabled():
            assert "smsc_status.W006" not in warned
            call_command("smsc_status", "tallies", "--rebuild")
            assert "PostgreSQL only" in capsys.readouterr().out
            return
        assert "smsc_status.W006" in warned
        assert not stats_tallied.usable()
        call_command("smsc_status", "tallies", "--rebuild")
        assert "days in Asia/Almaty" in capsys.readouterr().out
        assert stats_tallied.usable()
        assert "smsc_status.W006" not in [m.id for m in run_checks(databases=["default"])]
        SentMessage.objects.create(smsc_id="2", phone="79990000002", sent_at=timezone.now())
        call_command("smsc_status", "tallies")
        assert "1 changes folded" in capsys.readouterr().out
        assert_exact()
    tallies.install()  # back to the settings' zone for the tests after this one


@pytest.mark.django_db
def test_the_scheduled_sweep_and_prune_fold_the_deltas(smsc_settings):
    from django_smsc_status import tasks

    sent = timezone.now() - timedelta(days=40)
    SentMessage.objects.create(smsc_id="1", phone="79990000001", sent_at=sent, created_at=sent, is_final=True)
    tasks.sweep_task(follow=0, time_limit=5)  # nothing due: it only folds
    assert StatsTallyDelta.objects.exists() is False
    smsc_settings["RETENTION"] = {"MESSAGE_DAYS": 30}
    tasks.prune_task()  # deletes that message: one delta, folded
    assert not SentMessage.objects.exists() and not StatsTallyDelta.objects.exists()
    assert not StatsTally.objects.exists()  # its groups emptied and went
