from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/smsc/", include("django_smsc_status.api.urls")),
    path("smsc/", include("django_smsc_status.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
]
