"""Per-day tallies of the delivery figures (issue 23): on PostgreSQL, triggers on the messages
table write append-only deltas that ``tallies.compact`` folds into the tallies; every existing
message is counted once here (the table is locked against writes meanwhile: a long step on a
big table, see docs/guides). Elsewhere the tables stay empty and ``stats`` stays live."""

from django.db import migrations, models


def install(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    from django_smsc_status import tallies

    tallies.install(using=schema_editor.connection)  # the trigger function, and the backfill
    with schema_editor.connection.cursor() as cursor:
        for sql in tallies.triggers_sql():
            cursor.execute(sql)


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    from django_smsc_status import tallies

    with schema_editor.connection.cursor() as cursor:
        for sql in tallies.REVERSE_SQL:
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
