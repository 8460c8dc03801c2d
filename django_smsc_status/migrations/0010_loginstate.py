"""One name per concept (issue 21): ``AccountState`` holds one login's state, so it becomes
``LoginState``. Every row is kept (the table is renamed); Django's contenttypes renames the
content type during ``migrate``, and the permissions ``*_accountstate`` are renamed here to
``*_loginstate`` (codename and name), so users and groups that held them keep them and
``migrate`` creates no second set. No dependency on ``auth``: a project without it migrates
too. Reversible.
"""

from django.db import migrations

APP = "django_smsc_status"
ACTIONS = ("add", "change", "delete", "view")
NAMES = {"accountstate": "SMSC account state", "loginstate": "SMSC login state"}  # verbose names


def rename_permissions(old: str, new: str):
    """A step that renames the permissions of model ``old`` to those of ``new``. Found by app
    and codename, not by content type: ``migrate`` renames the content type just before (after
    the ``RenameModel``), a bare ``MigrationExecutor`` never does. A name someone edited is kept."""

    def run(apps, schema_editor):
        try:
            Permission = apps.get_model("auth", "Permission")
        except LookupError:  # django.contrib.auth not installed, or not migrated yet: no rows
            return
        db = schema_editor.connection.alias
        for action in ACTIONS:
            rows = Permission.objects.using(db).filter(
                content_type__app_label=APP, codename=f"{action}_{old}"
            )
            for permission in rows:
                permission.codename = f"{action}_{new}"
                if permission.name == f"Can {action} {NAMES[old]}":
                    permission.name = f"Can {action} {NAMES[new]}"
                permission.save(update_fields=["codename", "name"])

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("django_smsc_status", "0009_login_and_site_names"),
    ]

    operations = [
        migrations.RenameModel(old_name="AccountState", new_name="LoginState"),
        migrations.AlterModelOptions(
            name="loginstate",
            options={"verbose_name": "SMSC login state", "verbose_name_plural": "SMSC login states"},
        ),
        migrations.RunPython(
            rename_permissions("accountstate", "loginstate"), rename_permissions("loginstate", "accountstate")
        ),
    ]
