"""Data migration 0003: stored phones become E.164 digits; the duplicates that makes are merged."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

APP = "django_smsc_status"
BEFORE, AFTER = (APP, "0001_initial"), (APP, "0003_normalize_phones")


@pytest.fixture
def migrate(transactional_db):
    def to(target):
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate([target])
        return executor.loader.project_state([target]).apps

    yield to
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes(APP))


def test_phones_are_normalized_and_duplicates_merged(migrate):
    old = migrate(BEFORE)
    Message = old.get_model(APP, "SentMessage")
    Snapshot = old.get_model(APP, "StatusSnapshot")
    now = timezone.now()
    # One SMSC message stored twice: "8 (999) ..." as 8999..., and +7 999 ... as 7999...
    eight = Message.objects.create(
        smsc_id="501", phone="89991234567", status=0, status_changed_at=now, text="Ваш код: 1", sender="Shop"
    )
    seven = Message.objects.create(
        smsc_id="501",
        phone="79991234567",
        status=1,
        is_final=True,
        status_changed_at=now + timezone.timedelta(seconds=5),
    )
    Snapshot.objects.create(message_id=eight.pk, status=-1, observed_at=now)
    Snapshot.objects.create(message_id=eight.pk, status=0, observed_at=now)
    Snapshot.objects.create(message_id=seven.pk, status=1, observed_at=now)
    other = Message.objects.create(smsc_id="502", phone="8 (701) 234-56-78")
    odd = Message.objects.create(smsc_id="503", phone="not a phone")

    new = migrate(AFTER)
    Message = new.get_model(APP, "SentMessage")
    Snapshot = new.get_model(APP, "StatusSnapshot")
    merged = Message.objects.get(smsc_id="501")
    assert merged.pk == seven.pk and merged.phone == "79991234567"
    assert merged.status == 1 and merged.is_final  # the most advanced state is kept
    assert merged.text == "Ваш код: 1" and merged.sender == "Shop"  # filled from the other row
    assert sorted(Snapshot.objects.filter(message_id=merged.pk).values_list("status", flat=True)) == [
        -1,
        0,
        1,
    ]  # no snapshot lost
    assert Snapshot.objects.count() == 3
    assert Message.objects.get(pk=other.pk).phone == "77012345678"
    assert Message.objects.get(pk=odd.pk).phone == "not a phone"  # kept, never lost


def test_single_account_data_moves_to_the_default_account(migrate):
    """0005: every existing row and snapshot is kept and names the account "default"; SMSC's key
    is then unique per account, so the same id and phone may exist in a second account."""
    old = migrate((APP, "0004_sent_at_index"))
    Message = old.get_model(APP, "SentMessage")
    Snapshot = old.get_model(APP, "StatusSnapshot")
    now = timezone.now()
    rows = [
        Message.objects.create(smsc_id=str(600 + n), phone=f"7999123456{n}", status=n % 3, next_check_at=now)
        for n in range(5)
    ]
    Snapshot.objects.create(message_id=rows[0].pk, status=0, observed_at=now)
    before = sorted(Message.objects.values_list("pk", "smsc_id", "phone", "status"))

    new = migrate((APP, "0005_accounts"))
    Message = new.get_model(APP, "SentMessage")
    assert sorted(Message.objects.values_list("pk", "smsc_id", "phone", "status")) == before
    assert set(Message.objects.values_list("account", flat=True)) == {"default"}
    assert new.get_model(APP, "StatusSnapshot").objects.get().message_id == rows[0].pk
    Message.objects.create(account="kz", smsc_id="600", phone="79991234560")  # same key, other account
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(account="kz", smsc_id="600", phone="79991234560")
