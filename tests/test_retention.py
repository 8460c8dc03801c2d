"""Retention: ``service.prune`` and ``smsc_status prune`` keep what matters, in batches."""

import threading
from datetime import timedelta
from io import StringIO

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_smsc_status import service, tasks
from django_smsc_status.conf import get_settings
from django_smsc_status.models import PruneProgress, SentMessage, StatusSnapshot

pytestmark = pytest.mark.django_db


def message(name: str, *, final: bool, age: int, history: list[int]) -> SentMessage:
    """A message created ``age`` days ago with snapshots observed ``history`` days ago (in order),
    last checked when its latest snapshot was observed."""
    now = timezone.now()
    msg = SentMessage.objects.create(
        smsc_id=name,
        phone="79990000001",
        is_final=final,
        status=1 if final else -1,
        created_at=now - timedelta(days=age),
        last_checked_at=now - timedelta(days=history[-1], seconds=len(history) - 1) if history else None,
    )
    StatusSnapshot.objects.bulk_create(
        StatusSnapshot(
            message=msg, status=-1, observed_at=now - timedelta(days=days, seconds=i), raw={"n": str(i)}
        )
        for i, days in enumerate(history)
    )
    return msg


@pytest.fixture
def world(smsc_settings):
    return {
        # final, six snapshots: the middle four are old, the latest is recent
        "mixed": message("mixed", final=True, age=101, history=[100, 99, 98, 97, 96, 1]),
        # final, every snapshot old: only first and latest survive
        "old": message("old", final=True, age=200, history=[200, 150, 120, 100]),
        # pending: keeps everything, however old
        "pending": message("pending", final=False, age=200, history=[200, 150, 100, 90]),
        "single": message("single", final=True, age=300, history=[300]),
        "recent": message("recent", final=True, age=5, history=[5, 4, 3]),
    }


def kept(msg: SentMessage) -> list[str]:
    return [s.raw["n"] for s in StatusSnapshot.objects.filter(message=msg).order_by("pk")]


def test_keeps_first_and_latest_of_final_and_all_of_pending(world):
    report = service.prune(30, batch_size=2)  # 4 final messages: two batches of two
    assert kept(world["mixed"]) == ["0", "5"]
    assert kept(world["old"]) == ["0", "3"]
    assert kept(world["pending"]) == ["0", "1", "2", "3"]
    assert kept(world["single"]) == ["0"]
    assert kept(world["recent"]) == ["0", "1", "2"]
    assert (report.snapshots, report.messages, report.batches) == (6, 0, 2)
    assert "Deleted 6 old snapshots" in str(report)
    assert service.prune(30).snapshots == 0  # nothing left to do


def test_dry_run_deletes_nothing_and_tells_the_same(world):
    before = sorted(StatusSnapshot.objects.values_list("pk", flat=True))
    report = service.prune(30, 150, dry_run=True, batch_size=1)
    assert sorted(StatusSnapshot.objects.values_list("pk", flat=True)) == before
    assert SentMessage.objects.count() == 5
    assert "Would delete" in str(report)
    real = service.prune(30, 150, batch_size=1)
    assert (report.snapshots, report.messages, report.message_snapshots) == (
        real.snapshots,
        real.messages,
        real.message_snapshots,
    )


def test_old_final_messages_go_with_their_history(world):
    report = service.prune(None, 150)
    names = set(SentMessage.objects.values_list("smsc_id", flat=True))
    assert names == {"mixed", "pending", "recent"}  # old pending messages stay
    assert (report.messages, report.message_snapshots, report.snapshots) == (2, 5, 0)
    assert not StatusSnapshot.objects.filter(message_id__in=[world["old"].pk, world["single"].pk])
    assert kept(world["mixed"]) == ["0", "1", "2", "3", "4", "5"]


@pytest.mark.parametrize("days", [0, -3, 1.5, True])
def test_bad_days_are_refused(world, days):
    with pytest.raises(ValueError, match="snapshot_days must be a whole number of days"):
        service.prune(days)
    assert StatusSnapshot.objects.count() == 18


def run(*args) -> str:
    out = StringIO()
    call_command("smsc_status", *args, stdout=out)
    return out.getvalue()


def test_command_dry_run_then_prune(world):
    assert run("prune", "--days", "30", "--dry-run").startswith("Would delete 6 old snapshots")
    assert StatusSnapshot.objects.count() == 18
    out = run("prune", "--days", "30", "--messages-days", "250")
    assert out.startswith(
        "Deleted 6 old snapshots of final messages, and 1 old final message with 1 snapshot"
    )
    assert not SentMessage.objects.filter(smsc_id="single").exists()


def test_command_uses_retention_setting(world, smsc_settings):
    with pytest.raises(CommandError, match="set SMSC_STATUS\\['RETENTION'\\]"):
        run("prune")
    smsc_settings["RETENTION"] = {"SNAPSHOT_DAYS": 30}
    assert run("prune").startswith("Deleted 6 old snapshots")
    with pytest.raises(CommandError, match="must be a whole number"):
        run("prune", "--days", "0")


def test_prune_task_follows_the_setting(world, smsc_settings):
    assert "not set" in tasks.prune_task()
    smsc_settings["RETENTION"] = {"SNAPSHOT_DAYS": 30, "MESSAGE_DAYS": 250}
    assert tasks.prune_task().startswith("Deleted 6 old snapshots")


def test_schedule_adds_and_removes_the_daily_prune(smsc_settings):
    from django_q.models import Schedule

    assert "No schedule 'django_smsc_status.prune'" in run("schedule")
    smsc_settings["RETENTION"] = {"SNAPSHOT_DAYS": 90}
    assert "Created schedule 'django_smsc_status.prune': daily" in run("schedule")
    assert "Updated schedule 'django_smsc_status.prune': daily" in run("schedule")
    prune = Schedule.objects.get(name="django_smsc_status.prune")
    assert (prune.func, prune.schedule_type) == ("django_smsc_status.tasks.prune_task", Schedule.DAILY)
    smsc_settings["RETENTION"] = None
    run("schedule")
    assert not Schedule.objects.filter(name="django_smsc_status.prune").exists()
    assert Schedule.objects.filter(name="django_smsc_status.sweep").exists()


@pytest.mark.parametrize(
    ("retention", "named"),
    [
        ([90], "['RETENTION'] must be None or a dict"),
        ({"SNAPSHOT_DAY": 90}, "unknown key 'SNAPSHOT_DAY'"),
        ({"SNAPSHOT_DAYS": 0}, "['RETENTION']['SNAPSHOT_DAYS'] must be an integer >= 1 or None"),
        ({"SNAPSHOT_DAYS": 9, "MESSAGE_DAYS": "30"}, "['RETENTION']['MESSAGE_DAYS']"),
        ({"SNAPSHOT_DAYS": 9, "BATCH_SIZE": None}, "['RETENTION']['BATCH_SIZE'] must be an integer >= 1,"),
        ({"MESSAGE_DAYS": None}, "needs SNAPSHOT_DAYS or MESSAGE_DAYS"),
    ],
)
def test_retention_setting_is_validated(smsc_settings, retention, named):
    smsc_settings["RETENTION"] = retention
    with pytest.raises(ImproperlyConfigured) as excinfo:
        get_settings()
    assert named in str(excinfo.value) and str(excinfo.value).startswith("SMSC_STATUS[")


def test_retention_setting_defaults(smsc_settings):
    smsc_settings["RETENTION"] = {"MESSAGE_DAYS": 365}
    retention = get_settings().retention
    assert (retention.snapshot_days, retention.message_days, retention.batch_size) == (None, 365, 1000)


def test_dry_run_of_old_messages_says_how_many(world):
    out = run("prune", "--messages-days", "365", "--dry-run")  # no message is that old
    assert out.startswith(
        "Would delete 0 old snapshots of final messages, and 0 old final messages with 0 snapshots"
    )
    out = run("prune", "--messages-days", "250", "--dry-run")
    assert "and 1 old final message with 1 snapshot (" in out
    assert SentMessage.objects.count() == 5


@pytest.mark.parametrize(
    ("args", "kwargs", "name"),
    [
        ((3_000_000,), {}, "snapshot_days"),
        ((None, 99_999_999), {}, "message_days"),
        ((30,), {"batch_size": 10**20}, "batch_size"),
    ],
)
def test_prune_refuses_numbers_out_of_range(world, args, kwargs, name):
    with pytest.raises(ValueError, match=f"{name} must be .*from 1 to"):
        service.prune(*args, **kwargs)
    assert StatusSnapshot.objects.count() == 18


def test_a_prune_stopped_for_time_goes_on_where_it_stopped(world):
    """Each run does at least one batch: with no time at all, one batch a run, and the runs
    together do what one run would have done."""
    runs = []
    while not runs or runs[-1].stopped_at is not None:
        runs.append(service.prune(30, 150, batch_size=1, time_limit=0, resume=True))
        assert len(runs) < 10
    assert [r.batches for r in runs] == [1] * len(runs)
    assert sum(r.messages for r in runs) == 2 and sum(r.snapshots for r in runs) == 4
    assert "the next run goes on from message #" in str(runs[0])
    assert kept(world["mixed"]) == ["0", "5"] and kept(world["recent"]) == ["0", "1", "2"]
    assert set(PruneProgress.objects.values_list("phase", "next_pk")) == {("messages", 0), ("snapshots", 0)}
    # the pass is over: the next one walks only what was checked since its cutoff (nothing)
    again = service.prune(30, 150, batch_size=1, time_limit=0, resume=True)
    assert (again.stopped_at, again.snapshots) == (None, 0)


def test_without_resume_a_prune_starts_from_the_first_message(world):
    PruneProgress.objects.create(phase="snapshots", next_pk=world["recent"].pk + 1)
    assert service.prune(30).snapshots == 6  # the command's prune: the whole table
    assert service.prune(30, dry_run=True, resume=True).snapshots == 0  # counts all, records nothing
    assert PruneProgress.objects.get(phase="snapshots").next_pk == world["recent"].pk + 1


def test_the_prune_task_resumes_and_stays_inside_the_worker_timeout(world, smsc_settings, monkeypatch):
    from django_q.conf import Conf

    limits = []
    real_prune = service.prune

    def prune(*args, **kwargs):
        limits.append(kwargs["time_limit"])
        return real_prune(*args, **kwargs)

    monkeypatch.setattr(service, "prune", prune)
    monkeypatch.setattr(Conf, "TIMEOUT", 60)
    smsc_settings["RETENTION"] = {"SNAPSHOT_DAYS": 30}
    assert tasks.prune_task().startswith("Deleted 6 old snapshots")  # the first pass: every message
    assert limits == [60 * tasks.PRUNE_SHARE_OF_TIMEOUT]
    assert PruneProgress.objects.get(phase="snapshots").next_pk == 0  # the pass ended
    assert tasks.prune_task().startswith("Deleted 0 old snapshots")


def pruned_before(when):
    """As if the last complete pass of history had its cutoff at ``when``."""
    PruneProgress.objects.update_or_create(phase="snapshots", defaults={"pruned_before": when})


def test_after_a_complete_pass_the_walk_takes_only_what_was_checked_since(
    world, django_assert_max_num_queries
):
    """A final message last checked before the last pass's cutoff is not walked again (its history
    was pruned then); one checked since is. ``old`` (checked 100 days ago) keeps its middle
    snapshots here, which shows that it was not even looked at."""
    now = timezone.now()
    pruned_before(now - timedelta(days=60))
    late = message("late", final=True, age=50, history=[50, 49, 48, 45])  # checked 45 days ago
    report = service.prune(30, resume=True)
    assert report.snapshots == 2 and report.batches == 1
    assert kept(late) == ["0", "3"] and kept(world["old"]) == ["0", "1", "2", "3"]
    assert kept(world["mixed"]) == ["0", "1", "2", "3", "4", "5"]  # checked 1 day ago: not yet
    progress = PruneProgress.objects.get(phase="snapshots")
    assert now - timedelta(days=30) <= progress.pruned_before <= timezone.now() - timedelta(days=30)
    # nothing checked since: no batch, and the queries do not grow with the old messages
    with CaptureQueriesContext(connection) as few:
        assert service.prune(30, resume=True).batches == 0
    for i in range(30):
        message(f"older{i}", final=True, age=200, history=[200, 150, 100])
    with CaptureQueriesContext(connection) as many:
        assert service.prune(30, resume=True).batches == 0
    assert len(many) == len(few) <= 6


def test_a_message_asked_again_comes_back_into_the_walk(world):
    pruned_before(timezone.now() - timedelta(days=60))
    SentMessage.objects.filter(pk=world["old"].pk).update(last_checked_at=timezone.now() - timedelta(days=40))
    assert service.prune(30, resume=True).snapshots == 2
    assert kept(world["old"]) == ["0", "3"]


def test_a_walk_stopped_for_time_resumes_at_its_place_with_its_own_cutoff(world):
    """Several messages checked at the same moment: the position is (time, pk), and a run days
    later finishes the pass with the cutoff it began with before starting the next."""
    now = timezone.now()
    pruned_before(now - timedelta(days=60))
    same = [message(f"same{i}", final=True, age=50, history=[50, 49, 45]) for i in range(3)]
    SentMessage.objects.filter(pk__in=[m.pk for m in same]).update(last_checked_at=now - timedelta(days=45))
    runs = [service.prune(30, batch_size=1, time_limit=0, resume=True)]
    stopped = PruneProgress.objects.get(phase="snapshots")
    assert (stopped.next_pk, stopped.next_checked_at) == (same[1].pk, now - timedelta(days=45))
    pass_before = stopped.pass_before
    while runs[-1].stopped_at is not None:
        runs.append(service.prune(10, batch_size=1, time_limit=0, resume=True))  # a shorter retention now
        assert len(runs) < 10
    assert [kept(m) for m in same] == [["0", "2"]] * 3 and sum(r.snapshots for r in runs) == 3
    assert PruneProgress.objects.get(phase="snapshots").pruned_before == pass_before


@pytest.mark.django_db(transaction=True)
def test_a_refresh_writing_history_meanwhile_waits_and_costs_the_batch_nothing(world):
    """A refresh locks its message before writing a snapshot (``engine._apply``); the prune's
    batch locks its messages first, so the refresh waits, then finds its message deleted.
    Before, the refresh wrote its snapshot between the prune's two deletes."""
    from django.db import connection, connections, transaction

    if connection.vendor == "mysql":
        # once, under load in CI, the refreshing thread ended without a result on MariaDB (not
        # reproduced alone; its error is now reported by the assertion below): until that is
        # understood the test runs where the defect was seen, PostgreSQL, and on SQLite
        pytest.skip("not yet understood on MariaDB (see the comment)")
    target = world["old"]
    found: list = []
    errors: list = []
    go = threading.Event()

    def refresh_like():
        try:
            connection.ensure_connection()  # connected before the prune starts
            go.wait(10)
            with transaction.atomic():
                row = SentMessage.objects.select_for_update().filter(pk=target.pk).first()
                if row is not None:
                    StatusSnapshot.objects.create(message=row, status=1, raw={"n": "late"})
                found.append(row)
        except Exception as exc:
            errors.append(repr(exc))
        finally:
            connections.close_all()

    refresher = threading.Thread(target=refresh_like)
    refresher.start()

    def after_history_delete(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not go.is_set() and sql.startswith('DELETE FROM "django_smsc_status_statussnapshot"'):
            go.set()
            refresher.join(2)  # unlocked, it writes now (milliseconds), between the two deletes
        return result

    with connection.execute_wrapper(after_history_delete):
        report = service.prune(None, 150)
    refresher.join(10)
    assert found == [None], errors  # it waited, then found the message gone
    assert report.messages == 2
    assert not SentMessage.objects.filter(pk=target.pk).exists()
