"""API views: thin shells over ``service``; SMSC outcomes map to documented HTTP statuses.

======================================  ======  ============================================
outcome                                 status  notes
======================================  ======  ============================================
changed, unchanged, too_soon            200     too_soon: stored state, ``retry_after`` set
SMSC error 1 (parameters), 3 (unknown)  422
quarantined (data that cannot be sent)  422
account no longer in settings           422     no retry helps until the account is back
SMSC error 2, 4, 9; breaker open/busy   503     ``Retry-After`` header
transport failure (timeout, 5xx, …)     502
failed on our side (see the log)        502
======================================  ======  ============================================
"""

from __future__ import annotations

import math
import re

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import router, transaction
from django.http import Http404
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import generics, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.response import Response

from .. import service
from ..exceptions import SmscError
from ..models import SentMessage
from ..service import Outcome
from ..tasks import enqueue_refresh
from .errors import JsonErrorsMixin, SafeJSONParser, error_body, refuse_unknown_parameters, unknown_parameters
from .filters import SentMessageFilter, tally_filter
from .pagination import MessagePagination
from .permissions import CanRefreshStatus, CanSendMessages, base_permission_classes
from .schema import SCHEMA, OpenApiResponse, extend_schema
from .serializers import (
    NO_GROUPING,
    BulkRefreshResponseSerializer,
    BulkRefreshSerializer,
    ErrorSerializer,
    RefreshOutcomeSerializer,
    RegisterSerializer,
    SendSerializer,
    SentMessageSerializer,
    SnapshotSerializer,
    StatsQuerySerializer,
    StatsSerializer,
)
from .throttles import SmscScopedRateThrottle

#: The list's pagination (kept under its old name): page numbers with a capped count, or
#: ``?cursor=`` (see ``api.pagination``).
Pagination = MessagePagination


#: Without ?ordering=, a list filtered by one of these dates is ordered by that date, newest
#: first: its index then reads only the page. Ordered by created_at, a range of old dates
#: is found only after every newer row (issue 23: a week 60 days back read 67 % of the table).
DATE_ORDERINGS = (
    (("sent_after", "sent_before"), ("-sent_at", "-id")),
    (("changed_after", "changed_before"), ("-status_changed_at", "-id")),
)


class StrictOrderingFilter(OrderingFilter):
    """DRF's ordering, with an unknown field a 400 naming it instead of silently ignored, and
    a date filter's date as the default (``DATE_ORDERINGS``)."""

    def get_ordering(self, request, queryset, view):
        params = request.query_params.get(self.ordering_param)
        if not params and getattr(view, "action", None) == "list":
            for names, ordering in DATE_ORDERINGS:
                if any(request.query_params.get(name) for name in names):
                    return ordering
        if params:
            fields = [param.strip() for param in params.split(",")]
            valid = self.remove_invalid_fields(queryset, fields, view, request)
            unknown = [field for field in fields if field not in valid]
            if unknown:
                allowed = ", ".join(name for name, _label in self.get_valid_fields(queryset, view))
                raise ValidationError(
                    {
                        self.ordering_param: [
                            _("Cannot order by %(fields)s; use %(allowed)s.")
                            % {"fields": ", ".join(f[:40] for f in unknown[:10]), "allowed": allowed}
                        ]
                    }
                )
        return super().get_ordering(request, queryset, view)


def filter_names(view) -> set[str]:
    """The query parameters of the list filters of ``view``."""
    return set(view.filterset_class.base_filters)


def _status_for_error(error: SmscError | None) -> int:
    """The table above; each error class names its status (``SmscError.api_status``)."""
    return status.HTTP_200_OK if error is None else error.api_status


def _with_retry_after(response: Response, seconds: float | None) -> Response:
    if seconds and response.status_code == status.HTTP_503_SERVICE_UNAVAILABLE:
        response["Retry-After"] = str(math.ceil(seconds))
    return response


SMSC_ERRORS = {
    422: "SMSC error 1 (parameters) or 3 (message not found), the message is quarantined "
    "(it holds data that cannot be sent to SMSC), or its account is no longer in settings",
    502: "SMSC could not be reached or answered garbage",
    503: "SMSC error 2/4/9, or calls paused by the circuit breaker; see the Retry-After header",
}


def _smsc_error_responses(serializer) -> dict:
    return {code: OpenApiResponse(serializer, description=text) for code, text in SMSC_ERRORS.items()}


class ChallengeMixin:
    """For API views: an anonymous request gets 401 with ``WWW-Authenticate`` when any configured
    scheme offers one (Basic does), even if a scheme without one (Session) comes first; 403 only
    when none does (DRF asks the first scheme alone)."""

    def get_authenticate_header(self, request):
        for authenticator in request.authenticators:
            header = authenticator.authenticate_header(request)
            if header:
                return header
        return None


# Outside ATOMIC_REQUESTS: a refresh's or a send's request-slot lease and message claims must be
# seen by every other process while SMSC is asked, not at the response (each service call
# makes its own transactions). ViewSetMixin.as_view copies this mark from ``dispatch``.
@method_decorator(transaction.non_atomic_requests(using=router.db_for_write(SentMessage)), name="dispatch")
class SentMessageViewSet(
    ChallengeMixin, JsonErrorsMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Messages tracked with SMSC: list, read, register, refresh, send."""

    queryset = SentMessage.objects.all()
    serializer_class = SentMessageSerializer
    pagination_class = Pagination
    filter_backends = (DjangoFilterBackend, StrictOrderingFilter)
    filterset_class = SentMessageFilter
    ordering_fields = ("id", "created_at", "sent_at", "status_changed_at", "last_checked_at", "status")
    ordering = ("-created_at", "-id")
    lookup_value_regex = r"[^/.]+"  # any id reaches get_object, which answers a JSON 404
    parser_classes = (SafeJSONParser,)
    if SCHEMA is not None:
        schema = SCHEMA

    def get_object(self):
        if not re.fullmatch(r"[0-9]{1,18}", str(self.kwargs.get(self.lookup_field, ""))):
            raise NotFound()  # -1, "abc", or beyond a 64-bit key
        try:
            return super().get_object()
        except Http404:
            raise NotFound() from None  # DRF's own text is translated; Django's is not

    def get_permissions(self):
        classes = list(base_permission_classes())
        if self.action in ("refresh", "bulk_refresh"):
            classes.append(CanRefreshStatus)
        elif self.action == "send":
            classes.append(CanSendMessages)
        return [cls() for cls in classes]

    def get_throttles(self):
        scope = {"refresh": "smsc_refresh", "bulk_refresh": "smsc_refresh", "send": "smsc_send"}
        self.throttle_scope = scope.get(self.action)
        if self.throttle_scope:
            return [*super().get_throttles(), SmscScopedRateThrottle()]
        return super().get_throttles()

    def list(self, request, *args, **kwargs):
        pagination = self.paginator
        refuse_unknown_parameters(
            request,
            {
                *filter_names(self),
                StrictOrderingFilter.ordering_param,
                pagination.page_query_param,
                pagination.page_size_query_param,
                pagination.cursor_query_param,
            },
        )
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request=RegisterSerializer,
        responses={200: SentMessageSerializer, 201: SentMessageSerializer},
        description="Register a message sent elsewhere through `account` (default: default). "
        "Idempotent: an already tracked (account, smsc_id, phone) answers 200 with the existing "
        "message, a new one 201.",
    )
    def create(self, request, *args, **kwargs):
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        message, created = service.register(**serializer.validated_data)
        return Response(
            self.get_serializer(message).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        request=None,
        responses={200: RefreshOutcomeSerializer, **_smsc_error_responses(RefreshOutcomeSerializer)},
        description="Ask SMSC for this message's status now. A message checked moments ago is "
        "answered from the database (outcome too_soon).",
    )
    @action(detail=True, methods=["post"])
    def refresh(self, request, pk=None):
        result = service.refresh(self.get_object())
        body = {
            "outcome": result.outcome.value,
            "detail": result.detail,
            "error": error_body(result.error),
            "retry_after": math.ceil(result.retry_after) if result.retry_after else None,
            "message": result.message,
        }
        code = _status_for_error(result.error) if result.outcome != Outcome.TOO_SOON else 200
        return _with_retry_after(
            Response(RefreshOutcomeSerializer(body).data, status=code), result.retry_after
        )

    @extend_schema(
        operation_id="smsc_messages_bulk_refresh",
        filters=True,
        request=BulkRefreshSerializer,
        responses={202: BulkRefreshResponseSerializer},
        description="Queue refreshes (django-q2) of the messages in `ids`, or, without `ids`, "
        "of the messages the list filters in the query string select (at least one "
        "filter is required).",
    )
    @action(detail=False, methods=["post"], url_path="refresh")
    def bulk_refresh(self, request):
        errors = unknown_parameters(request, filter_names(self))
        serializer = BulkRefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ids = serializer.validated_data.get("ids")
        if ids is None:
            # An empty POST, or filters without values (?state=), must not queue every message
            # ever sent: django-filter skips empty values, so look at the cleaned ones.
            filterset = self.filterset_class(
                request.query_params, queryset=self.get_queryset(), request=request
            )
            if not filterset.is_valid():
                errors.update(filterset.errors)
            elif not any(value not in (None, "", [], ()) for value in filterset.form.cleaned_data.values()):
                errors["ids"] = [
                    _(
                        "Give ids, or at least one list filter with a "
                        "value (e.g. ?state=due) in the query string."
                    )
                ]
        if errors:
            raise ValidationError(errors)
        selection = self.filter_queryset(self.get_queryset())
        missing: list[int] = []
        if ids is not None:  # the list filters, if any, narrow the ids (?account=kz, ids of two accounts)
            selection = selection.filter(pk__in=ids)
            found = set(self.get_queryset().filter(pk__in=ids).values_list("pk", flat=True))
            missing = sorted(set(ids) - found)
        total = selection.count()
        queued = enqueue_refresh(selection)
        body = {"queued": queued, "already_queued": total - queued, "missing": missing}
        return Response(body, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=SendSerializer,
        responses={201: SentMessageSerializer(many=True), **_smsc_error_responses(ErrorSerializer)},
        description="Send an SMS through SMSC's `account` (default: default) and track it (one "
        "message per phone).",
    )
    @action(detail=False, methods=["post"])
    def send(self, request):
        serializer = SendSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            messages = service.send(
                data["phones"], data["text"], sender=data["sender"] or None, account=data["account"]
            )
        except SmscError as exc:
            response = Response(error_body(exc), status=_status_for_error(exc))
            return _with_retry_after(response, service.retry_after(exc))
        except DjangoValidationError as exc:
            raise ValidationError(exc.messages) from None
        return Response(self.get_serializer(messages, many=True).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        responses=SnapshotSerializer(many=True), description="The message's status history, newest first."
    )
    @action(detail=True, methods=["get"], filter_backends=[], serializer_class=SnapshotSerializer)
    def snapshots(self, request, pk=None):
        message = self.get_object()
        page = self.paginate_queryset(message.snapshots.order_by("-observed_at", "-pk"))
        return self.get_paginated_response(SnapshotSerializer(page, many=True).data)


class DeliveryStatsView(ChallengeMixin, JsonErrorsMixin, generics.GenericAPIView):
    """Delivery figures of the messages the list filters select, grouped in the database."""

    queryset = SentMessage.objects.all()
    serializer_class = StatsSerializer
    filter_backends = (DjangoFilterBackend,)
    filterset_class = SentMessageFilter
    pagination_class = None
    if SCHEMA is not None:
        schema = SCHEMA

    def get_permissions(self):
        return [cls() for cls in base_permission_classes()]

    @extend_schema(
        operation_id="smsc_stats",
        filters=True,
        parameters=[StatsQuerySerializer],
        responses={200: StatsSerializer},
        description="Per group (`group_by`: day in the site's time zone (the default), operator, "
        "region, err, status or account; `none`: one row, the totals of the whole set): total, "
        "delivered, failed, pending, delivery_rate = delivered / "
        "(delivered + failed), cost, and the median seconds from sending to the "
        "final status. Every list filter of /messages/ applies. Days come in date "
        "order, other groups largest first; `limit` keeps the first N. Any other query "
        "parameter is a 400.",
    )
    def get(self, request):
        refuse_unknown_parameters(request, {*filter_names(self), *StatsQuerySerializer().fields})
        query = StatsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        group_by = query.validated_data["group_by"]
        rows = service.stats(
            self.filter_queryset(self.get_queryset()),
            None if group_by == NO_GROUPING else group_by,
            limit=query.validated_data.get("limit"),
            tally=tally_filter(request.query_params),
        )
        return Response(StatsSerializer({"group_by": group_by, "results": rows}).data)
