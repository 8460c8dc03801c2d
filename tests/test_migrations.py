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


def test_logins_and_sites_get_columns_of_their_own_and_every_row_survives(migrate, settings):
    """0009: ``AccountState.account`` (a login) becomes ``login``; ``RequestSlot.account`` (a
    login's slots ``login@site``, a site's ``site:host``, its error tokens ``errors:host``)
    becomes ``kind``, ``site`` and ``login``. Every row keeps its holder and expiry, the limits
    read them as before, and migrating back gives the old strings again."""
    settings.SMSC_STATUS = {"LOGIN": "shop", "PASSWORD": "p"}  # ENDPOINT's default: smsc.ru
    old = migrate((APP, "0008_prune_progress"))
    State = old.get_model(APP, "AccountState")
    Slot = old.get_model(APP, "RequestSlot")
    now = timezone.now()
    paused_until = now + timezone.timedelta(minutes=20)
    State.objects.create(site="smsc.ru", account="shop", paused_until=paused_until, pause_code=2)
    State.objects.create(site="smsc.kz", account="apikey:0123456789ab")
    error_2 = [now + timezone.timedelta(minutes=m) for m in (5, 25)]
    rows = [
        ("shop@smsc.ru", 0, "a" * 32, now),
        ("shop@smsc.ru", 1, "", None),
        ("me@example.com@smsc.kz", 0, "", None),  # a login with an "@": the last one ends it
        ("site:smsc.ru", 0, "error 2", error_2[0]),
        ("site:smsc.ru", 1, "error 2", error_2[1]),
        ("site:smsc.ru", 2, "", None),
        ("site:[2001:db8::1]:8443", 0, "", None),
        ("errors:smsc.ru", 0, "error", now),
        ("errors:smsc.ru", 1, "", None),
        ("alex", 0, "", None),  # a bare login of before 0006: kept as it was
    ]
    for key, number, holder, expires_at in rows:
        Slot.objects.create(account=key, number=number, holder=holder, expires_at=expires_at)
    before = sorted(Slot.objects.values_list("pk", "account", "number", "holder", "expires_at"))

    new = migrate((APP, "0009_login_and_site_names"))
    State = new.get_model(APP, "AccountState")
    Slot = new.get_model(APP, "RequestSlot")
    assert sorted(State.objects.values_list("site", "login", "pause_code")) == [
        ("smsc.kz", "apikey:0123456789ab", None),
        ("smsc.ru", "shop", 2),
    ]
    split = {(s.kind, s.site, s.login, s.number): (s.holder, s.expires_at) for s in Slot.objects.all()}
    assert split == {
        ("login", "smsc.ru", "shop", 0): ("a" * 32, now),
        ("login", "smsc.ru", "shop", 1): ("", None),
        ("login", "smsc.kz", "me@example.com", 0): ("", None),
        ("site", "smsc.ru", "", 0): ("error 2", error_2[0]),
        ("site", "smsc.ru", "", 1): ("error 2", error_2[1]),
        ("site", "smsc.ru", "", 2): ("", None),
        ("site", "[2001:db8::1]:8443", "", 0): ("", None),
        ("errors", "smsc.ru", "", 0): ("error", now),
        ("errors", "smsc.ru", "", 1): ("", None),
        ("login", "", "alex", 0): ("", None),
    }
    assert sorted(Slot.objects.values_list("pk", flat=True)) == [row[0] for row in before]
    with pytest.raises(IntegrityError), transaction.atomic():
        Slot.objects.create(kind="site", site="smsc.ru", login="", number=0)
    with pytest.raises(IntegrityError), transaction.atomic():
        State.objects.create(site="smsc.ru", login="shop")

    # the limits read the migrated rows: the pause holds, both errors 2 still count (with the
    # code's models, whose LoginState is 0010's)
    migrate((APP, "0010_loginstate"))
    from django_smsc_status import limits
    from django_smsc_status.conf import get_settings
    from django_smsc_status.exceptions import SmscCircuitOpen

    config = get_settings()
    with pytest.raises(SmscCircuitOpen):
        limits.ensure_open(config)
    assert limits.auth_budget(config) == (limits.SITE_SLOTS - 2, None, 2)

    old = migrate((APP, "0008_prune_progress"))
    Slot = old.get_model(APP, "RequestSlot")
    assert sorted(Slot.objects.values_list("pk", "account", "number", "holder", "expires_at")) == before
    assert sorted(old.get_model(APP, "AccountState").objects.values_list("site", "account")) == [
        ("smsc.kz", "apikey:0123456789ab"),
        ("smsc.ru", "shop"),
    ]


def test_login_state_is_renamed_and_groups_keep_its_permissions(transactional_db, client):
    """0010: ``AccountState`` becomes ``LoginState``; every row is kept, and the permissions
    ``*_accountstate`` become ``*_loginstate`` (same rows), so a group that could see the
    page still can and no second set is made. Through ``manage.py migrate``, whose signals
    rename the content type and create missing permissions; reversible."""
    from django.contrib.auth.models import Group, Permission, User
    from django.contrib.contenttypes.models import ContentType
    from django.core.management import call_command

    from django_smsc_status.models import LoginState

    def codenames(group):
        return sorted(group.permissions.values_list("codename", flat=True))

    call_command("migrate", APP, "0009_login_and_site_names", verbosity=0)
    old = MigrationExecutor(connection).loader.project_state((APP, "0009_login_and_site_names")).apps
    State = old.get_model(APP, "AccountState")
    paused_until = timezone.now() + timezone.timedelta(minutes=20)
    State.objects.create(site="smsc.ru", login="shop", paused_until=paused_until, pause_code=2)
    State.objects.create(site="smsc.kz", login="apikey:0123456789ab")
    before = sorted(State.objects.values_list("pk", "site", "login", "paused_until", "pause_code"))
    assert ContentType.objects.filter(app_label=APP, model="accountstate").exists()
    operators = Group.objects.create(name="operators")
    old_perms = Permission.objects.filter(
        content_type__app_label=APP, codename__in=["view_accountstate", "change_accountstate"]
    )
    assert old_perms.count() == 2
    operators.permissions.set(old_perms)
    pks = sorted(old_perms.values_list("pk", flat=True))
    user = User.objects.create_user("operator", password="x", is_staff=True)
    user.groups.add(operators)

    call_command("migrate", APP, "0010_loginstate", verbosity=0)
    assert (
        sorted(LoginState.objects.values_list("pk", "site", "login", "paused_until", "pause_code")) == before
    )
    assert codenames(operators) == ["change_loginstate", "view_loginstate"]
    assert sorted(operators.permissions.values_list("pk", flat=True)) == pks  # the same rows
    states = Permission.objects.filter(content_type__app_label=APP, codename__endswith="state")
    assert sorted(states.values_list("codename", "name")) == [
        ("add_loginstate", "Can add SMSC login state"),
        ("change_loginstate", "Can change SMSC login state"),
        ("delete_loginstate", "Can delete SMSC login state"),
        ("view_loginstate", "Can view SMSC login state"),
    ]
    assert not ContentType.objects.filter(app_label=APP, model="accountstate").exists()
    assert User.objects.get(pk=user.pk).has_perm("django_smsc_status.change_loginstate")
    client.force_login(user)
    assert client.get("/admin/django_smsc_status/loginstate/").status_code == 200

    call_command("migrate", APP, "0009_login_and_site_names", verbosity=0)
    assert codenames(operators) == ["change_accountstate", "view_accountstate"]
    old = MigrationExecutor(connection).loader.project_state((APP, "0009_login_and_site_names")).apps
    assert (
        sorted(
            old.get_model(APP, "AccountState").objects.values_list(
                "pk", "site", "login", "paused_until", "pause_code"
            )
        )
        == before
    )
    call_command("migrate", APP, verbosity=0)
    assert codenames(operators) == ["change_loginstate", "view_loginstate"]


def test_hourly_tallies_count_every_message_once_and_go_back_cleanly(migrate):
    """0018 on a table that already holds messages counts them all: afterwards the tallies (day
    and hour rows) give the live GROUP BY; back to 0017 the tallies are off (stats live, no
    delta written), and forward again counts them anew."""
    if connection.vendor != "postgresql":
        pytest.skip("tallies are PostgreSQL's")
    from datetime import timedelta

    from django_smsc_status import service, stats_tallied, tallies
    from django_smsc_status.models import SentMessage
    from django_smsc_status.stats import TallyFilter

    old = migrate((APP, "0017_due_list_index"))
    now = timezone.now()
    Message = old.get_model(APP, "SentMessage")
    Message.objects.bulk_create(
        Message(
            smsc_id=str(i),
            phone=f"7999000{i:04d}",
            sent_at=now - timedelta(hours=5 * i),
            status=1,
            is_final=True,
            region=["Omsk", "Kazan"][i % 2],
            status_changed_at=now - timedelta(hours=5 * i - 1),
        )
        for i in range(1, 40)
    )
    migrate((APP, "0018_hourly_tallies"))
    assert stats_tallied.usable()
    spec = TallyFilter(sent_after=now - timedelta(days=3, minutes=17))
    queryset = SentMessage.objects.filter(sent_at__gte=spec.sent_after)
    for group_by in ("day", "region", None):
        assert service.stats(queryset, group_by, tally=spec) == service.stats(queryset, group_by)
    assert tallies.compact() == 0  # the count, not deltas

    migrate((APP, "0017_due_list_index"))
    assert not stats_tallied.usable()  # off: everything live
    Message.objects.filter(smsc_id="1").delete()
    assert not old.get_model(APP, "StatsTallyDelta").objects.exists()  # the function counts nothing
    migrate((APP, "0018_hourly_tallies"))
    assert service.stats(queryset, "region", tally=spec) == service.stats(queryset, "region")
    assert service.stats(queryset, None, tally=spec)[0]["total"] == queryset.count() == 13
