"""GET /api/smsc/stats/: the same numbers as service.stats, every list filter, permissions."""

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from rest_framework.test import APIClient

from django_smsc_status.stats import MEDIAN_VENDORS
from tests.test_stats import messages  # noqa: F401 - the hand-counted fixture

pytestmark = pytest.mark.django_db
STATS = "/api/smsc/stats/"


@pytest.fixture
def api(staff):
    client = APIClient()
    client.force_authenticate(staff)
    return client


def by_key(response, *names):
    assert response.status_code == 200, response.content
    return {row["key"]: tuple(row[n] for n in names) for row in response.json()["results"]}


def test_days_by_default(api, messages):  # noqa: F811
    body = api.get(STATS).json()
    assert body["group_by"] == "day"
    assert body["results"][0] == {
        "key": "2026-11-01",
        "label": "2026-11-01",
        "total": 3,
        "delivered": 2,
        "failed": 1,
        "pending": 0,
        "delivery_rate": 0.6667,
        "cost": "5.0000",
        "median_seconds": 120.0 if connection.vendor in MEDIAN_VENDORS else None,
    }
    assert [row["key"] for row in body["results"]] == ["2026-11-01", "2026-11-02", "2026-11-03"]


@pytest.mark.parametrize(
    ("group_by", "expected"),
    [
        (
            "operator",
            {"MTS": (3, 2, 0, 1, "3.0000"), "Beeline": (2, 1, 1, 0, "5.2500"), "": (2, 0, 1, 1, "0.0000")},
        ),
        (
            "region",
            {"Moscow": (3, 3, 0, 0, "6.2500"), "Kazan": (1, 0, 1, 0, "2.0000"), "": (3, 0, 1, 2, "0.0000")},
        ),
        ("err", {0: (4, 3, 1, 0, "6.2500"), 1: (1, 0, 1, 0, "2.0000"), None: (2, 0, 0, 2, "0.0000")}),
        (
            "status",
            {
                1: (2, 2, 0, 0, "3.0000"),
                -1: (1, 0, 0, 1, "0.0000"),
                2: (1, 1, 0, 0, "3.2500"),
                20: (1, 0, 1, 0, "2.0000"),
                22: (1, 0, 1, 0, "0.0000"),
                None: (1, 0, 0, 1, "0.0000"),
            },
        ),
    ],
)
def test_each_grouping(api, messages, group_by, expected):  # noqa: F811
    response = api.get(STATS, {"group_by": group_by})
    assert by_key(response, "total", "delivered", "failed", "pending", "cost") == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # status filter: delivered or impossible only
        ({"group_by": "operator", "status": "1,20"}, {"MTS": (2, 2, 0, 0), "Beeline": (1, 0, 1, 0)}),
        ({"group_by": "operator", "state": "pending"}, {"MTS": (1, 0, 0, 1), "": (1, 0, 0, 1)}),
        ({"group_by": "region", "err": "1"}, {"Kazan": (1, 0, 1, 0)}),
        (
            {
                "group_by": "day",
                "sent_after": "2026-11-01T11:00:00+00:00",
                "sent_before": "2026-11-02T10:00:00+00:00",
            },
            {"2026-11-01": (2, 1, 1, 0), "2026-11-02": (1, 0, 0, 1)},
        ),
        ({"group_by": "day", "created_after": "2026-11-03T00:00:00Z"}, {"2026-11-03": (2, 0, 1, 1)}),
        ({"group_by": "status", "phone": "+7 999 000-00-04"}, {2: (1, 1, 0, 0)}),
        ({"group_by": "status", "is_final": "false", "smsc_id": "506"}, {None: (1, 0, 0, 1)}),
    ],
)
def test_list_filters_apply(api, messages, query, expected):  # noqa: F811
    assert by_key(api.get(STATS, query), "total", "delivered", "failed", "pending") == expected


def test_labels_in_the_request_language(api, messages):  # noqa: F811
    rows = api.get(STATS, {"group_by": "err"}, HTTP_ACCEPT_LANGUAGE="ru").json()["results"]
    assert {row["key"]: row["label"] for row in rows}[1] == "Абонент не существует"


@pytest.mark.parametrize("query", [{"group_by": "phone"}, {"status": "x"}, {"sent_after": "yesterday"}])
def test_bad_input_is_400(api, messages, query):  # noqa: F811
    assert api.get(STATS, query).status_code == 400


def test_needs_the_view_permission(staff, messages):  # noqa: F811
    anonymous = APIClient().get(STATS)
    # as /messages/ and the README: 401 with Basic's challenge (Basic is configured after Session)
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"].startswith("Basic")
    staff.user_permissions.remove(Permission.objects.get(codename="view_sentmessage"))
    client = APIClient()
    client.force_authenticate(type(staff).objects.get(pk=staff.pk))
    assert client.get(STATS).status_code == 403


def test_per_account(api, messages):  # noqa: F811
    from django_smsc_status import service
    from django_smsc_status.models import SentMessage

    SentMessage.objects.filter(smsc_id__in=["500", "501", "503"]).update(account="kz")
    assert by_key(api.get(STATS, {"group_by": "account"}), "total", "delivered", "pending") == {
        "default": (4, 1, 1),
        "kz": (3, 2, 1),
    }
    kz = {"MTS": (3, 2, 1)}
    assert (
        by_key(api.get(STATS, {"group_by": "operator", "account": "kz"}), "total", "delivered", "pending")
        == kz
    )
    assert by_key(api.get(STATS, {"account": "nope"}), "total") == {}  # no row matches: no group
    rows = service.stats(SentMessage.objects.all(), "operator", account="kz")
    assert {row["key"]: (row["total"], row["delivered"], row["pending"]) for row in rows} == kz
