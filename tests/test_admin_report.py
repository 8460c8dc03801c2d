"""The admin's delivery report (SVG charts, CSV) and the CSV export action."""

import csv
import io
import re

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.urls import reverse

from django_smsc_status.models import SentMessage
from django_smsc_status.stats import MEDIAN_VENDORS
from tests.test_stats import messages  # noqa: F401 - the hand-counted fixture

pytestmark = pytest.mark.django_db
REPORT = "admin:django_smsc_status_sentmessage_report"
CHANGELIST = "admin:django_smsc_status_sentmessage_changelist"


def csv_rows(response) -> list[dict]:
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_changelist_links_to_the_report_with_its_filters(admin_client, messages):  # noqa: F811
    page = admin_client.get(reverse(CHANGELIST), {"status": "1"}).content.decode()
    assert f'href="{reverse(REPORT)}?status=1"' in page


def test_report_shows_totals_and_svg_charts(admin_client, messages):  # noqa: F811
    response = admin_client.get(reverse(REPORT))
    assert response.status_code == 200
    page = response.content.decode()
    assert response.context["totals"]["total"] == 7 and response.context["totals"]["delivered"] == 3
    assert page.count('class="smsc-chart"') == 5  # volume, cost, operators, regions, errors
    assert "<script" not in page.split('id="content-main"')[1]  # no JS library
    assert "Beeline" in page and "Subscriber does not exist" in page  # top groups drawn
    assert "All messages (no filter)." in page


def test_report_follows_the_changelist_filters(admin_client, messages):  # noqa: F811
    response = admin_client.get(reverse(REPORT), {"state": "final", "q": "79990000001"})
    assert response.context["totals"]["total"] == 1
    assert [row["total"] for row in response.context["days"]] == [1]
    page = response.content.decode()
    assert "<strong>Polling</strong>: Final" in page and "79990000001" in page
    everything = admin_client.get(reverse(REPORT), {"err": "any"}).context["totals"]
    assert (everything["total"], everything["failed"]) == (1, 1)


def test_report_in_russian(admin_client, messages):  # noqa: F811
    page = admin_client.get(reverse(REPORT), HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "Отчёт о доставке" in page and "Сообщения и доля доставленных по дням" in page
    assert "Абонент не существует" in page
    assert re.search(r">\d\d\.\d\d\.\d{4}</text>", page)  # the chart's dates as the table's
    assert ("120 с" in page) == (connection.vendor in MEDIAN_VENDORS)


def test_report_escapes_outside_text(admin_client, messages):  # noqa: F811
    SentMessage.objects.filter(operator="Beeline").update(operator='<script>alert("x")</script>')
    page = admin_client.get(reverse(REPORT)).content.decode()
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page


def test_report_csv_is_the_same_numbers(admin_client, messages):  # noqa: F811
    rows = csv_rows(admin_client.get(reverse(REPORT), {"status": "1", "format": "csv", "group": "operator"}))
    assert [(r["operator"], r["total"], r["delivered"], r["cost"]) for r in rows] == [
        ("MTS", "2", "2", "3.0000")
    ]
    days = csv_rows(admin_client.get(reverse(REPORT), {"format": "csv"}))
    medians = ["120.0", "30.0", "600.0"] if connection.vendor in MEDIAN_VENDORS else ["", "", ""]
    assert [(r["day"], r["total"], r["median_seconds"]) for r in days] == [
        ("2026-11-01", "3", medians[0]),
        ("2026-11-02", "2", medians[1]),
        ("2026-11-03", "2", medians[2]),
    ]


def test_report_csv_of_an_unknown_grouping_is_refused(admin_client, messages):  # noqa: F811
    response = admin_client.get(reverse(REPORT), {"format": "csv", "group": "phone"})
    assert response.status_code == 400 and b"group must be one of day" in response.content


def test_report_with_no_messages(admin_client, smsc_settings):
    page = admin_client.get(reverse(REPORT)).content.decode()
    assert "No messages match these filters." in page


def test_report_bad_filter_redirects(admin_client, messages):  # noqa: F811
    response = admin_client.get(reverse(REPORT), {"nonsense__gt": "1"})
    assert response.status_code == 302


def test_report_needs_view_permission(client, staff, messages):  # noqa: F811
    client.force_login(staff)
    assert client.get(reverse(REPORT)).status_code == 200
    staff.user_permissions.remove(Permission.objects.get(codename="view_sentmessage"))
    assert client.get(reverse(REPORT)).status_code == 403


def test_export_action_streams_selected_messages(client, staff, messages):  # noqa: F811
    client.force_login(staff)
    SentMessage.objects.filter(operator="MTS").update(region="=HYPERLINK(1)")
    chosen = list(SentMessage.objects.filter(operator="MTS").values_list("pk", flat=True))
    response = client.post(reverse(CHANGELIST), {"action": "export_csv", "_selected_action": chosen})
    rows = csv_rows(response)
    assert sorted(int(r["id"]) for r in rows) == sorted(chosen)
    assert {r["region"] for r in rows} == {"'=HYPERLINK(1)"}  # never a formula
    delivered = next(r for r in rows if r["status"] == "1")
    assert delivered["status_label"] == "Delivered" and delivered["sent_at"].endswith("+00:00")
