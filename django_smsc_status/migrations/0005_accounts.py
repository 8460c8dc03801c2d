"""Several SMSC accounts: ``SentMessage.account`` (existing rows: "default"); SMSC's key
``(smsc_id, phone)`` becomes unique per account, and the sweep's index leads with the account.

The new constraint is added before the old one goes, so uniqueness never lapses."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("django_smsc_status", "0004_sent_at_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="sentmessage",
            name="account",
            field=models.CharField(default="default", max_length=40, verbose_name="account"),
        ),
        migrations.AddConstraint(
            model_name="sentmessage",
            constraint=models.UniqueConstraint(
                fields=("account", "smsc_id", "phone"), name="smsc_status_unique_account_message"
            ),
        ),
        migrations.RemoveConstraint(
            model_name="sentmessage",
            name="smsc_status_unique_message",
        ),
        migrations.AddIndex(
            model_name="sentmessage",
            index=models.Index(
                condition=models.Q(("is_final", False)),
                fields=["account", "next_check_at", "id"],
                name="smsc_status_account_due_idx",
            ),
        ),
        migrations.RemoveIndex(
            model_name="sentmessage",
            name="smsc_status_due_idx",
        ),
    ]
