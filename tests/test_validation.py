"""One validation module for every entry: phones as people write them, nothing SMSC or XML
cannot carry (service, admin form, API, management command)."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.test import APIClient

from django_smsc_status import service
from django_smsc_status.models import SentMessage
from django_smsc_status.validation import clean_smsc_id, normalize_phone

pytestmark = pytest.mark.django_db
API = "/api/smsc/messages/"


@pytest.mark.parametrize(
    ("region", "written", "stored"),
    [
        ("RU", "8 (999) 123-45-67", "79991234567"),
        ("RU", "+7 999 123-45-67", "79991234567"),
        ("RU", "79991234567", "79991234567"),
        ("RU", "999 123 45 67", "79991234567"),
        ("RU", "380501234567", "380501234567"),  # international digits without "+"
        ("KZ", "8 (701) 234-56-78", "77012345678"),
        ("KZ", "+7 701 234 5678", "77012345678"),
        ("UA", "050 123 45 67", "380501234567"),
        ("UA", "+380 50 123 4567", "380501234567"),
    ],
)
def test_phone_formats_of_each_region(smsc_settings, region, written, stored):
    smsc_settings["DEFAULT_REGION"] = region
    assert normalize_phone(written) == stored


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "12",
        "call me",
        "7999abc4567",
        "+7 999 123",
        "8 (999) 123-45-67-89",
        "7999\x011234567",
        "+7 999 123 45 67 89 01 23 45",
    ],
)
def test_not_a_phone_number_is_refused(smsc_settings, bad):
    with pytest.raises(ValidationError) as info:
        normalize_phone(bad)
    assert info.value.code == "phone"


def test_eight_prefix_is_the_same_message_everywhere(smsc_settings, admin_client, staff, grant):
    first, created = service.register("700", "8 (999) 123-45-67")
    again, created_again = service.register("700", "+7 999 123-45-67")
    assert created and not created_again and again.pk == first.pk
    assert first.phone == "79991234567"
    changelist = reverse("admin:django_smsc_status_sentmessage_changelist")
    found = admin_client.get(changelist, {"q": "8 999 123 45 67"}).context["cl"].result_list
    assert [m.pk for m in found] == [first.pk]
    api = APIClient()
    api.force_authenticate(staff)
    assert [m["id"] for m in api.get(API, {"phone": "8 (999) 123-45-67"}).json()["results"]] == [first.pk]


def test_smsc_ids_like_smsc_gives_them():
    assert clean_smsc_id(" 123456 ") == "123456"
    assert clean_smsc_id(98765) == "98765"
    assert clean_smsc_id("order-42.a_1") == "order-42.a_1"


CONTROL = [
    ("smsc_id", "x\x01y"),
    ("smsc_id", "x\u200by"),
    ("phone", "7999\x1b1234567"),
    ("sender", "Sh\x07op"),
    ("text", "Код\x00 1234"),
    ("text", "a\x1fb"),
]


@pytest.mark.parametrize(("field", "value"), CONTROL)
def test_service_register_refuses_control_characters(smsc_settings, field, value):
    fields = {"smsc_id": "1", "phone": "79991234567", "text": "", "sender": "", field: value}
    with pytest.raises(ValidationError) as info:
        service.register(**fields)
    assert info.value.code == field
    assert not SentMessage.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"), [("sender", "a\x01b"), ("text", "a\x01b"), ("smsc_id", "a\x01b")]
)
def test_service_send_refuses_control_characters(smsc_settings, smsc_simulator, field, value):
    kwargs = {"text": "hi", field: value}
    with pytest.raises(ValidationError) as info:
        service.send(["79991234567"], **kwargs)
    assert info.value.code == field
    assert smsc_simulator.requests == 0 and not SentMessage.objects.exists()


@pytest.mark.parametrize(("field", "value"), CONTROL)
def test_api_register_names_the_field(smsc_settings, staff, grant, field, value):
    client = APIClient()
    client.force_authenticate(grant(staff, "add_sentmessage"))
    body = {"smsc_id": "1", "phone": "79991234567", field: value}
    response = client.post(API, body, format="json")
    assert response.status_code == 400 and response.json()["type"] == "invalid_input"
    assert set(response.json()) - {"type", "code", "detail"} == {field}  # the field, and it alone
    assert not SentMessage.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"), [("sender", "a\x01b"), ("text", "a\x01b"), ("phones", ["7999\x011234567"])]
)
def test_api_send_names_the_field(smsc_settings, smsc_simulator, staff, grant, field, value):
    client = APIClient()
    client.force_authenticate(grant(staff, "send_message"))
    body = {"phones": ["79991234567"], "text": "hi", field: value}
    response = client.post(API + "send/", body, format="json")
    assert response.status_code == 400 and response.json()["type"] == "invalid_input"
    assert set(response.json()) - {"type", "code", "detail"} == {field}  # the field, and it alone
    assert smsc_simulator.requests == 0


@pytest.mark.parametrize(("field", "value"), CONTROL)
def test_admin_add_form_names_the_field(smsc_settings, admin_client, field, value):
    data = {"smsc_id": "1", "phone": "79991234567", "text": "", "sender": "", field: value}
    response = admin_client.post(reverse("admin:django_smsc_status_sentmessage_add"), data)
    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == [field]
    assert not SentMessage.objects.exists()
