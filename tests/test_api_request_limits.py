"""Requests Django refuses itself (issue 25, item 12): JSON errors, not Django's HTML 400 page.

A body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (2.5 MB by default) is 413; more than
``DATA_UPLOAD_MAX_NUMBER_FIELDS`` (1,000) query parameters is 400.
"""

import json

import pytest
from django.conf import settings
from django.test import Client

from django_smsc_status.models import SentMessage

pytestmark = pytest.mark.django_db
MESSAGES = "/api/smsc/messages/"


@pytest.fixture
def session(admin_user) -> Client:
    """A real session (the browser's way): the body goes through Django's request handling."""
    client = Client()
    client.force_login(admin_user)
    return client


def oversized(**fields) -> str:
    body = json.dumps({**fields, "text": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)})
    assert len(body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return body


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        (MESSAGES, {"smsc_id": "1", "phone": "79991234567"}),
        (MESSAGES + "send/", {"phones": ["79991234567"]}),
        (MESSAGES + "refresh/", {"ids": [1]}),
    ],
)
def test_an_oversized_json_body_is_a_json_413(session, smsc_settings, path, fields):
    response = session.post(path, oversized(**fields), content_type="application/json")
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    limit = str(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    assert response.json() == {
        "type": "request_too_large",
        "code": None,
        "detail": f"The request body is larger than {limit} bytes.",
    }
    assert not SentMessage.objects.exists()


def test_the_413_follows_the_request_language(session, smsc_settings):
    response = session.post(
        MESSAGES, oversized(smsc_id="1"), content_type="application/json", HTTP_ACCEPT_LANGUAGE="ru"
    )
    assert response.status_code == 413 and "Тело запроса больше" in response.json()["detail"]


@pytest.mark.parametrize("path", [MESSAGES, "/api/smsc/stats/"])
def test_too_many_query_parameters_is_a_json_400(session, path):
    limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
    response = session.get(path + "?" + "&".join(f"p{i}=1" for i in range(limit + 1)))
    assert response.status_code == 400 and response["Content-Type"] == "application/json"
    assert response.json() == {
        "type": "too_many_parameters",
        "code": None,
        "detail": f"The request has more than {limit} parameters.",
    }
