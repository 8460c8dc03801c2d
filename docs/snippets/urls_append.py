# django-smsc-status: paste at the end of the project's urls.py.
from django.urls import include, path

urlpatterns += [
    path("api/smsc/", include("django_smsc_status.api.urls")),
    path("smsc/", include("django_smsc_status.urls")),  # status pushes, if you use them
]
