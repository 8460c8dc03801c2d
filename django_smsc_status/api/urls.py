"""``path("api/smsc/", include("django_smsc_status.api.urls"))``"""

from rest_framework.routers import SimpleRouter

from .views import SentMessageViewSet

app_name = "smsc_status"

router = SimpleRouter()
router.register("messages", SentMessageViewSet, basename="message")

urlpatterns = router.urls
