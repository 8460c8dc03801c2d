"""Writing answers: how one answer changes its row (``policy`` decides), batched saves in one
transaction with rows locked, row by row if a batch fails, and ``status_changed`` after commit.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime

from django.db import connections, router, transaction

from .. import policy
from ..conf import SmscSettings
from ..exceptions import SmscError
from ..models import SentMessage, StatusSnapshot
from ..outcomes import Outcome, RefreshResult
from ..signals import status_changed
from ..soap import StatusResult

logger = logging.getLogger(__name__)

UPDATED_FIELDS = [
    "text",
    "sender",
    "sent_at",
    "cost",
    "sms_count",
    "status",
    "err",
    "status_changed_at",
    "operator",
    "region",
    "is_final",
    "next_check_at",
    "check_attempts",
    "last_request_error",
    "last_checked_at",
    "quarantine_reason",
]


def _announcer(message: SentMessage, old_status: int | None, snapshot: StatusSnapshot):
    def send_status_changed() -> None:
        status_changed.send(
            sender=SentMessage,
            message=message,
            old_status=old_status,
            new_status=message.status,
            snapshot=snapshot,
        )

    return send_status_changed


def _apply_one(
    row: SentMessage,
    answer: StatusResult | SmscError,
    now: datetime,
    config: SmscSettings,
    pushes: bool = False,
) -> RefreshResult:
    """``policy`` applied to one row in memory; a failure there becomes the row's outcome.
    ``pushes``: status pushes arrive for the row's account (``push.arriving``)."""
    try:
        if isinstance(answer, SmscError):
            return policy.record_error(row, answer, now, config)
        snapshot = policy.apply_answer(row, answer, now, config, pushes=pushes)
    except Exception:
        logger.exception("applying SMSC's answer to message %s failed", row.pk)
        row.refresh_from_db()
        error = SmscError("could not apply SMSC's answer; see the log")
        return policy.record_error(row, error, now, config)
    outcome = Outcome.UNCHANGED if snapshot is None else Outcome.CHANGED
    return RefreshResult(row, outcome, snapshot=snapshot)


def _write(
    rows: list[SentMessage],
    snapshots: dict[int, StatusSnapshot],
    now: datetime,
    configs: dict[int, SmscSettings],
) -> dict[int, SmscError]:
    """Save rows and snapshots in one go; if that fails, row by row, so a row the database
    refuses costs that row only (the error is noted on it where possible). Returns the
    failures by primary key."""
    try:
        with transaction.atomic():  # a savepoint: a failed batch leaves the transaction usable
            _save_rows(rows, UPDATED_FIELDS)
            StatusSnapshot.objects.bulk_create(snapshots.values())
        return {}
    except Exception:
        logger.warning("writing %s answers at once failed; writing them one by one", len(rows), exc_info=True)
    failed = {}
    for row in rows:
        try:
            with transaction.atomic():
                _save_rows([row], UPDATED_FIELDS)
                if row.pk in snapshots:
                    snapshots[row.pk].save()
        except Exception as exc:
            logger.exception("could not save SMSC's answer for message %s", row.pk)
            failed[row.pk] = error = SmscError(
                f"could not save SMSC's answer ({type(exc).__name__}); see the log"
            )
            with contextlib.suppress(Exception), transaction.atomic():
                row.refresh_from_db()
                policy.record_error(row, error, now, configs[row.pk])
                _save_rows([row], ["last_request_error", "check_attempts", "next_check_at"])
    return failed


def _save_rows(rows: list[SentMessage], fields: list[str]) -> None:
    """Save ``fields`` of ``rows`` with one UPDATE statement run for every row (executemany).

    ``bulk_update`` builds a CASE WHEN expression per field and row: about a second of CPU per
    thousand rows, taken from the threads waiting on SMSC (benchmarks/bench_sweep.py).
    """
    if not rows:
        return
    connection = connections[router.db_for_write(SentMessage)]
    meta, quote = SentMessage._meta, connection.ops.quote_name
    columns: list = [meta.get_field(name) for name in fields]  # concrete fields only
    sql = "UPDATE {} SET {} WHERE {} = %s".format(  # noqa: S608 - quoted model metadata only
        quote(meta.db_table),
        ", ".join(f"{quote(c.column)} = %s" for c in columns),
        quote(meta.pk.column),  # type: ignore[arg-type]
    )
    params = [
        [c.get_db_prep_save(getattr(row, c.attname), connection) for c in columns] + [row.pk] for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
