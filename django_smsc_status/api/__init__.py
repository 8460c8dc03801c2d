"""The REST API (Django REST framework). Include it with::

    path("api/smsc/", include("django_smsc_status.api.urls"))

Every write goes through ``django_smsc_status.service``.
"""
