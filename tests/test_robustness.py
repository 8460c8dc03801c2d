"""One bad message never costs the others anything: odd rows, odd answers, a row the database
refuses. Runs on SQLite and, in the PostgreSQL pass, where varchar lengths are enforced."""

from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from django_smsc_status import limits, service
from django_smsc_status.exceptions import SmscInvalidRequest
from django_smsc_status.models import SentMessage, StatusSnapshot
from django_smsc_status.policy import RAW_FIELDS_MAX, TEXT_MAX
from django_smsc_status.service import Outcome
from django_smsc_status.simulator import timeline

pytestmark = pytest.mark.django_db


def imported(smsc_id: str, phone: str = "79990000001") -> SentMessage:
    """A row written before validation existed (or by a bulk import): no checks at all."""
    return SentMessage.objects.create(smsc_id=smsc_id, phone=phone, next_check_at=timezone.now())


def test_poison_row_is_quarantined_and_the_rest_of_the_sweep_goes_on(smsc_settings, smsc_simulator, tracked):
    smsc_settings["CHUNK_SIZE"] = 3  # the poison row shares a batch with good ones
    good = [tracked((1,)) for _ in range(6)]
    poison = imported("x\x01y")

    report = service.refresh_due()

    assert report.counts == {Outcome.CHANGED: 6, Outcome.QUARANTINED: 1}, report
    assert not report.aborted
    assert all(m.status == 1 for m in SentMessage.objects.filter(pk__in=[m.pk for m in good]))
    assert StatusSnapshot.objects.count() == 6
    poison.refresh_from_db()
    assert poison.is_quarantined and "'id'" in poison.quarantine_reason
    assert poison.next_check_at is None and not poison.is_given_up
    assert list(SentMessage.objects.quarantined()) == [poison]
    assert poison not in SentMessage.objects.given_up()
    assert smsc_simulator.smsc.calls["get_status"] == 6  # nothing was sent for the poison row

    again = service.refresh_due()  # the next sweep does not trip over it
    assert again.total == 0 and smsc_simulator.smsc.calls["get_status"] == 6


def test_manual_refresh_of_a_poison_row_answers_instead_of_raising(smsc_settings, smsc_simulator, tracked):
    poison = imported("x\x01y")
    result = service.refresh(poison)
    assert result.outcome == Outcome.QUARANTINED
    assert isinstance(result.error, SmscInvalidRequest) and result.error.parameter == "id"
    # once the row is corrected, a manual refresh asks SMSC and lifts the quarantine
    smsc_simulator.smsc.add_message("79990000001", smsc_id="fixed", steps=timeline((1,)))
    SentMessage.objects.filter(pk=poison.pk).update(smsc_id="fixed", last_checked_at=None)
    result = service.refresh(poison)
    assert result.outcome == Outcome.CHANGED and not result.message.is_quarantined


def test_admin_and_api_show_why_a_message_is_quarantined(admin_client, smsc_settings, smsc_simulator):
    poison = imported("x\x01y")
    response = admin_client.post(f"/api/smsc/messages/{poison.pk}/refresh/")
    assert response.status_code == 422, response.content  # the message's data, not SMSC, is wrong
    body = response.json()
    assert body["outcome"] == "quarantined"
    assert body["message"]["is_quarantined"] and "'id'" in body["message"]["quarantine_reason"]
    listed = admin_client.get("/api/smsc/messages/?state=quarantined").json()
    assert [m["id"] for m in listed["results"]] == [poison.pk]
    page = admin_client.get("/admin/django_smsc_status/sentmessage/?state=quarantined")
    assert f"/sentmessage/{poison.pk}/change/" in page.content.decode()
    change = admin_client.get(f"/admin/django_smsc_status/sentmessage/{poison.pk}/change/")
    assert "holds characters that cannot be sent" in change.content.decode()


def test_over_long_answer_fields_are_cut_to_fit_and_kept_whole_in_history(smsc_settings, smsc_simulator):
    smsc_settings["CHUNK_SIZE"] = 4
    long_ones = []
    for n in range(3):
        phone = f"7999000010{n}"
        smsc_simulator.smsc.add_message(
            phone,
            smsc_id=f"L{n}",
            steps=timeline((1,)),
            sender="S" * 30,
            operator="O" * 150,
            region="R" * 250,
        )
        long_ones.append(service.register(f"L{n}", phone)[0])
    normal = service.register("N1", "79990000200")[0]
    smsc_simulator.smsc.add_message("79990000200", smsc_id="N1", steps=timeline((1,)))

    report = service.refresh_due()

    assert report.counts == {Outcome.CHANGED: 4}, report
    row = SentMessage.objects.get(pk=long_ones[0].pk)
    assert (row.sender, row.operator, row.region) == ("S" * 19 + "…", "O" * 99 + "…", "R" * 199 + "…")
    assert row.snapshots.get().raw["region"] == "R" * 250  # the raw answer keeps it all
    assert SentMessage.objects.get(pk=normal.pk).status == 1


@pytest.mark.parametrize(
    ("name", "value", "stored"),
    [
        ("cost", Decimal("123456789012"), None),  # over the column's 8 whole digits: dropped
        ("cost", Decimal("NaN"), None),
        ("cost", Decimal("1.234567"), Decimal("1.2346")),
        ("sms_count", -3, None),
        ("sender", "x" * 21, "x" * 19 + "…"),  # cut, and marked as cut
        ("sender", "x" * 20, "x" * 20),
    ],
)
def test_values_are_fitted_to_their_columns(name, value, stored):
    from django_smsc_status.policy import fit

    assert fit(name, value) == stored


@pytest.fixture
def refuse_operator(db):
    """A real database refusal for one row: a trigger that rejects one operator's name."""
    table = SentMessage._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION smsc_refuse() RETURNS trigger AS $$ BEGIN "
                "IF NEW.operator = 'Refused' THEN RAISE EXCEPTION 'refused row'; END IF; "
                "RETURN NEW; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                f"CREATE TRIGGER smsc_refuse BEFORE UPDATE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION smsc_refuse()"
            )
        elif connection.vendor == "mysql":
            cursor.execute(
                f"CREATE TRIGGER smsc_refuse BEFORE UPDATE ON {table} FOR EACH ROW BEGIN "  # noqa: S608
                "IF NEW.operator = 'Refused' THEN SIGNAL SQLSTATE '45000' "
                "SET MESSAGE_TEXT = 'refused row'; END IF; END"
            )
        else:
            cursor.execute(
                f"CREATE TRIGGER smsc_refuse BEFORE UPDATE ON {table} "
                "WHEN NEW.operator = 'Refused' BEGIN SELECT RAISE(ABORT, 'refused row'); END"
            )


def test_a_row_the_database_refuses_costs_only_that_row(
    smsc_settings, smsc_simulator, tracked, refuse_operator
):
    smsc_settings["CHUNK_SIZE"] = 5
    good = [tracked((1,)) for _ in range(4)]
    smsc_simulator.smsc.add_message("79990000300", smsc_id="R1", steps=timeline((1,)), operator="Refused")
    bad = service.register("R1", "79990000300")[0]

    results = {r.message.pk: r for r in service.refresh_many([*good, bad])}

    assert results[bad.pk].outcome == Outcome.FAILED
    assert "could not save SMSC's answer" in str(results[bad.pk].error)
    assert all(results[m.pk].outcome == Outcome.CHANGED for m in good)
    assert SentMessage.objects.filter(status=1).count() == 4
    assert StatusSnapshot.objects.count() == 4  # none for the refused row
    bad.refresh_from_db()
    assert bad.status is None and "could not save" in bad.last_request_error
    assert bad.next_check_at > timezone.now()  # backed off, polled again later


def test_an_unexpected_failure_inside_a_run_never_escapes_a_sweep(
    smsc_settings, smsc_simulator, tracked, monkeypatch
):
    tracked((1,))

    def broken_claim(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(limits, "claim_due", broken_claim)
    report = service.refresh_due()
    assert report.aborted == "RuntimeError: database went away"
    assert "stopped early" in str(report)


def test_status_changed_receiver_failure_is_logged_not_raised(
    smsc_settings, smsc_simulator, tracked, caplog, django_capture_on_commit_callbacks
):
    from django.dispatch import receiver

    from django_smsc_status import signals

    @receiver(signals.status_changed)
    def broken(**kwargs):
        raise RuntimeError("receiver bug")

    messages = [tracked((1,)) for _ in range(3)]
    try:
        with django_capture_on_commit_callbacks(execute=True):
            report = service.refresh_due()
    finally:
        signals.status_changed.disconnect(broken)
    assert report.counts == {Outcome.CHANGED: 3}
    assert SentMessage.objects.filter(pk__in=[m.pk for m in messages], status=1).count() == 3
    assert "receiver bug" in caplog.text


def test_huge_answer_fields_are_stored_cut_and_every_page_stays_small(
    fast_polling, smsc_simulator, tracked, admin_client
):
    """An answer of 0.9 MB (under the transport's 1 MiB): three 300,000-character fields and
    500 made-up ones. Stored cut, marked as cut; the history keeps 40 fields at most."""
    message = tracked((-1,), (1,), by_checks=True)
    huge = {name: name[0] * 300_000 for name in ("message", "status_name", "operator")}
    smsc_simulator.inject("fields", fields={**huge, **{f"x{n}": "y" for n in range(500)}})

    result = service.refresh(message)

    assert result.outcome == Outcome.CHANGED, result
    row = SentMessage.objects.get(pk=message.pk)
    assert row.text == "m" * (TEXT_MAX - 1) + "…" and row.operator == "o" * 99 + "…"
    raw = row.snapshots.get().raw
    assert raw["status"] == "-1" and raw["message"] == row.text
    assert len(raw) == RAW_FIELDS_MAX and max(map(len, raw.values())) == TEXT_MAX
    pages = {
        "admin": admin_client.get(f"/admin/django_smsc_status/sentmessage/{message.pk}/change/"),
        "api": admin_client.get(f"/api/smsc/messages/{message.pk}/"),
        "history": admin_client.get(f"/api/smsc/messages/{message.pk}/snapshots/"),
    }
    assert {name: page.status_code for name, page in pages.items()} == dict.fromkeys(pages, 200)
    sizes = {name: len(page.content) for name, page in pages.items()}
    assert max(sizes.values()) < 100_000, sizes
