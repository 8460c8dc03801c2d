"""API permissions: safe defaults, replaceable through ``SMSC_STATUS["API_PERMISSION_CLASSES"]``."""

from __future__ import annotations

from django.utils.module_loading import import_string
from rest_framework import permissions

from ..conf import get_settings


class ModelPermissionsWithView(permissions.DjangoModelPermissions):
    """Django model permissions, with ``view`` required for reading too."""

    perms_map = {
        **permissions.DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }


class CanRefreshStatus(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        return request.user.has_perm("django_smsc_status.refresh_status")


class CanSendMessages(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        return request.user.has_perm("django_smsc_status.send_message")


def base_permission_classes() -> tuple[type[permissions.BasePermission], ...]:
    configured = get_settings().api_permission_classes
    if configured is None:
        return DEFAULT_PERMISSION_CLASSES
    return tuple(import_string(path) for path in configured)


class ActionAwareModelPermissions(ModelPermissionsWithView):
    """As :class:`ModelPermissionsWithView`, but the POST actions that do not create rows
    (refresh, bulk refresh, send) need only ``view``; their own permission is checked apart."""

    read_like_actions = frozenset({"refresh", "bulk_refresh", "send"})

    def has_permission(self, request, view) -> bool:
        if getattr(view, "action", None) not in self.read_like_actions:
            return super().has_permission(request, view)
        if not request.user or not request.user.is_authenticated:
            return False
        model = self._queryset(view).model
        return request.user.has_perms(self.get_required_permissions("GET", model))


DEFAULT_PERMISSION_CLASSES = (permissions.IsAuthenticated, ActionAwareModelPermissions)
