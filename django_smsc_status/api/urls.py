"""``path("api/smsc/", include("django_smsc_status.api.urls"))``"""

from django.urls import path, re_path
from rest_framework.routers import SimpleRouter

from .errors import not_found
from .views import DeliveryStatsView, SentMessageViewSet

app_name = "smsc_status"

router = SimpleRouter()
router.register("messages", SentMessageViewSet, basename="message")

# stats/ beside the router; anything else under the prefix: a JSON 404, like every other API error.
urlpatterns = [
    *router.urls,
    path("stats/", DeliveryStatsView.as_view(), name="stats"),
    re_path(r"^.*$", not_found, name="not-found"),
]
