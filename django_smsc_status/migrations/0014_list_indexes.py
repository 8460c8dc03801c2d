"""Indexes the list filters need at ten million messages (issue 23): delivery error,
quarantined, given up, status changed at. Each is justified beside it in
``models.SentMessage.Meta``."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('django_smsc_status', '0013_push_asks_sooner'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='sentmessage',
            index=models.Index(condition=models.Q(('err__lt', 0), ('err__gt', 0), _connector='OR'), fields=['err', '-created_at'], name='smsc_status_err_idx'),
        ),
        migrations.AddIndex(
            model_name='sentmessage',
            index=models.Index(condition=models.Q(('quarantine_reason', ''), _negated=True), fields=['quarantine_reason', '-created_at'], name='smsc_status_quarantined_idx'),
        ),
        migrations.AddIndex(
            model_name='sentmessage',
            index=models.Index(condition=models.Q(('is_final', False), ('next_check_at__isnull', True), ('quarantine_reason', '')), fields=['-created_at'], name='smsc_status_given_up_idx'),
        ),
        migrations.AddIndex(
            model_name='sentmessage',
            index=models.Index(fields=['status_changed_at'], name='smsc_status_changed_at_idx'),
        ),
    ]
