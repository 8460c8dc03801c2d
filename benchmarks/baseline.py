"""B3's fair baseline: what a Django project gets with no effort for the same pages.

* :data:`plain_site`: a plain ``ModelAdmin`` with the same columns (the raw fields, without
  our badges), the same filters on the same fields, the same page size, ordering and search
  fields (exact, as ours), and the same ``show_full_result_count``.
* :class:`PlainViewSet`: a plain DRF ``ReadOnlyModelViewSet`` whose ``ModelSerializer`` has the
  same fields as ours (codes as raw integers), the same pagination, and django-filter's
  generated filters on the same fields and lookups, plus the same ordering fields.
"""

from django.contrib import admin
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import serializers, viewsets
from rest_framework.filters import OrderingFilter
from rest_framework.pagination import PageNumberPagination
from rest_framework.routers import SimpleRouter

from django_smsc_status.api.serializers import SentMessageSerializer
from django_smsc_status.models import SentMessage

plain_site = admin.AdminSite(name="plain")


@admin.register(SentMessage, site=plain_site)
class PlainAdmin(admin.ModelAdmin):
    list_display = ("smsc_id", "phone", "status", "err", "sent_at", "status_changed_at", "last_checked_at")
    list_filter = ("status", "is_final", "err", "created_at", "sent_at")
    search_fields = ("=smsc_id", "=phone")
    ordering = ("-created_at", "-pk")
    list_per_page = 50
    show_full_result_count = False


class PlainSerializer(serializers.ModelSerializer):
    is_given_up = serializers.BooleanField(read_only=True)

    class Meta:
        model = SentMessage
        fields = SentMessageSerializer.Meta.fields


class PlainPagination(PageNumberPagination):
    page_size = 50


class PlainViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = SentMessage.objects.order_by("-created_at", "-id")
    serializer_class = PlainSerializer
    pagination_class = PlainPagination
    filter_backends = (DjangoFilterBackend, OrderingFilter)
    filterset_fields = {
        "status": ["exact", "in"],
        "err": ["exact", "in"],
        "is_final": ["exact"],
        "smsc_id": ["exact"],
        "phone": ["exact"],
        "created_at": ["gte", "lt"],
        "sent_at": ["gte", "lt"],
        "status_changed_at": ["gte", "lt"],
    }
    ordering_fields = ("id", "created_at", "sent_at", "status_changed_at", "last_checked_at", "status")


router = SimpleRouter()
router.register("messages", PlainViewSet, basename="plain-message")
