"""Impossible dates (issue 25, item 9): refused at every edge, and harmless once stored.

A message "sent" at 9999-12-31T22:00Z is in year 10000 east of UTC: before, the admin's
changelist, change page and delivery report and the API's ``stats/`` answered 500 until the
row was deleted. Rows written before dates were checked are made here with ``.update()``.
"""

import csv
import io
from datetime import datetime, timedelta, timezone

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone as django_timezone
from rest_framework.test import APIClient

from django_smsc_status import service, validation
from django_smsc_status.models import SentMessage, StatusSnapshot
from django_smsc_status.service import Outcome
from django_smsc_status.simulator import timeline

pytestmark = pytest.mark.django_db
UTC = timezone.utc
YEAR_9999 = datetime(9999, 12, 31, 22, 0, tzinfo=UTC)  # 10000-01-01 in Almaty (UTC+5)
YEAR_1 = datetime(1, 1, 1, 1, 0, tzinfo=UTC)  # 0000-12-31 in New York
PHONE = "79991234567"
ADMIN = "admin:django_smsc_status_sentmessage_"
GROUPS = (None, *service.STATS_GROUPS)  # None: stats/ without group_by (the default, day)

#: (site time zone, a stored time that leaves the calendar there)
BEYOND_CALENDAR = [("Asia/Almaty", YEAR_9999), ("Europe/Moscow", YEAR_9999), ("America/New_York", YEAR_1)]


@pytest.fixture
def api(admin_user):
    client = APIClient()
    client.force_authenticate(admin_user)
    return client


def stored(when: datetime) -> SentMessage:
    """A final message whose times were written before they were checked, with history."""
    message = SentMessage.objects.create(smsc_id="1", phone=PHONE, operator="MTS")
    SentMessage.objects.filter(pk=message.pk).update(
        sent_at=when, status_changed_at=when, status=1, err=0, is_final=True
    )
    StatusSnapshot.objects.create(message=message, status=1, err=0, changed_at=when)  # no check on create
    return message


# -- the rule -------------------------------------------------------------------------------


def test_the_window_is_2000_to_one_day_ahead():
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    for fine in (validation.EARLIEST_DATE, now, now + timedelta(hours=23)):
        assert validation.clean_date(fine, now) == fine
    moscow = datetime(2026, 12, 7, 15, 0, tzinfo=timezone(timedelta(hours=3)))
    assert validation.clean_date(moscow, now) == now and validation.clean_date(moscow, now).tzinfo is UTC
    for impossible in (
        YEAR_9999,
        YEAR_1,
        datetime(1970, 1, 1, tzinfo=UTC),
        validation.EARLIEST_DATE - timedelta(seconds=1),
        now + timedelta(days=1, seconds=1),
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))),  # before year 1 in UTC
        datetime(2026, 12, 7, 12, 0),  # naive: which zone?
    ):
        with pytest.raises(ValidationError) as refused:
            validation.clean_date(impossible, now)
        assert refused.value.code == "date"
    assert validation.clean_date(None) is None


# -- refused at the edges -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "sent_at",
    ["9999-12-31T22:00:00Z", "0001-01-01T00:00:00+05:00", "1999-12-31T23:59:59Z", "2100-01-01T00:00Z"],
)
def test_api_register_refuses_an_impossible_sent_at(api, smsc_settings, sent_at):
    response = api.post(
        "/api/smsc/messages/", {"smsc_id": "1", "phone": PHONE, "sent_at": sent_at}, format="json"
    )
    assert response.status_code == 400 and set(response.json()) - {"type", "code", "detail"} == {"sent_at"}
    assert not SentMessage.objects.exists()


def test_api_register_takes_a_real_sent_at(api, smsc_settings):
    sent = (django_timezone.now() - timedelta(minutes=5)).replace(microsecond=0)
    response = api.post(
        "/api/smsc/messages/", {"smsc_id": "1", "phone": PHONE, "sent_at": sent.isoformat()}, format="json"
    )
    assert response.status_code == 201 and SentMessage.objects.get().sent_at == sent


def test_service_register_refuses_an_impossible_sent_at(smsc_settings):
    """The admin's register form and the command go through service.register too."""
    with pytest.raises(ValidationError):
        service.register("1", PHONE, sent_at=YEAR_9999)
    assert not SentMessage.objects.exists()


@pytest.mark.parametrize("epoch", [YEAR_9999.timestamp(), 0.0], ids=["year-9999", "1970"])
def test_impossible_times_from_smsc_are_not_stored_but_kept_raw(smsc_settings, smsc_simulator, epoch):
    """SMSC answers ``send_timestamp`` and ``last_timestamp`` of that time: the status is taken,
    the times are not (the snapshot's raw answer keeps them), and every page still works."""
    smsc_simulator.smsc.add_message(PHONE, smsc_id="77", sent_at=epoch, steps=timeline((1,)))
    message, _created = service.register("77", PHONE)
    result = service.refresh(message)
    assert result.outcome == Outcome.CHANGED
    message.refresh_from_db()
    assert (message.status, message.sent_at, message.status_changed_at) == (1, None, None)
    snapshot = message.snapshots.get()
    assert snapshot.changed_at is None
    assert snapshot.raw["send_timestamp"] == snapshot.raw["last_timestamp"] == str(int(epoch))
    with override_settings(TIME_ZONE="Asia/Almaty"):
        client = APIClient()
        client.force_login(_superuser())
        assert client.get(reverse(ADMIN + "changelist")).status_code == 200
        assert client.get("/api/smsc/stats/").status_code == 200


def _superuser():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get_or_create(
        username="root", defaults={"is_superuser": True, "is_staff": True}
    )[0]


def test_a_stored_future_change_time_does_not_hold_back_later_statuses(smsc_settings, smsc_simulator):
    """A change time of year 9999 stored before dates were checked made every real answer look
    older, so the message never moved again."""
    smsc_simulator.smsc.add_message(PHONE, smsc_id="78", steps=timeline((1,)))
    message, _created = service.register("78", PHONE)
    SentMessage.objects.filter(pk=message.pk).update(status=-1, status_changed_at=YEAR_9999)
    message.refresh_from_db()
    assert service.refresh(message).outcome == Outcome.CHANGED
    message.refresh_from_db()
    assert message.status == 1 and message.is_final


# -- every page survives a stored impossible date ------------------------------------------------


@pytest.mark.parametrize(("zone", "when"), BEYOND_CALENDAR)
def test_admin_pages_survive_a_stored_impossible_date(admin_client, zone, when):
    message = stored(when)
    with override_settings(TIME_ZONE=zone):
        changelist = admin_client.get(reverse(ADMIN + "changelist"))
        assert changelist.status_code == 200
        assert f"{when.year}" in changelist.content.decode() and " UTC" in changelist.content.decode()
        change = admin_client.get(reverse(ADMIN + "change", args=[message.pk]))
        assert change.status_code == 200 and change.content.decode().count(" UTC") >= 3
        report = admin_client.get(reverse(ADMIN + "report"))
        assert report.status_code == 200
        assert report.context["totals"]["total"] == 1
        assert [(row["key"], row["total"]) for row in report.context["days"]] == [(None, 1)]
        for group in service.STATS_GROUPS:
            response = admin_client.get(reverse(ADMIN + "report"), {"format": "csv", "group": group})
            assert response.status_code == 200, group
            rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
            assert sum(int(row["total"]) for row in rows) == 1
        export = admin_client.post(
            reverse(ADMIN + "changelist"), {"action": "export_csv", "_selected_action": [message.pk]}
        )
        assert export.status_code == 200
        assert when.isoformat() in b"".join(export.streaming_content).decode()


@pytest.mark.parametrize(("zone", "when"), BEYOND_CALENDAR)
def test_api_survives_a_stored_impossible_date(api, zone, when):
    message = stored(when)
    with override_settings(TIME_ZONE=zone):
        listed = api.get("/api/smsc/messages/")
        assert listed.status_code == 200 and listed.json()["results"][0]["sent_at"].startswith(
            f"{when.year:04d}"
        )
        assert api.get(f"/api/smsc/messages/{message.pk}/").status_code == 200
        assert api.get(f"/api/smsc/messages/{message.pk}/snapshots/").status_code == 200
        for group in GROUPS:
            response = api.get("/api/smsc/stats/", {"group_by": group} if group else {})
            assert response.status_code == 200, group
            results = response.json()["results"]
            assert sum(row["total"] for row in results) == 1, group
        day = api.get("/api/smsc/stats/").json()["results"]
        assert [(row["key"], row["label"], row["median_seconds"]) for row in day] == [(None, "unknown", None)]


def test_stats_count_plausible_days_beside_an_impossible_one(api):
    stored(YEAR_9999)
    sent = datetime(2026, 11, 30, 20, 0, tzinfo=UTC)  # 1 December in Almaty
    SentMessage.objects.create(
        smsc_id="2",
        phone=PHONE,
        sent_at=sent,
        status=1,
        is_final=True,
        status_changed_at=sent + timedelta(seconds=30),
    )
    with override_settings(TIME_ZONE="Asia/Almaty"):
        rows = api.get("/api/smsc/stats/").json()["results"]
    assert [(row["key"], row["total"]) for row in rows] == [("2026-12-01", 1), (None, 1)]


# -- query strings that took a page down -----------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "params"),
    [
        ("Asia/Almaty", {"sent_at__gte": "0001-01-01"}),
        ("Asia/Almaty", {"created_at__gte": "0001-01-01 00:00:00"}),
        ("America/New_York", {"sent_at__lt": "9999-12-31 23:59:59"}),
        ("UTC", {"sent_at__gte": "2026-13-45"}),
        ("UTC", {"status": "abc"}),
        ("UTC", {"err": "1x"}),
        ("UTC", {"account": "a\x00b"}),
        ("UTC", {"smsc_id": "\x00"}),
    ],
)
def test_admin_filters_refuse_values_no_query_can_take(admin_client, zone, params):
    """Django's admin answers a bad filter with a redirect to ``?e=1``; these were 500s."""
    stored(datetime(2026, 11, 1, tzinfo=UTC))
    with override_settings(TIME_ZONE=zone):
        changelist = admin_client.get(reverse(ADMIN + "changelist"), params)
        assert changelist.status_code == 302 and changelist["Location"].endswith("?e=1")
        report = admin_client.get(reverse(ADMIN + "report"), params)
        assert report.status_code == 302 and report["Location"] == reverse(ADMIN + "report")


@pytest.mark.parametrize(
    "params",
    [
        {"sent_after": "0001-01-01T00:00:00+14:00"},
        {"sent_before": "9999-12-31T23:59:59-14:00"},
        {"changed_after": "0001-01-01T00:00:00"},
        {"page": "9" * 40},
        {"smsc_id": "\x00"},
    ],
)
def test_api_refuses_query_values_no_query_can_take(api, params):
    stored(datetime(2026, 11, 1, tzinfo=UTC))
    with override_settings(TIME_ZONE="Asia/Almaty"):
        assert api.get("/api/smsc/messages/", params).status_code in (400, 404)
        if "page" not in params:
            assert api.get("/api/smsc/stats/", params).status_code == 400


def test_admin_huge_page_number_is_no_error(admin_client):
    stored(datetime(2026, 11, 1, tzinfo=UTC))
    assert admin_client.get(reverse(ADMIN + "changelist"), {"p": "9" * 40}).status_code == 200
