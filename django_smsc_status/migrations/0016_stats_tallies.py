"""Per-day tallies of the delivery figures (issue 23): on PostgreSQL, triggers on the messages
table write append-only deltas that ``tallies.compact`` folds into the tallies; migration 0018
makes the trigger functions and counts every existing message once. Elsewhere the tables stay
empty and ``stats`` stays live."""

from django.db import migrations, models


MESSAGES = "django_smsc_status_sentmessage"
TALLY = "django_smsc_status_statstally"
DELTA = "django_smsc_status_statstallydelta"
WATCHED = "account, status, is_final, err, operator, region, cost, sent_at, created_at, status_changed_at"
CHANGED = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in WATCHED.split(", "))
RUN = "FOR EACH ROW EXECUTE FUNCTION smsc_status_tally_delta()"

# The triggers, as this migration made them (frozen: the functions they call, and the count of
# existing messages, are made by ``tallies.install`` in migration 0018, which knows the
# current columns). Until then the functions count nothing and name no time zone: ``stats``
# stays live.
FORWARD_SQL = [
    "CREATE FUNCTION smsc_status_tally_zone() RETURNS text IMMUTABLE LANGUAGE sql AS $$ SELECT NULL::text $$",
    "CREATE FUNCTION smsc_status_tally_delta() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$",
    f"CREATE TRIGGER smsc_status_tally_ins AFTER INSERT ON {MESSAGES} {RUN}",
    f"CREATE TRIGGER smsc_status_tally_upd AFTER UPDATE OF {WATCHED} ON {MESSAGES} "
    f"FOR EACH ROW WHEN ({CHANGED}) EXECUTE FUNCTION smsc_status_tally_delta()",
    f"CREATE TRIGGER smsc_status_tally_del AFTER DELETE ON {MESSAGES} {RUN}",
    # DELETE, not TRUNCATE: a flush (the test runner's) truncates them in the same statement
    "CREATE FUNCTION smsc_status_tally_truncate() RETURNS trigger LANGUAGE plpgsql AS $$ "
    f"BEGIN DELETE FROM {TALLY}; DELETE FROM {DELTA}; RETURN NULL; END $$",
    f"CREATE TRIGGER smsc_status_tally_trunc AFTER TRUNCATE ON {MESSAGES} "
    "EXECUTE FUNCTION smsc_status_tally_truncate()",
]
REVERSE_SQL = [
    f"DROP TRIGGER IF EXISTS smsc_status_tally_ins ON {MESSAGES}",
    f"DROP TRIGGER IF EXISTS smsc_status_tally_upd ON {MESSAGES}",
    f"DROP TRIGGER IF EXISTS smsc_status_tally_del ON {MESSAGES}",
    f"DROP TRIGGER IF EXISTS smsc_status_tally_trunc ON {MESSAGES}",
    "DROP FUNCTION IF EXISTS smsc_status_tally_delta()",
    "DROP FUNCTION IF EXISTS smsc_status_tally_truncate()",
    "DROP FUNCTION IF EXISTS smsc_status_tally_zone()",
]


def install(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for sql in FORWARD_SQL:
            cursor.execute(sql)


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for sql in REVERSE_SQL:
            cursor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [
        ("django_smsc_status", "0015_prune_walks_what_was_checked"),
    ]

    operations = [
        migrations.CreateModel(
            name="StatsTally",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("day", models.DateField()),
                ("account", models.CharField(max_length=40)),
                ("kind", models.CharField(max_length=8)),
                ("key", models.CharField(max_length=200, null=True)),
                ("status", models.IntegerField(null=True)),
                ("is_final", models.BooleanField()),
                ("has_sent", models.BooleanField()),
                ("n", models.BigIntegerField()),
                ("cost", models.DecimalField(decimal_places=4, max_digits=20)),
            ],
            options={"default_permissions": ()},
        ),
        migrations.CreateModel(
            name="StatsTallyDelta",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("sign", models.SmallIntegerField()),
                ("day", models.DateField()),
                ("account", models.CharField(max_length=40)),
                ("status", models.IntegerField(null=True)),
                ("is_final", models.BooleanField()),
                ("has_sent", models.BooleanField()),
                ("err", models.IntegerField(null=True)),
                ("operator", models.CharField(max_length=100)),
                ("region", models.CharField(max_length=200)),
                ("seconds", models.BigIntegerField(null=True)),
                ("cost", models.DecimalField(decimal_places=4, max_digits=12, null=True)),
            ],
            options={"default_permissions": ()},
        ),
        migrations.RunPython(install, uninstall, elidable=False),
    ]
