"""``path("api/smsc/", include("django_smsc_status.api.urls"))``"""

from django.urls import re_path
from rest_framework.routers import SimpleRouter

from .errors import not_found
from .views import SentMessageViewSet

app_name = "smsc_status"

router = SimpleRouter()
router.register("messages", SentMessageViewSet, basename="message")

# Anything else under the prefix: a JSON 404, like every other API error.
urlpatterns = [*router.urls, re_path(r"^.*$", not_found, name="not-found")]
