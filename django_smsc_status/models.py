"""Messages (current state), their status history, and the per-login state of SMSC's limits."""

from __future__ import annotations

from datetime import datetime

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .codes import CodeInfo, DeliveryError, MessageStatus, RequestError, describe


class CodesMixin:
    """Labels and finality of the raw ``status`` and ``err`` codes (see ``codes.py``)."""

    status: int | None
    err: int | None

    @property
    def status_info(self) -> CodeInfo:
        return describe(MessageStatus, self.status)

    @property
    def err_info(self) -> CodeInfo:
        return describe(DeliveryError, self.err)


#: Polling states: each names a :class:`SentMessageQuerySet` method (admin and API filters).
POLLING_STATES = [
    ("pending", _("Pending")),
    ("due", _("Due now")),
    ("final", _("Final")),
    ("given_up", _("Given up")),
    ("quarantined", _("Quarantined")),
]


class SentMessageQuerySet(models.QuerySet):
    def pending(self) -> SentMessageQuerySet:
        """Not in a final status (given-up messages included)."""
        return self.filter(is_final=False)

    def final(self) -> SentMessageQuerySet:
        return self.filter(is_final=True)

    def due(self, now: datetime | None = None) -> SentMessageQuerySet:
        """Pending messages whose next check has come: what the periodic sweep refreshes."""
        return self.filter(is_final=False, next_check_at__lte=now or timezone.now())

    def given_up(self) -> SentMessageQuerySet:
        """Pending, but no longer polled (older than ``GIVE_UP_AFTER``)."""
        return self.filter(is_final=False, next_check_at__isnull=True, quarantine_reason="")

    def in_state(self, state: str) -> SentMessageQuerySet:
        """One of :data:`POLLING_STATES` by name."""
        if state not in dict(POLLING_STATES):
            raise ValueError(f"unknown polling state {state!r}")
        return getattr(self, state)()

    def quarantined(self) -> SentMessageQuerySet:
        """Not polled because the row holds data SMSC cannot be asked about."""
        return self.exclude(quarantine_reason="")


class SentMessage(CodesMixin, models.Model):
    """One SMS to one phone, as SMSC knows it: ``(smsc_id, phone)`` is SMSC's key within an
    account."""

    # The SMSC account (its name in SMSC_STATUS) that sent it and is asked about it.
    account = models.CharField(_("account"), max_length=40, default="default")
    smsc_id = models.CharField(_("SMSC id"), max_length=40)
    phone = models.CharField(_("phone"), max_length=20, db_index=True)
    # What was sent (filled at registration, or from SMSC's answers with ALL >= 1).
    text = models.TextField(_("text"), blank=True)
    sender = models.CharField(_("sender"), max_length=20, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    cost = models.DecimalField(_("cost"), max_digits=12, decimal_places=4, null=True, blank=True)
    sms_count = models.PositiveIntegerField(_("SMS parts"), null=True, blank=True)
    # Current state: raw SMSC codes; labels come from codes.py. None = not checked yet.
    status = models.IntegerField(_("status"), null=True, blank=True)
    err = models.IntegerField(_("delivery error"), null=True, blank=True)
    status_changed_at = models.DateTimeField(_("status changed at"), null=True, blank=True)
    operator = models.CharField(_("operator"), max_length=100, blank=True)
    region = models.CharField(_("region"), max_length=200, blank=True)
    is_final = models.BooleanField(_("final"), default=False)
    # Polling bookkeeping.
    last_checked_at = models.DateTimeField(_("last checked at"), null=True, blank=True)
    # The request before the last one, and when a status push last named the message: a pushed
    # message may be asked sooner than MIN_CHECK_INTERVAL after the last request, still within
    # SMSC's 5 a minute (limits.claims).
    previous_checked_at = models.DateTimeField(_("checked before that at"), null=True, blank=True)
    pushed_at = models.DateTimeField(_("last push at"), null=True, blank=True)
    next_check_at = models.DateTimeField(_("next check at"), null=True, blank=True)
    check_attempts = models.PositiveIntegerField(_("checks without change"), default=0)
    last_request_error = models.CharField(_("last request error"), max_length=200, blank=True)
    # Set when the row holds data no request can carry (e.g. a control character in the id,
    # from before validation existed): polling stops; the admin and the API show why.
    quarantine_reason = models.CharField(_("quarantined because"), max_length=200, blank=True)
    # Set while a django-q2 refresh of this message is queued, so it is not queued twice.
    refresh_queued_at = models.DateTimeField(_("refresh queued at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)

    objects = SentMessageQuerySet.as_manager()

    class Meta:
        verbose_name = _("sent message")
        verbose_name_plural = _("sent messages")
        ordering = ("-created_at", "-pk")
        constraints = [
            # Also the index behind ?account= filters (it leads with the account).
            models.UniqueConstraint(
                fields=("account", "smsc_id", "phone"), name="smsc_status_unique_account_message"
            ),
        ]
        indexes = [
            # The sweep's query, one account at a time: pending messages by next check time.
            models.Index(
                fields=("account", "next_check_at", "id"),
                condition=Q(is_final=False),
                name="smsc_status_account_due_idx",
            ),
            models.Index(fields=("status", "-created_at"), name="smsc_status_status_idx"),
            models.Index(fields=("smsc_id",), name="smsc_status_smsc_id_idx"),
            # Date ranges of the report and the stats API (sent_after/sent_before, admin filter).
            models.Index(fields=("sent_at",), name="smsc_status_sent_at_idx"),
            # Issue 23 (list filters at millions of rows; the EXPLAINs in docs/compatibility.rst):
            # the delivery-error filter (admin ?err=, API ?err=) reads its page and its capped
            # count here instead of scanning for rare codes; without delivered (0) and
            # unanswered (NULL) rows, most of the table, and written only when err changes,
            # which changes the status index anyway.
            models.Index(
                fields=("err", "-created_at"),
                condition=Q(err__lt=0) | Q(err__gt=0),
                name="smsc_status_err_idx",
            ),
            # The "quarantined" state: usually no row at all, which without this index takes a
            # whole-table scan to find out. Empty, and never touched by the sweep. (Led by the
            # reason, so that MariaDB, which builds it whole, reads only quarantined rows too.)
            models.Index(
                fields=("quarantine_reason", "-created_at"),
                condition=~Q(quarantine_reason=""),
                name="smsc_status_quarantined_idx",
            ),
            # The "given up" state: pending messages no longer polled are few and old, but the
            # planner, seeing next_check_at NULL on every final row, expects them everywhere
            # and read the whole created_at index for a page of them (163 ms at a million).
            # Rows enter it when given up and leave when final: UPDATEs that change the due
            # index anyway. (MariaDB has no partial indexes and builds a whole created_at
            # index; there only inserts pay for it.)
            models.Index(
                fields=("-created_at",),
                condition=Q(is_final=False, next_check_at__isnull=True, quarantine_reason=""),
                name="smsc_status_given_up_idx",
            ),
            # API changed_after/changed_before (clients polling for what changed) and the
            # status_changed_at ordering: without it their counts and pages read every row.
            models.Index(fields=("status_changed_at",), name="smsc_status_changed_at_idx"),
            # The admin's "Due now" list, most overdue first, across accounts (the sweep's own
            # index leads with the account): its page reads 50 entries however many are due.
            models.Index(
                fields=("next_check_at", "id"), condition=Q(is_final=False), name="smsc_status_due_idx"
            ),
            # The scheduled prune's walk: final messages last checked since its last pass (a
            # day's worth, not the table). Partial: a poll's UPDATE of a pending row skips it.
            models.Index(
                fields=("last_checked_at", "id"),
                condition=Q(is_final=True),
                name="smsc_status_final_checked_idx",
            ),
        ]
        permissions = [
            ("refresh_status", _("Can refresh message status from SMSC")),
            ("send_message", _("Can send messages through SMSC")),
        ]

    def __str__(self) -> str:
        # the account only when there are several: one id and phone may exist in each
        suffix = f" ({self.account})" if self.account != "default" else ""
        return f"{self.smsc_id} → {self.phone}{suffix}"

    @property
    def is_given_up(self) -> bool:
        return not self.is_final and self.next_check_at is None and not self.quarantine_reason

    @property
    def is_quarantined(self) -> bool:
        return bool(self.quarantine_reason)


class StatusSnapshotQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("status snapshots are append-only")


class StatusSnapshot(CodesMixin, models.Model):
    """One observed change of a message's status. Append-only: never updated."""

    message = models.ForeignKey(
        SentMessage, on_delete=models.CASCADE, related_name="snapshots", verbose_name=_("message")
    )
    status = models.IntegerField(_("status"))
    err = models.IntegerField(_("delivery error"), null=True, blank=True)
    changed_at = models.DateTimeField(_("changed at (SMSC)"), null=True, blank=True)
    observed_at = models.DateTimeField(_("observed at"), default=timezone.now)
    raw = models.JSONField(_("raw response"), default=dict, blank=True)

    objects = StatusSnapshotQuerySet.as_manager()

    class Meta:
        verbose_name = _("status snapshot")
        verbose_name_plural = _("status snapshots")
        ordering = ("-observed_at", "-pk")
        indexes = [models.Index(fields=("message", "-observed_at"), name="smsc_status_history_idx")]

    def __str__(self) -> str:
        return f"{self.message_id}: {self.status}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise TypeError("status snapshots are append-only")
        super().save(*args, **kwargs)


class LoginState(models.Model):
    """Per-login state at one site, shared by every process: the circuit breaker (error 2), IP
    blocks (4), and whether the login has proved itself since it was first used or since the
    breaker opened, within the last ``limits.LOGIN_PROOF_SECONDS`` (5 minutes; until then it is
    *half-open*: one request in flight at a time). Kept per site and login: SMSC counts one
    login at two sites separately."""

    site = models.CharField(_("site"), max_length=100, default="")  # SmscSettings.site
    login = models.CharField(_("login"), max_length=100)  # SmscSettings.limits_login
    paused_until = models.DateTimeField(_("paused until"), null=True, blank=True)
    pause_code = models.IntegerField(_("SMSC error"), null=True, blank=True)
    verified_at = models.DateTimeField(_("last proved good at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("SMSC login state")
        verbose_name_plural = _("SMSC login states")
        constraints = [
            models.UniqueConstraint(fields=("site", "login"), name="smsc_status_unique_site_login"),
        ]

    def __str__(self) -> str:
        return f"{self.login} @ {self.site}"

    @property
    def pause_reason(self) -> str:
        return describe(RequestError, self.pause_code).label if self.pause_code else ""

    @property
    def is_paused(self) -> bool:
        return self.paused_until is not None and self.paused_until > timezone.now()

    @property
    def is_half_open(self) -> bool:
        """No answer from SMSC yet, or none for ``LOGIN_PROOF_SECONDS``: the next request goes
        alone, so a password changed meanwhile costs one request."""
        from .limits import LOGIN_PROOF_SECONDS  # limits imports these models: not at the top

        if self.verified_at is None:
            return True
        return (timezone.now() - self.verified_at).total_seconds() > LOGIN_PROOF_SECONDS


class SlotKind(models.TextChoices):
    """Whose slots a :class:`RequestSlot` row is (see ``limits``)."""

    LOGIN = "login"  # one of the MAX_CONCURRENT_REQUESTS slots of a login at a site
    SITE = "site"  # one of the 4 slots of a site; held for 30 minutes after an error 2
    ERRORS = "errors"  # one of the site's error tokens (its budget of erroneous requests)


class RequestSlot(models.Model):
    """A lease held while calling SMSC: one of the ``MAX_CONCURRENT_REQUESTS`` slots of a login
    at a site (``kind`` login), one of the 4 slots of a site (``kind`` site, ``login`` empty),
    which every request to that site holds too, or one of a site's error tokens (``kind``
    errors). A site slot whose request got SMSC's error 2 stays taken for 30 minutes
    (``holder`` ``"error 2"``): those rows are the site's count of authorisation errors, so
    requests in flight plus errors 2 within 30 minutes never exceed 4 (SMSC blocks the IP at
    the fifth)."""

    kind = models.CharField(max_length=10, choices=SlotKind.choices)
    site = models.CharField(max_length=100)  # SmscSettings.site
    login = models.CharField(max_length=100, blank=True)  # SmscSettings.limits_login; kind login only
    number = models.PositiveSmallIntegerField()
    holder = models.CharField(max_length=32, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=("kind", "site", "login", "number"), name="smsc_status_unique_request_slot"
            ),
        ]

    def __str__(self) -> str:
        owner = f"{self.login} @ {self.site}" if self.login else self.site
        return f"{self.kind} {owner} #{self.number}"


class PushCounter(models.Model):
    """Per account: how many status pushes SMSC sent and what became of them (admin)."""

    account = models.CharField(_("account"), max_length=40, unique=True)
    received = models.PositiveBigIntegerField(_("received"), default=0)
    matched = models.PositiveBigIntegerField(_("matched a message"), default=0)
    unknown = models.PositiveBigIntegerField(_("unknown message"), default=0)
    incoming = models.PositiveBigIntegerField(_("incoming SMS"), default=0)
    calls = models.PositiveBigIntegerField(_("call confirmations"), default=0)
    malformed = models.PositiveBigIntegerField(_("malformed"), default=0)
    bad_checksum = models.PositiveBigIntegerField(_("bad checksum"), default=0)
    last_received_at = models.DateTimeField(_("last received at"), null=True, blank=True)

    class Meta:
        verbose_name = _("push counter")
        verbose_name_plural = _("push counters")

    def __str__(self) -> str:
        return self.account


class ReceivedPush(models.Model):
    """The raw fields of one of the last pushes of an account (``push.KEEP`` per account are
    kept): SMSC's push format is only confirmed by real traffic, so a person can read it here.
    Never a source of status: a push only makes its message due."""

    account = models.CharField(_("account"), max_length=40)
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    kind = models.CharField(_("kind"), max_length=20)  # a push.Kind value
    fields = models.JSONField(_("fields as received"), default=dict, blank=True)
    message = models.ForeignKey(
        SentMessage, null=True, blank=True, on_delete=models.SET_NULL, verbose_name=_("message")
    )

    class Meta:
        verbose_name = _("received push")
        verbose_name_plural = _("received pushes")
        ordering = ("-pk",)
        indexes = [models.Index(fields=("account", "-id"), name="smsc_status_push_account_idx")]

    def __str__(self) -> str:
        return f"{self.account}: {self.kind}"


class PruneProgress(models.Model):
    """Where a scheduled prune stopped for time (``retention.prune(resume=True)``): the next
    run goes on from here instead of from the first message, so at any size every message
    is reached. One row per phase; no row, or ``next_pk`` 0, means from the start.

    For history (phase "snapshots"), once a pass has been through every final message,
    ``pruned_before`` is that pass's cutoff and later passes walk only the final messages
    last checked since (``retention``); ``pass_before`` and ``next_checked_at`` hold the
    cutoff and the position of the pass under way."""

    phase = models.CharField(max_length=20, unique=True)  # a retention.Phase value
    next_pk = models.BigIntegerField(default=0)
    next_checked_at = models.DateTimeField(null=True, blank=True)
    pass_before = models.DateTimeField(null=True, blank=True)
    pruned_before = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.phase} from #{self.next_pk}"


class StatsTally(models.Model):
    """Delivery figures of one sending day (or hour of it), precomputed on PostgreSQL
    (``tallies``): how many messages and what they cost, per (day, account, status, final, has
    a sending time) and one grouping ``kind`` (err, operator, region; ``seconds``: whole seconds
    from sending to the final status, the histogram behind ``median_seconds``; ``<kind>:h``
    per local hour). Kept exact by database triggers
    through :class:`StatsTallyDelta`; never written by Python but by ``tallies.compact``."""

    day = models.DateField()
    hour = models.SmallIntegerField(null=True)  # the local hour, in the kinds kept per hour
    account = models.CharField(max_length=40)
    kind = models.CharField(max_length=16)
    key = models.CharField(max_length=200, null=True)  # noqa: DJ001 - NULL: no error code; "": no operator
    status = models.IntegerField(null=True)
    is_final = models.BooleanField()
    has_sent = models.BooleanField()
    n = models.BigIntegerField()
    cost = models.DecimalField(max_digits=20, decimal_places=4)

    class Meta:
        # the unique index (NULLS NOT DISTINCT) that compaction upserts on is PostgreSQL's own,
        # made by migration 0016 with the triggers
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.day} {self.account} {self.kind}={self.key}: {self.n}"


class StatsTallyDelta(models.Model):
    """One change to the tallies, written by the triggers on ``SentMessage`` (+1 for a row as
    it is now, -1 for a row as it was): append-only, so concurrent sweeps never wait for each
    other on a tally row; ``tallies.compact`` folds them into :class:`StatsTally`."""

    sign = models.SmallIntegerField()
    day = models.DateField()
    hour = models.SmallIntegerField()  # local, as ``day``
    account = models.CharField(max_length=40)
    status = models.IntegerField(null=True)
    is_final = models.BooleanField()
    has_sent = models.BooleanField()
    err = models.IntegerField(null=True)
    operator = models.CharField(max_length=100)
    region = models.CharField(max_length=200)
    seconds = models.BigIntegerField(null=True)
    cost = models.DecimalField(max_digits=12, decimal_places=4, null=True)

    class Meta:
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.sign:+d} {self.day} {self.account}"
