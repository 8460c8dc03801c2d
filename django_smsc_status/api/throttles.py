"""Throttles for the actions that call SMSC, with defaults when no rate is configured.

Set ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["smsc_refresh"]`` / ``["smsc_send"]`` to change them.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from rest_framework.throttling import ScopedRateThrottle

DEFAULT_RATES = {"smsc_refresh": "60/min", "smsc_send": "20/min"}


class SmscScopedRateThrottle(ScopedRateThrottle):
    def get_rate(self):
        try:
            return super().get_rate()
        except ImproperlyConfigured:
            return DEFAULT_RATES[self.scope]
