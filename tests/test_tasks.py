"""django-q2 tasks in sync mode (tests.settings sets ``"sync": True``)."""

import pytest
from django_q.models import Schedule

from django_smsc_status import tasks
from django_smsc_status.models import SentMessage

pytestmark = pytest.mark.django_db(transaction=True)


def test_enqueue_refreshes_after_commit(smsc_settings, smsc_simulator, tracked):
    messages = [tracked((1,)) for _ in range(3)]
    assert tasks.enqueue_refresh(messages) == 3
    assert SentMessage.objects.filter(status=1).count() == 3
    assert not SentMessage.objects.filter(refresh_queued_at__isnull=False).exists()


def test_enqueue_skips_messages_already_queued(smsc_settings, smsc_simulator, tracked):
    from django.utils import timezone

    first, second = tracked((1,)), tracked((1,))
    SentMessage.objects.filter(pk=first.pk).update(refresh_queued_at=timezone.now())
    assert tasks.enqueue_refresh([first, second]) == 1
    assert smsc_simulator.smsc.calls["get_status"] == 1
    assert SentMessage.objects.get(pk=first.pk).status is None


def test_stale_queued_marker_is_ignored(smsc_settings, smsc_simulator, tracked):
    from django.utils import timezone

    message = tracked((1,))
    lost = timezone.now() - tasks.QUEUED_TTL * 2
    SentMessage.objects.filter(pk=message.pk).update(refresh_queued_at=lost)
    assert tasks.enqueue_refresh([message]) == 1


def test_enqueue_waits_for_the_transaction(smsc_settings, smsc_simulator, tracked):
    from django.db import transaction

    message = tracked((1,))
    with transaction.atomic():
        tasks.enqueue_refresh([message.pk])
        assert smsc_simulator.smsc.calls["get_status"] == 0  # not before commit
    assert smsc_simulator.smsc.calls["get_status"] == 1


def test_transport_failure_leaves_the_message_due_later(smsc_settings, smsc_simulator, tracked):
    message = tracked((1,))
    smsc_simulator.inject("http500")
    summary = tasks.refresh_messages_task([message.pk])
    assert "could not be reached" in summary
    stored = SentMessage.objects.get(pk=message.pk)
    assert stored.status is None and stored.next_check_at is not None
    assert stored.refresh_queued_at is None


def test_sweep_task_refreshes_due(smsc_settings, smsc_simulator, tracked):
    for _ in range(3):
        tracked((1,))
    assert tasks.sweep_task(follow=0).startswith("3 messages")
    assert SentMessage.objects.filter(status=1).count() == 3


def test_schedule_setup_is_idempotent(smsc_settings):
    schedule, created = tasks.ensure_schedule()
    again, created_again = tasks.ensure_schedule(5)
    assert created and not created_again
    assert Schedule.objects.filter(name=tasks.SCHEDULE_NAME).count() == 1
    assert again.pk == schedule.pk and again.minutes == 5
    assert again.func == "django_smsc_status.tasks.sweep_task"


def test_a_scheduled_sweep_follows_for_its_schedules_interval_and_a_scheduler_tick(smsc_settings):
    assert tasks.follow_seconds() == 60 + 30  # no schedule yet: SWEEP_INTERVAL_MINUTES
    tasks.ensure_schedule(5)
    assert tasks.follow_seconds() == 5 * 60 + 30
