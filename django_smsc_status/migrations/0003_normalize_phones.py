"""Normalize stored phones to E.164 digits (``phonenumbers``) and merge the duplicates that makes.

Earlier releases stored ``8 (999) 123-45-67`` as ``89991234567`` beside ``79991234567``: two rows
for one SMSC message. For each ``(smsc_id, normalized phone)`` the row with the most advanced
state survives (final before pending, then further in the lifecycle, then later status change,
then lower id); every snapshot of the others moves to it, blanks in it are filled from them, and
the others are deleted. Phones that do not parse stay as they are.
Not reversible in data (the old spellings are gone); reversing is a no-op.
"""

from collections import defaultdict

from django.db import migrations


FILLED = ("text", "sender", "sent_at", "cost", "sms_count", "operator", "region")


def _rank(row):
    from django_smsc_status.codes import lifecycle_rank

    changed = row.status_changed_at.timestamp() if row.status_changed_at else float("-inf")
    return (row.is_final, lifecycle_rank(row.status), changed, -row.pk)


def normalize_phones(apps, schema_editor):
    from django.core.exceptions import ValidationError

    from django_smsc_status.validation import normalize_phone

    SentMessage = apps.get_model("django_smsc_status", "SentMessage")
    StatusSnapshot = apps.get_model("django_smsc_status", "StatusSnapshot")
    db = schema_editor.connection.alias
    messages = SentMessage.objects.using(db)
    groups = defaultdict(list)
    for row in messages.only("pk", "smsc_id", "phone", "status", "status_changed_at",
                             "is_final").order_by("pk").iterator(chunk_size=2000):
        try:
            phone = normalize_phone(row.phone)
        except ValidationError:
            phone = row.phone
        groups[(row.smsc_id, phone)].append(row)
    for (_smsc_id, phone), rows in groups.items():
        keep = max(rows, key=_rank)
        others = [r.pk for r in rows if r.pk != keep.pk]
        changes = {"phone": phone} if keep.phone != phone else {}
        if others:
            # What the survivor lacks (text, sender, cost...) comes from the others.
            survivor = messages.get(pk=keep.pk)
            for other in messages.filter(pk__in=others).order_by("pk"):
                for name in FILLED:
                    if getattr(survivor, name) in (None, "") and getattr(other, name) not in (None, ""):
                        setattr(survivor, name, getattr(other, name))
                        changes[name] = getattr(other, name)
            StatusSnapshot.objects.using(db).filter(message_id__in=others).update(message_id=keep.pk)
            messages.filter(pk__in=others).delete()
        if changes:
            messages.filter(pk=keep.pk).update(**changes)


class Migration(migrations.Migration):
    dependencies = [("django_smsc_status", "0002_engine_hardening")]

    operations = [migrations.RunPython(normalize_phones, migrations.RunPython.noop, elidable=True)]
