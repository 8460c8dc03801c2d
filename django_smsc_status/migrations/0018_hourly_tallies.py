"""Tallies per local hour for the kinds the usual requests read, and ``reg_all`` (issue 23): a
range that starts at a time of day reads the partial hours live, not the partial day. Makes
the trigger function anew and counts every existing message (``tallies.install``: the messages
table is locked against writes meanwhile: 258 s at ten million messages)."""

from django.db import migrations, models

from django_smsc_status import tallies

OLD_KEY_INDEX = (
    f"CREATE UNIQUE INDEX smsc_status_tally_key ON {tallies.TALLY} "
    "(kind, day, account, key, status, is_final, has_sent) NULLS NOT DISTINCT"
)


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        tallies.install(using=schema_editor.connection)


def uninstall(apps, schema_editor):
    """Back to migration 0017's tables, with the tallies off (``stats`` live) until
    ``smsc_status tallies --rebuild`` of that version counts them again."""
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "CREATE OR REPLACE FUNCTION smsc_status_tally_zone() RETURNS text IMMUTABLE LANGUAGE sql "
            "AS $$ SELECT NULL::text $$"
        )
        cursor.execute(
            "CREATE OR REPLACE FUNCTION smsc_status_tally_delta() RETURNS trigger LANGUAGE plpgsql "
            "AS $$ BEGIN RETURN NULL; END $$"
        )
        cursor.execute(f"TRUNCATE {tallies.TALLY}, {tallies.DELTA}")
        cursor.execute(tallies.DROP_KEY_INDEX)
        cursor.execute(OLD_KEY_INDEX)


class Migration(migrations.Migration):
    dependencies = [
        ("django_smsc_status", "0017_due_list_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="statstally",
            name="hour",
            field=models.SmallIntegerField(null=True),
        ),
        migrations.AlterField(
            model_name="statstally",
            name="kind",
            field=models.CharField(max_length=16),
        ),
        migrations.AddField(
            model_name="statstallydelta",
            name="hour",
            field=models.SmallIntegerField(default=0),
            preserve_default=False,
        ),
        migrations.RunPython(install, uninstall, elidable=False),
    ]
