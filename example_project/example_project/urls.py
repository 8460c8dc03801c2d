from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/django_smsc_status/sentmessage/")),
    path("admin/", admin.site.urls),
    path("api/smsc/", include("django_smsc_status.api.urls")),
    path("smsc/", include("django_smsc_status.urls")),  # SMSC's status pushes
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
]
