"""The test URLs plus B3's baseline admin (``/plain-admin/``) and API (``/plain-api/``)."""

from django.urls import include, path

from tests.urls import urlpatterns as test_urlpatterns

from .baseline import plain_site, router

urlpatterns = [
    *test_urlpatterns,
    path("plain-admin/", plain_site.urls),
    path("plain-api/", include(router.urls)),
]
