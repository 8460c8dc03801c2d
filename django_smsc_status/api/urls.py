"""``path("api/smsc/", include("django_smsc_status.api.urls"))``"""

from django.urls import path
from rest_framework.routers import SimpleRouter

from .views import DeliveryStatsView, SentMessageViewSet

app_name = "smsc_status"

router = SimpleRouter()
router.register("messages", SentMessageViewSet, basename="message")

urlpatterns = [*router.urls, path("stats/", DeliveryStatsView.as_view(), name="stats")]
