"""The REST API: every endpoint, permissions, filters, outcomes, errors, throttling."""

from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation
from rest_framework.exceptions import NotFound
from rest_framework.test import APIClient

from django_smsc_status import service
from django_smsc_status.api.throttles import SmscScopedRateThrottle
from django_smsc_status.conf import get_settings
from django_smsc_status.models import LoginState, SentMessage

pytestmark = pytest.mark.django_db
API = "/api/smsc/messages/"


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api(staff):
    client = APIClient()
    client.force_authenticate(staff)
    return client


@pytest.fixture
def api_with(staff, grant):
    def make(*codenames):
        client = APIClient()
        client.force_authenticate(grant(staff, *codenames))
        return client

    return make


def bulk(n):
    SentMessage.objects.bulk_create(
        SentMessage(
            smsc_id=str(20000 + i),
            phone=f"7999{i:07d}",
            status=[1, -1, 20, None][i % 4],
            err=[0, 0, 1, None][i % 4],
            is_final=i % 4 in (0, 2),
            next_check_at=timezone.now() if i % 4 in (1, 3) else None,
        )
        for i in range(n)
    )


# -- permissions ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", API),
        ("post", API),
        ("get", API + "1/"),
        ("post", API + "1/refresh/"),
        ("post", API + "refresh/"),
        ("post", API + "send/"),
        ("get", API + "1/snapshots/"),
    ],
)
def test_anonymous_is_refused(smsc_settings, smsc_simulator, method, url):
    bulk(1)
    response = getattr(APIClient(), method)(url, {}, format="json")
    # 401 with a challenge (Basic is configured, after Session), as the README says.
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic")
    assert smsc_simulator.requests == 0 and SentMessage.objects.count() == 1


def test_authenticated_without_permission_is_refused(smsc_settings, django_user_model):
    user = django_user_model.objects.create_user("nobody")
    client = APIClient()
    client.force_authenticate(user)
    assert client.get(API).status_code == 403


@pytest.mark.parametrize(
    ("url", "needs", "success"),
    [
        (API + "{pk}/refresh/", "refresh_status", 200),
        (API + "refresh/", "refresh_status", 202),
        (API + "send/", "send_message", 201),
        (API, "add_sentmessage", 201),
    ],
)
def test_writes_need_their_own_permission(smsc_settings, smsc_simulator, api, api_with, url, needs, success):
    bulk(1)
    smsc_simulator.smsc.add_message("79990000000", smsc_id="20000")  # bulk's message, known to SMSC
    pk = SentMessage.objects.get().pk
    body = {"phones": ["79991112233"], "text": "hi", "smsc_id": "9", "phone": "79991112233", "ids": [pk]}
    assert api.post(url.format(pk=pk), body, format="json").status_code == 403
    response = api_with(needs).post(url.format(pk=pk), body, format="json")
    assert response.status_code == success, response.content


def test_permission_classes_are_configurable(smsc_settings, django_user_model):
    smsc_settings["API_PERMISSION_CLASSES"] = ["rest_framework.permissions.IsAdminUser"]
    user = django_user_model.objects.create_user("boss", is_staff=True)  # no model permissions
    client = APIClient()
    client.force_authenticate(user)
    assert client.get(API).status_code == 200


# -- list, filters, retrieve ---------------------------------------------------------------------


def test_list_paginates_and_labels(smsc_settings, api):
    bulk(60)
    body = api.get(API).json()
    assert body["count"] == 60 and len(body["results"]) == 50 and body["next"]
    first = body["results"][0]
    assert set(first["status"]) == {"code", "label", "known"}
    assert first["created_at"].endswith("Z")
    delivered = api.get(API, {"status": "1"}).json()["results"][0]
    assert delivered["status"] == {"code": 1, "label": "Delivered", "known": True}


def test_labels_follow_the_request_language(smsc_settings, api):
    bulk(1)
    body = api.get(API, HTTP_ACCEPT_LANGUAGE="ru").json()
    assert body["results"][0]["status"]["label"] == "Доставлено"


@pytest.mark.parametrize(
    ("query", "count"),
    [
        ({"status": "1,20"}, 10),
        ({"status": "-1"}, 6),
        ({"is_final": "true"}, 10),
        ({"state": "pending"}, 11),
        ({"state": "due"}, 10),  # not the given-up row: it has no next check
        ({"state": "given_up"}, 1),
        ({"err": "1"}, 5),
        ({"phone": "+7 (999) 000-00-03"}, 1),
        ({"phone": "junk"}, 0),
        ({"smsc_id": "20004"}, 1),
        ({"created_after": "2000-01-01T00:00:00Z"}, 21),
        ({"created_before": "2000-01-01T00:00:00Z"}, 0),
        ({"created_before": "2000-01-01T00:00:00+19:30"}, 0),  # PostgreSQL rejects such offsets raw
    ],
)
def test_filters(smsc_settings, api, query, count):
    bulk(20)
    # pending, no longer polled: "given_up" has a row to find
    SentMessage.objects.create(smsc_id="29999", phone="79990029999", status=-1, err=0, next_check_at=None)
    response = api.get(API, query)
    assert response.status_code == 200
    assert response.json()["count"] == count


def test_bad_filter_is_400(smsc_settings, api):
    assert api.get(API, {"state": "bogus"}).status_code == 400
    assert api.get(API, {"created_after": "yesterday"}).status_code == 400
    assert api.get(API, {"created_after": "9999-12-31T23:00:00-23:00"}).status_code == 400
    assert api.get(API, {"status": str(2**40)}).status_code == 400
    assert api.get(f"{API}{'9' * 19}/").status_code == 404


def test_ordering(smsc_settings, api):
    bulk(5)
    ids = [r["id"] for r in api.get(API, {"ordering": "id"}).json()["results"]]
    reverse = [r["id"] for r in api.get(API, {"ordering": "-id"}).json()["results"]]
    assert ids == sorted(ids) and reverse == ids[::-1]  # either way: the parameter is obeyed


def test_list_queries_are_constant(smsc_settings, api):
    def count(n):
        SentMessage.objects.all().delete()
        bulk(n)
        with CaptureQueriesContext(connection) as ctx:
            assert api.get(API, {"page_size": 200}).status_code == 200
        return len(ctx)

    count(1)  # loads and caches the user's permissions
    assert count(5) == count(150)


def test_retrieve(smsc_settings, api):
    bulk(1)
    pk = SentMessage.objects.get().pk
    assert api.get(f"{API}{pk}/").json()["smsc_id"] == "20000"
    assert api.get(f"{API}999999/").status_code == 404


# -- register --------------------------------------------------------------------------------------


def test_register_is_idempotent(smsc_settings, api_with):
    client = api_with("add_sentmessage")
    body = {"smsc_id": "77", "phone": "+7 999 000-11-22", "text": "Hi", "cost": "1.80"}
    first = client.post(API, body, format="json")
    again = client.post(API, body, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"] and first.json()["phone"] == "79990001122"
    assert SentMessage.objects.count() == 1


def test_register_bad_input_gives_field_errors(smsc_settings, api_with):
    response = api_with("add_sentmessage").post(
        API, {"smsc_id": "a b", "phone": "12", "cost": "-1"}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()) - {"type", "code", "detail"} == {"smsc_id", "phone", "cost"}


# -- refresh ---------------------------------------------------------------------------------------


def test_refresh_changed_then_too_soon(smsc_settings, tracked, api_with):
    client = api_with("refresh_status")
    message = tracked((1,))
    body = client.post(f"{API}{message.pk}/refresh/").json()
    assert body["outcome"] == "changed" and body["error"] is None
    assert body["message"]["status"]["code"] == 1
    again = client.post(f"{API}{message.pk}/refresh/")
    assert again.status_code == 200 and again.json()["outcome"] == "too_soon"
    assert again.json()["retry_after"] >= 1


@pytest.mark.parametrize(
    ("fault", "code", "http", "retry", "kind"),
    [
        ("error", 9, 503, "60", "smsc_too_many_requests"),
        ("error", 4, 503, "600", "smsc_ip_blocked"),
        ("error", 2, 503, "1800", "smsc_auth_failed"),
        ("error", 3, 422, None, "smsc_not_found"),
        ("error", 1, 422, None, "smsc_bad_parameters"),
        ("http500", 0, 502, None, "smsc_http_error"),
        ("malformed", 0, 502, None, "smsc_malformed_response"),
    ],
)
def test_refresh_error_mapping(
    smsc_settings, smsc_simulator, tracked, api_with, fault, code, http, retry, kind
):
    message = tracked((1,))
    smsc_simulator.inject(fault, code=code)
    response = api_with("refresh_status").post(f"{API}{message.pk}/refresh/")
    assert response.status_code == http
    assert response.get("Retry-After") == retry
    body = response.json()
    # A stable documented type, not a Python class name.
    assert body["error"]["type"] == kind
    assert body["message"]["status"]["code"] == (-3 if code == 3 else None)
    assert "s3cret" not in response.content.decode()


def test_error_types_are_documented():
    from django_smsc_status.api.errors import ERROR_TYPES

    page = (Path(__file__).resolve().parent.parent / "docs" / "reference" / "rest-api.rst").read_text()
    for kind, _label in ERROR_TYPES.values():
        assert f"``{kind}``" in page, kind


def test_not_found_at_smsc_is_shown_as_such(smsc_settings, smsc_simulator, api_with):
    message, _ = service.register("424242", "79990004242")  # unknown to the simulator: error 3
    client = api_with("refresh_status")
    response = client.post(f"{API}{message.pk}/refresh/", HTTP_ACCEPT_LANGUAGE="ru")
    body = response.json()
    assert response.status_code == 422
    assert body["message"]["status"] == {"code": -3, "label": "Не найдено в SMSC", "known": True}
    assert body["message"]["is_final"] is False and body["message"]["next_check_at"] is not None
    assert "SMSC" in body["detail"] and "message not found" not in body["detail"]
    listed = client.get(f"{API}?status=-3").json()
    assert [m["id"] for m in listed["results"]] == [message.pk]


def test_errors_follow_the_request_language(smsc_settings, tracked, api_with):
    client = api_with("refresh_status", "add_sentmessage")
    missing = client.get(f"{API}999999/", HTTP_ACCEPT_LANGUAGE="ru")
    with translation.override("ru"):
        assert missing.status_code == 404 and missing.json() == {"detail": str(NotFound.default_detail)}
    assert "Not found" not in missing.json()["detail"] and "SentMessage" not in missing.json()["detail"]
    bulk_400 = client.post(f"{API}refresh/", {}, format="json", HTTP_ACCEPT_LANGUAGE="ru")
    assert bulk_400.status_code == 400 and "фильтр" in bulk_400.json()["ids"][0]
    bad = client.post(API, {"smsc_id": "1", "phone": "call me"}, format="json", HTTP_ACCEPT_LANGUAGE="ru")
    assert bad.status_code == 400 and "номер телефона" in bad.json()["phone"][0]


@pytest.mark.parametrize(
    "url",
    [
        API + "-1/",
        API + "abc/",
        API + "99999999999999999999/",
        API + "-1/refresh/",
        "/api/smsc/nothing-here/",
    ],
)
def test_every_api_error_is_json(smsc_settings, api_with, url):
    response = api_with("refresh_status").post(url) if url.endswith("refresh/") else api_with().get(url)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json" and "detail" in response.json()


@pytest.mark.parametrize("url", [API, API + "refresh/", API + "send/"])
def test_deeply_nested_json_is_400(smsc_settings, api_with, url):
    client = api_with("refresh_status", "send_message", "add_sentmessage")
    body = "[" * 100_000 + "]" * 100_000
    response = client.post(url, body, content_type="application/json")
    assert response.status_code == 400 and "detail" in response.json()


def test_refresh_while_breaker_is_open(smsc_settings, smsc_simulator, tracked, api_with):
    message = tracked((1,))
    LoginState.objects.create(
        site=get_settings().site,
        login="alex",
        pause_code=2,
        paused_until=timezone.now() + timezone.timedelta(minutes=10),
    )
    response = api_with("refresh_status").post(f"{API}{message.pk}/refresh/")
    assert response.status_code == 503 and 590 <= int(response["Retry-After"]) <= 600
    assert response.json()["outcome"] == "refused"
    assert smsc_simulator.requests == 0


def test_refresh_is_throttled(smsc_settings, tracked, api_with, monkeypatch):
    monkeypatch.setattr(SmscScopedRateThrottle, "THROTTLE_RATES", {"smsc_refresh": "2/min"})
    client = api_with("refresh_status")
    message = tracked((1,))
    codes = [client.post(f"{API}{message.pk}/refresh/").status_code for _ in range(3)]
    assert codes == [200, 200, 429]


# -- bulk refresh -----------------------------------------------------------------------------------


def test_bulk_refresh_by_ids(smsc_settings, tracked, api_with, django_capture_on_commit_callbacks):
    messages = [tracked((1,)) for _ in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        response = api_with("refresh_status").post(
            f"{API}refresh/", {"ids": [m.pk for m in messages]}, format="json"
        )
    assert response.status_code == 202 and response.json() == {
        "queued": 3,
        "already_queued": 0,
        "missing": [],
    }
    assert SentMessage.objects.filter(status=1).count() == 3


def test_bulk_refresh_ids_are_narrowed_by_the_list_filters(smsc_settings, tracked, api_with):
    messages = [tracked((1,)) for _ in range(4)]
    SentMessage.objects.filter(pk__in=[m.pk for m in messages[:2]]).update(account="kz")
    response = api_with("refresh_status").post(
        f"{API}refresh/?account=kz", {"ids": [m.pk for m in messages]}, format="json"
    )
    assert response.json() == {"queued": 2, "already_queued": 0, "missing": []}
    assert set(SentMessage.objects.exclude(refresh_queued_at=None).values_list("account", flat=True)) == {
        "kz"
    }


def test_bulk_refresh_by_filters(smsc_settings, tracked, api_with):
    SentMessage.objects.all().delete()
    tracked((1,))
    tracked((1,))
    SentMessage.objects.filter(pk=SentMessage.objects.first().pk).update(refresh_queued_at=timezone.now())
    response = api_with("refresh_status").post(f"{API}refresh/?state=pending", {}, format="json")
    assert response.json() == {"queued": 1, "already_queued": 1, "missing": []}


def test_bulk_refresh_bad_ids(smsc_settings, api_with):
    response = api_with("refresh_status").post(f"{API}refresh/", {"ids": ["x"]}, format="json")
    assert response.status_code == 400 and "ids" in response.json()


def test_bulk_refresh_needs_ids_or_a_filter(smsc_settings, tracked, api_with):
    tracked((1,))
    client = api_with("refresh_status")
    for url in (
        f"{API}refresh/",
        f"{API}refresh/?page=2&unknown=1",
        f"{API}refresh/?state=",
        f"{API}refresh/?state=&phone=&status=",
    ):
        response = client.post(url, {}, format="json")
        assert response.status_code == 400 and "at least one list filter" in response.json()["ids"][0]
    assert not SentMessage.objects.filter(refresh_queued_at__isnull=False).exists()


# -- send ------------------------------------------------------------------------------------------


def test_send(smsc_settings, smsc_simulator, api_with):
    response = api_with("send_message").post(
        f"{API}send/",
        {"phones": ["+79991112233", "79991112244"], "text": "Код 1234", "sender": "Shop"},
        format="json",
    )
    assert response.status_code == 201
    assert [m["phone"] for m in response.json()] == ["79991112233", "79991112244"]


def test_send_errors(smsc_settings, smsc_simulator, api_with):
    client = api_with("send_message")
    assert client.post(f"{API}send/", {"phones": ["12"], "text": "x"}, format="json").status_code == 400
    assert client.post(f"{API}send/", {"phones": [], "text": "x"}, format="json").status_code == 400
    smsc_simulator.inject("http500")
    failed = client.post(f"{API}send/", {"phones": ["79991112233"], "text": "x"}, format="json")
    assert failed.status_code == 502 and failed.json()["type"] == "smsc_http_error"
    smsc_settings["PASSWORD"] = "wrong-s3cret"
    refused = client.post(f"{API}send/", {"phones": ["79991112233"], "text": "x"}, format="json")
    assert refused.status_code == 503 and refused["Retry-After"] == "1800"
    assert "s3cret" not in refused.content.decode()
    assert not SentMessage.objects.exists()


# -- history ---------------------------------------------------------------------------------------


def test_snapshots_newest_first(fast_polling, tracked, api):
    message = tracked((-1,), (0,), (1,), by_checks=True)
    for _ in range(3):
        service.refresh(message)
    body = api.get(f"{API}{message.pk}/snapshots/").json()
    assert [s["status"]["code"] for s in body["results"]] == [1, 0, -1]
    assert body["results"][0]["observed_at"].endswith("Z") and "psw" not in body["results"][0]["raw"]
    assert api.get(f"{API}999999/snapshots/").status_code == 404


# -- schema ----------------------------------------------------------------------------------------


def test_openapi_schema_validates(tmp_path):
    from django.core.management import call_command

    out = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    for path in (
        "/api/smsc/messages/{id}/refresh/",
        "/api/smsc/messages/refresh/",
        "/api/smsc/messages/send/",
        "/api/smsc/messages/{id}/snapshots/",
    ):
        assert path in text
    assert "'503'" in text and "'502'" in text and "name: state" in text


# -- several accounts (issue 13) ------------------------------------------------------------------


def test_register_and_list_per_account(kz_login, api_with):
    client = api_with("add_sentmessage")
    body = {"smsc_id": "77", "phone": "79990001122"}
    kz = client.post(API, {**body, "account": "kz"}, format="json")
    default = client.post(API, body, format="json")  # the same id and phone, another account
    assert (kz.status_code, default.status_code) == (201, 201)
    assert (kz.json()["account"], default.json()["account"]) == ("kz", "default")
    SentMessage.objects.create(account="old", smsc_id="1", phone="79990000001")

    def listed(**query):
        response = client.get(API, query)
        assert response.status_code == 200
        return sorted(m["account"] for m in response.json()["results"])

    assert listed() == ["default", "kz", "old"]
    assert listed(account="kz") == ["kz"]
    assert listed(account="old") == ["old"]  # a removed account's messages can still be found
    assert listed(account="nope") == []  # as any other value that matches no row


def test_unknown_account_is_a_field_error(kz_login, smsc_simulator, api_with):
    client = api_with("add_sentmessage", "send_message")
    register = client.post(API, {"account": "nope", "smsc_id": "1", "phone": "79990001122"}, format="json")
    send = client.post(
        f"{API}send/", {"account": "nope", "phones": ["79990001122"], "text": "x"}, format="json"
    )
    for response in (register, send):
        assert response.status_code == 400 and set(response.json()) - {"type", "code", "detail"} == {
            "account"
        }
        assert '"nope"' in response.json()["account"][0]
    assert not SentMessage.objects.exists() and smsc_simulator.requests == 0


def test_send_and_refresh_use_the_accounts_login(kz_login, smsc_simulator, api_with):
    client = api_with("send_message", "refresh_status")
    sent = client.post(
        f"{API}send/", {"account": "kz", "phones": ["79991112233"], "text": "hi"}, format="json"
    )
    assert sent.status_code == 201 and sent.json()[0]["account"] == "kz"
    sim = smsc_simulator.smsc
    assert sim.balance["kzlogin"] < 5 and sim.balance["alex"] == 1000  # charged to kzlogin
    smsc_simulator.smsc.add_message("79991112233", smsc_id=sent.json()[0]["smsc_id"])
    SentMessage.objects.update(last_checked_at=None)
    refreshed = client.post(f"{API}{sent.json()[0]['id']}/refresh/")
    assert refreshed.status_code == 200 and refreshed.json()["outcome"] == "changed"
    assert sim.max_in_flight["kzlogin"] == 1 and sim.max_in_flight["alex"] == 0


def test_refresh_of_an_account_no_longer_in_settings(smsc_settings, smsc_simulator, api_with):
    message = SentMessage.objects.create(account="old", smsc_id="1", phone="79990000001")
    response = api_with("refresh_status").post(f"{API}{message.pk}/refresh/")
    assert response.status_code == 422 and "Retry-After" not in response
    body = response.json()
    assert body["outcome"] == "refused" and body["error"]["type"] == "account_not_configured"
    assert smsc_simulator.requests == 0


# -- issue 22: what the API said wrong or ignored ---------------------------------------------------


def test_err_after_error_3_is_not_reported_not_unchecked(smsc_settings, smsc_simulator, api_with):
    message, _ = service.register("424242", "79990004242")  # unknown to the simulator: error 3
    unchecked, _ = service.register("424243", "79990004243")
    client = api_with("refresh_status")
    body = client.post(f"{API}{message.pk}/refresh/").json()["message"]
    assert body["status"]["code"] == -3
    assert body["err"] == {"code": None, "label": "Not reported by SMSC", "known": False}
    ru = client.get(f"{API}{message.pk}/", HTTP_ACCEPT_LANGUAGE="ru").json()
    assert ru["err"]["label"] == "SMSC не сообщил"
    assert client.get(f"{API}{unchecked.pk}/").json()["err"]["label"] == "Not checked yet"


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete", "options"])
def test_unknown_path_allows_nothing(smsc_settings, api, method):
    response = getattr(api, method)("/api/smsc/nothing-here/")
    assert response.status_code == 404 and response.json() == {"detail": str(NotFound.default_detail)}
    assert "Allow" not in response


def test_bulk_refresh_lists_the_ids_no_message_has(smsc_settings, tracked, api_with):
    message = tracked((1,))
    response = api_with("refresh_status").post(
        f"{API}refresh/", {"ids": [message.pk, 999998, 999999]}, format="json"
    )
    assert response.status_code == 202
    assert response.json() == {"queued": 1, "already_queued": 0, "missing": [999998, 999999]}


@pytest.mark.parametrize(
    ("url", "names"),
    [
        (API + "?ordering=phone", ["ordering", "phone"]),
        (API + "?ordering=-id,text", ["ordering", "text"]),
        (API + "?statuss=1", ["unknown_parameters", "statuss"]),
        (API + "?limit=1&foo=2", ["unknown_parameters", "foo, limit"]),
        ("/api/smsc/stats/?group_by=operator&bogus=1", ["unknown_parameters", "bogus"]),
        ("/api/smsc/stats/?ordering=id", ["unknown_parameters", "ordering"]),
    ],
)
def test_unknown_parameters_are_refused_by_name(smsc_settings, api, url, names):
    bulk(4)
    key, named = names
    response = api.get(url)
    assert response.status_code == 400
    assert response.json()["type"] == "invalid_input" and named in response.json()[key][0]


def test_bulk_refresh_refuses_unknown_parameters(smsc_settings, tracked, api_with):
    message = tracked((1,))
    response = api_with("refresh_status").post(
        f"{API}refresh/?stat=due", {"ids": [message.pk]}, format="json"
    )
    assert response.status_code == 400 and "stat" in response.json()["unknown_parameters"][0]
    assert not SentMessage.objects.filter(refresh_queued_at__isnull=False).exists()


def test_known_parameters_still_work(smsc_settings, api):
    bulk(4)
    ids = [
        m["id"] for m in api.get(API, {"ordering": "-id,status", "page_size": 2, "page": 1}).json()["results"]
    ]
    assert ids == sorted(ids, reverse=True) and len(ids) == 2
    assert api.get(API, {"format": "json", "state": "pending"}).status_code == 200


def test_stats_totals_and_limit(smsc_settings, api):
    bulk(8)
    first = list(SentMessage.objects.order_by("pk").values_list("pk", flat=True)[:3])  # MariaDB: no
    SentMessage.objects.filter(pk__in=first).update(operator="MTS")  # LIMIT in an IN subquery
    totals = api.get("/api/smsc/stats/", {"group_by": "none", "is_final": "true"}).json()
    assert totals["group_by"] == "none"
    (row,) = totals["results"]
    assert (row["key"], row["total"], row["delivered"], row["failed"], row["pending"]) == (None, 4, 2, 2, 0)
    top = api.get("/api/smsc/stats/", {"group_by": "operator", "limit": 1}).json()["results"]
    assert [(r["key"], r["total"]) for r in top] == [("", 5)]
    assert api.get("/api/smsc/stats/", {"limit": 0}).status_code == 400


@pytest.mark.parametrize(
    ("method", "url", "body", "content_type", "kind", "fields"),
    [
        ("post", API, "{not json", "application/json", "invalid_json", set()),
        ("post", API + "send/", "[", "application/json", "invalid_json", set()),
        ("post", API, {"smsc_id": "a b"}, None, "invalid_input", {"smsc_id", "phone"}),
        ("post", API + "refresh/", {"ids": ["x"]}, None, "invalid_input", {"ids"}),
        ("get", API + "?status=x", None, None, "invalid_input", {"status"}),
        ("get", "/api/smsc/stats/?group_by=phone", None, None, "invalid_input", {"group_by"}),
    ],
)
def test_every_400_has_one_shape(smsc_settings, api_with, method, url, body, content_type, kind, fields):
    client = api_with("refresh_status", "send_message", "add_sentmessage")
    if content_type:
        response = getattr(client, method)(url, body, content_type=content_type)
    else:
        response = getattr(client, method)(url, body, format="json")
    assert response.status_code == 400
    data = response.json()
    assert data["type"] == kind and data["code"] is None and isinstance(data["detail"], str)
    assert set(data) - {"type", "code", "detail"} == fields
    for name in fields:
        assert name in data["detail"] and isinstance(data[name], (list, dict))
