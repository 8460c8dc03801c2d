"""``path("smsc/", include("django_smsc_status.urls"))``: SMSC's status pushes arrive at
``smsc/push/<PUSH_TOKEN>/`` (with or without the final slash: SMSC may drop it, and a POST
redirected by ``APPEND_SLASH`` would be lost)."""

from django.urls import re_path

from .push import receive

app_name = "smsc_push"

urlpatterns = [re_path(r"^push/(?P<token>[^/]+)/?$", receive, name="receive")]
