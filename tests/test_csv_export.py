"""The admin's CSV files: the messages export and the report's numbers (one writer for both)."""

import csv
import io

import pytest
from django.urls import reverse

from django_smsc_status import service
from django_smsc_status.models import SentMessage

pytestmark = pytest.mark.django_db
ADMIN = "admin:django_smsc_status_sentmessage_"

#: Starts a spreadsheet may run as a formula (OWASP, CSV injection), as the issue found them.
HOSTILE = [
    "=1+1",
    "+1",
    "-1",
    "@SUM(A1)",
    "\t=1",
    "\r=1",
    " =1+1",
    "\n=1+1",
    "  \n\t=1",
    "\u3000=1",  # ideographic space
    "\uff1d1+1",  # full-width =
    "\uff0b1",
    "\uff0d1",
    "\uff20SUM(A1)",
    " \uff1d1",
]


def rows_of(response) -> list[dict]:
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def export(admin_client, *messages) -> list[dict]:
    return rows_of(
        admin_client.post(
            reverse(ADMIN + "changelist"),
            {"action": "export_csv", "_selected_action": [m.pk for m in messages]},
        )
    )


def test_export_names_each_messages_account(admin_client, kz_login):
    default, _ = service.register("777", "79991234567")
    kz, _ = service.register("777", "79991234567", account="kz")
    rows = export(admin_client, default, kz)
    assert [(r["id"], r["account"], r["smsc_id"]) for r in rows] == [
        (str(default.pk), "default", "777"),
        (str(kz.pk), "kz", "777"),
    ]


@pytest.mark.parametrize("value", HOSTILE)
def test_no_cell_can_start_a_formula(admin_client, smsc_settings, value):
    message, _ = service.register("1", "79991234567")
    SentMessage.objects.filter(pk=message.pk).update(operator=value, region=value, text=value)
    (row,) = export(admin_client, message)
    assert row["operator"] == row["region"] == row["text"] == "'" + value
    report = rows_of(admin_client.get(reverse(ADMIN + "report"), {"format": "csv", "group": "operator"}))
    assert [(r["operator"], r["label"]) for r in report] == [("'" + value, "'" + value)]


@pytest.mark.parametrize("value", ["МТС", "a=1", "1-2", " plain", "Tele2 +"])
def test_ordinary_text_is_left_as_it_is(admin_client, smsc_settings, value):
    message, _ = service.register("1", "79991234567")
    SentMessage.objects.filter(pk=message.pk).update(operator=value)
    assert export(admin_client, message)[0]["operator"] == value


def test_not_found_at_smsc_is_not_labelled_unchecked(admin_client, smsc_settings, smsc_simulator):
    message, _ = service.register("424242", "79990004242")  # unknown to the simulator: error 3
    service.refresh(message)
    (row,) = export(admin_client, message)
    assert (row["status"], row["err"], row["err_label"]) == ("-3", "", "Not reported by SMSC")
