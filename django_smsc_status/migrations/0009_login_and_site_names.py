"""One name per concept (issue 21): ``account`` is the configured account's name only.

* ``AccountState.account`` (the login) becomes ``AccountState.login``; its unique constraint
  with ``site`` stays in the database throughout (only the column is renamed).
* ``RequestSlot.account`` held one string in three encodings: ``login@site`` (a login's
  slots), ``site:host`` (a site's 4 slots) and ``errors:host`` (a site's error tokens). It
  becomes ``kind`` (login / site / errors), ``site`` and ``login`` (empty but for a login's
  slots). Every row is kept with its holder and expiry, so errors 2 and erroneous requests
  counted before the upgrade still count. Reversible: the strings are put back together.
"""

from django.db import migrations, models

SLOT_KINDS = [("login", "Login"), ("site", "Site"), ("errors", "Errors")]  # models.SlotKind


def split_key(key: str) -> tuple[str, str, str]:
    """``(kind, site, login)`` of an old ``RequestSlot.account``. A site never contains "@"
    (``conf.site_of`` is a host and port), so the last "@" ends the login; a key that fits no
    encoding (a bare login, unused since 0006) is kept as a login's without a site."""
    if "@" in key:
        login, _, site = key.rpartition("@")
        return "login", site, login
    for kind in ("site", "errors"):
        if key.startswith(kind + ":"):
            return kind, key.removeprefix(kind + ":"), ""
    return "login", "", key


def join_key(kind: str, site: str, login: str) -> str:
    """The old ``RequestSlot.account`` of ``(kind, site, login)``: :func:`split_key` undone."""
    if kind == "login":
        return f"{login}@{site}" if site else login
    return f"{kind}:{site}"


def split_slot_keys(apps, schema_editor):
    RequestSlot = apps.get_model("django_smsc_status", "RequestSlot")
    slots = list(RequestSlot.objects.only("pk", "account"))
    for slot in slots:
        slot.kind, slot.site, slot.login = split_key(slot.account)
    RequestSlot.objects.bulk_update(slots, ["kind", "site", "login"], batch_size=500)


def join_slot_keys(apps, schema_editor):
    RequestSlot = apps.get_model("django_smsc_status", "RequestSlot")
    slots = list(RequestSlot.objects.only("pk", "kind", "site", "login"))
    for slot in slots:
        slot.account = join_key(slot.kind, slot.site, slot.login)
    RequestSlot.objects.bulk_update(slots, ["account"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [
        ("django_smsc_status", "0008_prune_progress"),
    ]

    operations = [
        # AccountState.account -> login. The state's constraint names its fields, the
        # database's its columns: the database only renames the column.
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RenameField(model_name="accountstate", old_name="account", new_name="login"),
            ],
            state_operations=[
                migrations.RemoveConstraint(model_name="accountstate", name="smsc_status_unique_site_login"),
                migrations.RenameField(model_name="accountstate", old_name="account", new_name="login"),
                migrations.AddConstraint(
                    model_name="accountstate",
                    constraint=models.UniqueConstraint(
                        fields=("site", "login"), name="smsc_status_unique_site_login"
                    ),
                ),
            ],
        ),
        migrations.AlterField(
            model_name="accountstate",
            name="login",
            field=models.CharField(max_length=100, verbose_name="login"),
        ),
        # RequestSlot.account -> kind, site, login. The old constraint goes before the strings
        # are split and comes back after they are joined (in reverse), so neither direction
        # meets a constraint over columns not yet filled.
        migrations.AddField(
            model_name="requestslot",
            name="kind",
            field=models.CharField(choices=SLOT_KINDS, default="login", max_length=10),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="requestslot",
            name="site",
            field=models.CharField(default="", max_length=100),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="requestslot",
            name="login",
            field=models.CharField(blank=True, max_length=100),
        ),
        migrations.RemoveConstraint(model_name="requestslot", name="smsc_status_unique_slot"),
        migrations.RunPython(split_slot_keys, join_slot_keys),
        migrations.AddConstraint(
            model_name="requestslot",
            constraint=models.UniqueConstraint(
                fields=("kind", "site", "login", "number"), name="smsc_status_unique_request_slot"
            ),
        ),
        # a default, so that migrating back can add the column to existing rows again
        migrations.AlterField(
            model_name="requestslot", name="account", field=models.CharField(default="", max_length=100)
        ),
        migrations.RemoveField(model_name="requestslot", name="account"),
    ]
