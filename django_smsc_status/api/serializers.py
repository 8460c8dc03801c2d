"""What the API shows and accepts. Codes come with labels in the request's language;
times are ISO-8601 UTC; no credential is ever part of a representation."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timezone
from functools import partial

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from rest_framework import serializers

from .. import service, validation
from ..codes import DeliveryError, MessageStatus, describe, describe_err
from ..conf import DEFAULT_ACCOUNT, account_names, get_settings
from ..error_types import ERROR_TYPES
from ..models import SentMessage, StatusSnapshot
from .schema import extend_schema_field


class UtcDateTimeField(serializers.DateTimeField):
    def __init__(self, **kwargs) -> None:
        super().__init__(default_timezone=timezone.utc, **kwargs)


class CodeSerializer(serializers.Serializer):
    code = serializers.IntegerField(allow_null=True)
    label = serializers.CharField()  # type: ignore[assignment]  # a field, not Field.label
    known = serializers.BooleanField()


@extend_schema_field(CodeSerializer)
class CodeField(serializers.Field):
    """``{"code": 1, "label": "Delivered", "known": true}``; unknown codes keep their number."""

    def __init__(self, vocabulary, **kwargs) -> None:
        self.vocabulary = vocabulary
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def get_attribute(self, instance):
        # A CodeInfo, never None, so "not checked yet" renders as an object too.
        if self.vocabulary is DeliveryError:  # read beside the status (error 3 gives no err)
            return describe_err(instance.err, instance.status)
        return describe(self.vocabulary, getattr(instance, self.source))

    def to_representation(self, info) -> dict:
        return {"code": info.code, "label": info.label, "known": info.is_known}


class SentMessageSerializer(serializers.ModelSerializer):
    status = CodeField(MessageStatus)
    err = CodeField(DeliveryError)
    is_given_up = serializers.BooleanField(read_only=True)
    is_quarantined = serializers.BooleanField(read_only=True)
    serializer_field_mapping = {  # every model DateTimeField renders as UTC
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: UtcDateTimeField,
    }

    class Meta:
        model = SentMessage
        fields = (
            "id",
            "account",
            "smsc_id",
            "phone",
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
            "is_given_up",
            "is_quarantined",
            "quarantine_reason",
            "last_checked_at",
            "next_check_at",
            "check_attempts",
            "last_request_error",
            "created_at",
        )
        read_only_fields = fields


class SnapshotSerializer(serializers.ModelSerializer):
    status = CodeField(MessageStatus)
    err = CodeField(DeliveryError)
    changed_at = UtcDateTimeField(read_only=True)
    observed_at = UtcDateTimeField(read_only=True)
    raw = serializers.DictField(child=serializers.CharField(allow_blank=True), read_only=True)

    class Meta:
        model = StatusSnapshot
        fields = ("id", "status", "err", "changed_at", "observed_at", "raw")


class AccountChoiceMixin:
    """An ``account`` field whose choices are the accounts configured now (read per request,
    never at import: settings may change, and may be missing while modules load)."""

    def get_fields(self):
        fields = super().get_fields()
        fields["account"].choices = [(name, name) for name in account_names()]
        return fields

    def region(self) -> str | None:
        """DEFAULT_REGION of the account asked for, to read phone numbers written without a
        country code (None: the default account's; a bad account is the account field's error)."""
        data = getattr(self, "initial_data", None)
        account = data.get("account", DEFAULT_ACCOUNT) if isinstance(data, Mapping) else DEFAULT_ACCOUNT
        if not isinstance(account, str) or account not in account_names():
            return None
        return get_settings(account).default_region


def account_field() -> serializers.ChoiceField:
    return serializers.ChoiceField(
        choices=[],  # the configured accounts, filled per request (AccountChoiceMixin)
        default=DEFAULT_ACCOUNT,
        help_text="The SMSC account (its name in SMSC_STATUS) the message goes through",
    )


class RegisterSerializer(AccountChoiceMixin, serializers.Serializer):
    """Start tracking a message sent outside this app."""

    account = account_field()
    smsc_id = serializers.CharField(max_length=40)
    phone = serializers.CharField(max_length=32)
    text = serializers.CharField(required=False, allow_blank=True, default="")
    sender = serializers.CharField(required=False, allow_blank=True, default="", max_length=20)
    sent_at = UtcDateTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text="When it was sent: between 2000-01-01 and one day from now",
    )
    cost = serializers.DecimalField(
        max_digits=12, decimal_places=4, required=False, allow_null=True, default=None, min_value=0
    )
    sms_count = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=0, max_value=1000
    )

    def validate_phone(self, value: str) -> str:
        return _django_to_drf(partial(validation.normalize_phone, region=self.region()), value)

    def validate_smsc_id(self, value: str) -> str:
        return _django_to_drf(validation.clean_smsc_id, value)

    def validate_text(self, value: str) -> str:
        return _django_to_drf(validation.clean_text, value)

    def validate_sent_at(self, value):
        return _django_to_drf(validation.clean_date, value)

    def validate_sender(self, value: str) -> str:
        return _django_to_drf(validation.clean_sender, value)


class SendSerializer(AccountChoiceMixin, serializers.Serializer):
    account = account_field()
    phones = serializers.ListField(child=serializers.CharField(max_length=32), min_length=1, max_length=100)
    text = serializers.CharField(max_length=5000)
    sender = serializers.CharField(required=False, allow_blank=True, max_length=20, default="")

    def validate_phones(self, value: list[str]) -> list[str]:
        region = self.region()
        return [_django_to_drf(partial(validation.normalize_phone, region=region), phone) for phone in value]

    def validate_text(self, value: str) -> str:
        return _django_to_drf(partial(validation.clean_text, required=True), value)

    def validate_sender(self, value: str) -> str:
        return _django_to_drf(validation.clean_sender, value)


class BulkRefreshSerializer(serializers.Serializer):
    """Either ``ids``, or nothing: then the list filters in the query string choose."""

    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1), required=False, max_length=1000
    )


class ErrorSerializer(serializers.Serializer):
    type = serializers.ChoiceField(
        choices=sorted({kind for kind, _label in ERROR_TYPES.values()}),
        help_text="Stable error type (see the REST API reference, docs/reference/rest-api.rst)",
    )
    code = serializers.IntegerField(allow_null=True)
    detail = serializers.CharField()


class RefreshOutcomeSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=service.Outcome.choices)
    detail = serializers.CharField()
    error = ErrorSerializer(allow_null=True)
    retry_after = serializers.IntegerField(allow_null=True)
    message = SentMessageSerializer()


class BulkRefreshResponseSerializer(serializers.Serializer):
    queued = serializers.IntegerField()
    already_queued = serializers.IntegerField()
    missing = serializers.ListField(
        child=serializers.IntegerField(), help_text="ids given that no message has (nothing queued)"
    )


def _django_to_drf(func, value):
    try:
        return func(value)
    except DjangoValidationError as exc:
        raise serializers.ValidationError(exc.messages) from None


@extend_schema_field(
    {
        "oneOf": [{"type": "string"}, {"type": "integer"}],
        "nullable": True,
        "description": "day: ISO date; operator/region: text; err/status: code",
    }
)
class GroupKeyField(serializers.Field):
    def to_representation(self, value):
        return value.isoformat() if hasattr(value, "isoformat") else value


#: ``group_by=none``: one row, the totals of the whole filtered set.
NO_GROUPING = "none"


class StatsQuerySerializer(serializers.Serializer):
    group_by = serializers.ChoiceField(
        choices=[*service.STATS_GROUPS, NO_GROUPING],
        default="day",
        help_text="default day; none: one row with the totals of the filtered messages",
    )
    limit = serializers.IntegerField(
        required=False, min_value=1, max_value=10000, help_text="only the first N groups"
    )


class StatsRowSerializer(serializers.Serializer):
    key = GroupKeyField(allow_null=True)
    # The metaclass moves declared fields off the class, so Field.label is not overridden.
    label = serializers.CharField()  # type: ignore[assignment]
    total = serializers.IntegerField()
    delivered = serializers.IntegerField()
    failed = serializers.IntegerField()
    pending = serializers.IntegerField()
    delivery_rate = serializers.FloatField(allow_null=True, help_text="delivered / (delivered + failed)")
    cost = serializers.DecimalField(max_digits=20, decimal_places=4)
    median_seconds = serializers.FloatField(
        allow_null=True, help_text="Median seconds from sending to the final status"
    )


class StatsSerializer(serializers.Serializer):
    group_by = serializers.CharField()
    results = StatsRowSerializer(many=True)
