"""The admin with Django's test client: pages, filters, permissions, refresh, register."""

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from django_smsc_status import service
from django_smsc_status.conf import get_settings
from django_smsc_status.models import LoginState, SentMessage, StatusSnapshot

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:django_smsc_status_sentmessage_changelist"


def change_url(message):
    return reverse("admin:django_smsc_status_sentmessage_change", args=[message.pk])


def refresh_url(message):
    return reverse("admin:django_smsc_status_sentmessage_refresh", args=[message.pk])


def bulk(n, **fields):
    SentMessage.objects.bulk_create(
        SentMessage(
            smsc_id=str(10000 + i),
            phone=f"7999{i:07d}",
            status=[1, -1, 20, 77][i % 4],
            err=[0, 0, 1, 999][i % 4],
            **fields,
        )
        for i in range(n)
    )


# -- changelist -----------------------------------------------------------------------------------


def test_changelist_shows_badges_and_labels(admin_client, smsc_settings):
    bulk(4)
    page = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert 'class="smsc-badge success"' in page and ">Delivered<" in page
    assert 'class="smsc-badge failure"' in page and "Subscriber does not exist" in page
    assert 'class="smsc-badge pending"' in page and 'class="smsc-badge unknown"' in page
    assert "Unknown code 77" in page and "Unknown code 999" in page


def test_changelist_in_russian(admin_client, smsc_settings):
    bulk(4)
    page = admin_client.get(reverse(CHANGELIST), HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "Доставлено" in page and "Абонент не существует" in page
    assert "Обновить статус сейчас" in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status": "1"}, 3),
        ({"status": "other"}, 2),  # 77 twice; not the unchecked row
        ({"status": "none"}, 1),  # the unchecked row
        ({"state": "final"}, 5),
        ({"state": "pending"}, 6),
        ({"err": "any"}, 4),
        ({"err": "1"}, 2),
        ({"q": "10004"}, 1),
        ({"q": "79990000001"}, 1),
        ({"q": "+7 (999) 000-00-01"}, 1),
        ({"q": "7999000000"}, 0),
    ],
)
def test_filters_and_search(admin_client, smsc_settings, query, expected):
    bulk(10)
    SentMessage.objects.filter(status__in=[1, 20]).update(is_final=True)
    service.register("30000", "79990030000")  # not checked yet: "none" finds it, "other" does not
    response = admin_client.get(reverse(CHANGELIST), query)
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == expected


def test_changelist_queries_do_not_grow_with_rows(admin_client, smsc_settings, settings):
    def count(n):
        SentMessage.objects.all().delete()
        bulk(n)
        with CaptureQueriesContext(connection) as ctx:
            assert admin_client.get(reverse(CHANGELIST), {"all": ""}).status_code == 200
        return len(ctx)

    from django_smsc_status.admin import SentMessageAdmin

    SentMessageAdmin.list_per_page = 500
    try:
        assert count(10) == count(200)
    finally:
        SentMessageAdmin.list_per_page = 50


# -- the change-form button ----------------------------------------------------------------------


def test_refresh_button_needs_login(client, smsc_settings, tracked):
    message = tracked((1,))
    response = client.post(refresh_url(message))
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert SentMessage.objects.get(pk=message.pk).status is None


def test_refresh_button_needs_permission(client, smsc_settings, smsc_simulator, tracked, staff):
    message = tracked((1,))
    client.force_login(staff)
    assert 'id="smsc-refresh"' not in client.get(change_url(message)).content.decode()
    assert client.post(refresh_url(message)).status_code == 403
    assert smsc_simulator.requests == 0


def test_get_changes_nothing(admin_client, smsc_settings, smsc_simulator, tracked):
    message = tracked((1,))
    assert admin_client.get(refresh_url(message)).status_code == 405
    assert smsc_simulator.requests == 0 and SentMessage.objects.get(pk=message.pk).status is None


def test_post_refreshes_and_reports(client, smsc_settings, smsc_simulator, tracked, staff, grant):
    message = tracked((1,))
    client.force_login(grant(staff, "refresh_status"))
    page = client.get(change_url(message)).content.decode()
    assert 'id="smsc-refresh"' in page and "csrfmiddlewaretoken" in page
    response = client.post(refresh_url(message), follow=True)
    assert response.redirect_chain[-1][0] == change_url(message)
    text = response.content.decode()
    assert "status changed" in text and "Delivered" in text
    assert SentMessage.objects.get(pk=message.pk).status == 1
    assert "smsc-raw" in text  # the new snapshot row, with its raw response


def test_refresh_unknown_message_is_404(admin_client, smsc_settings):
    assert (
        admin_client.post(reverse("admin:django_smsc_status_sentmessage_refresh", args=[999])).status_code
        == 404
    )


def test_button_posts_with_csrf(smsc_settings, tracked, admin_user):
    from django.test import Client

    message = tracked((1,))
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert client.post(refresh_url(message)).status_code == 403  # no token, no refresh
    assert SentMessage.objects.get(pk=message.pk).status is None


# -- actions -------------------------------------------------------------------------------------


def run_action(client, action, messages, follow=True):
    return client.post(
        reverse(CHANGELIST), {"action": action, "_selected_action": [m.pk for m in messages]}, follow=follow
    )


def test_refresh_action_summarizes_a_mixed_selection(admin_client, fast_polling, smsc_simulator, tracked):
    changed, unchanged, limited, bad_login = (tracked((1,)), tracked((-1,)), tracked((1,)), tracked((1,)))
    service.refresh(unchanged)
    smsc_simulator.inject("error", code=9, smsc_id=limited.smsc_id)
    smsc_simulator.inject("error", code=2, smsc_id=bad_login.smsc_id)
    text = run_action(admin_client, "refresh_now", [changed, unchanged, limited, bad_login]).content.decode()
    assert "Refreshed 4 messages: 1 status changed. 1 message unchanged. " in text
    assert "SMSC refused the request for 2 messages." in text
    assert "Too many requests for the same message or at once" in text  # error 9
    assert "Invalid login or password, or IP address not allowed" in text  # error 2
    assert LoginState.objects.get().pause_code == 2


def test_refresh_action_refuses_large_selections(admin_client, smsc_settings, smsc_simulator):
    smsc_settings["SYNC_REFRESH_LIMIT"] = 3
    bulk(5)
    text = run_action(admin_client, "refresh_now", SentMessage.objects.all()).content.decode()
    assert "too many to refresh while you wait" in text and "Queue status refresh" in text
    assert smsc_simulator.requests == 0


def test_queue_action(
    admin_client, smsc_settings, smsc_simulator, tracked, django_capture_on_commit_callbacks
):
    messages = [tracked((1,)) for _ in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        text = run_action(admin_client, "queue_refresh", messages).content.decode()
    assert "Queued a status refresh of 3 messages." in text
    assert SentMessage.objects.filter(status=1).count() == 3  # sync mode ran it


def test_actions_hidden_without_permission(client, smsc_settings, smsc_simulator, staff, tracked):
    message = tracked((1,))
    client.force_login(staff)
    page = client.get(reverse(CHANGELIST)).content.decode()
    assert "refresh_now" not in page and "queue_refresh" not in page
    assert "export_csv" in page  # viewing is allowed, so the list has actions: just not these
    response = run_action(client, "refresh_now", [message], follow=False)
    # Django answers an action it does not offer with "No action selected" and the list again
    assert response.status_code == 302 and response.url == reverse(CHANGELIST)
    assert SentMessage.objects.get(pk=message.pk).status is None
    assert smsc_simulator.requests == 0


# -- register from the admin --------------------------------------------------------------------


def test_register_from_the_admin(admin_client, smsc_settings):
    url = reverse("admin:django_smsc_status_sentmessage_add")
    page = admin_client.get(url).content.decode()
    assert 'name="smsc_id"' in page and 'name="status"' not in page
    response = admin_client.post(url, {"smsc_id": "77", "phone": "+7 999 000-11-22", "text": "Hi"})
    assert response.status_code == 302
    message = SentMessage.objects.get()
    assert (message.smsc_id, message.phone, message.text) == ("77", "79990001122", "Hi")
    assert message.next_check_at is not None


def test_register_duplicate_and_bad_phone(admin_client, smsc_settings):
    url = reverse("admin:django_smsc_status_sentmessage_add")
    service.register("77", "79990001122")
    duplicate = admin_client.post(url, {"smsc_id": "77", "phone": "8 (999) 000-11-22"})
    page = duplicate.content.decode()
    assert "already tracked" in page
    # Once: not also Django's "Sent message with this SMSC id and phone already exists."
    assert "already exists" not in page
    assert page.count("errorlist") == 1
    bad = admin_client.post(url, {"smsc_id": "78", "phone": "call me"})
    assert "Enter a valid phone number" in bad.content.decode()
    assert SentMessage.objects.count() == 1


def test_change_form_is_read_only(admin_client, smsc_settings, tracked):
    message = tracked((1,))
    service.refresh(message)
    page = admin_client.get(change_url(message)).content.decode()
    assert 'name="_save"' not in page and 'name="phone"' not in page
    assert "Status history (newest first)" in page
    assert StatusSnapshot.objects.count() == 1


# -- secrets ---------------------------------------------------------------------------------------


def test_no_credentials_on_any_admin_page(admin_client, smsc_settings, smsc_simulator, tracked):
    message = tracked((1,))
    service.refresh(message)
    smsc_settings["PASSWORD"] = "wrong-s3cret"
    SentMessage.objects.update(last_checked_at=None)
    service.refresh(message)  # error 2: breaker opens, error text stored on the row
    pages = [
        reverse(CHANGELIST),
        change_url(message),
        reverse("admin:django_smsc_status_sentmessage_add"),
        reverse("admin:django_smsc_status_loginstate_changelist"),
        reverse("admin:django_smsc_status_loginstate_change", args=[LoginState.objects.get().pk]),
    ]
    for url in pages:
        text = admin_client.get(url).content.decode()
        assert "s3cret-Pa55" not in text and "wrong-s3cret" not in text, url


def test_reset_breaker_action(admin_client, smsc_settings):
    from django.utils import timezone

    state = LoginState.objects.create(
        site=get_settings().site, login="alex", pause_code=2, paused_until=timezone.now().replace(year=2099)
    )
    text = admin_client.post(
        reverse("admin:django_smsc_status_loginstate_changelist"),
        {"action": "reset", "_selected_action": [state.pk]},
        follow=True,
    )
    assert "Reset 1 login." in text.content.decode()
    assert not LoginState.objects.get().is_paused


def test_custom_permissions_exist():
    names = set(
        Permission.objects.filter(content_type__app_label="django_smsc_status").values_list(
            "codename", flat=True
        )
    )
    assert {"refresh_status", "send_message"} <= names


# -- honest states (issue 12) -----------------------------------------------------------------------


def notices(response):
    return [(m.level_tag, str(m)) for m in response.context["messages"]]


def test_not_found_at_smsc_is_shown_and_never_green(admin_client, smsc_settings, smsc_simulator):
    message, _ = service.register("31337", "79990031337")  # the simulator does not know it: error 3
    response = admin_client.post(refresh_url(message), follow=True)
    [(level, text)] = notices(response)
    assert level == "error" and "Not found at SMSC" in text
    page = response.content.decode()
    assert 'class="smsc-badge notfound"' in page and "Not checked yet" not in page
    message.refresh_from_db()
    assert message.status == -3 and not message.is_final and message.next_check_at is not None
    changelist = reverse("admin:django_smsc_status_sentmessage_changelist")
    filtered = admin_client.get(changelist, {"status": "-3"}).context["cl"].result_list
    assert [m.pk for m in filtered] == [message.pk]
    # Checked moments ago: a warning that says when a check is allowed again, not green.
    again = admin_client.post(refresh_url(message), follow=True)
    [(level, text)] = notices(again)
    assert level == "warning" and "a check is allowed again in" in text


def test_a_later_real_status_replaces_not_found(admin_client, fast_polling, smsc_simulator):
    message, _ = service.register("31338", "79990031338")
    service.refresh(message)
    from django_smsc_status.simulator import timeline

    smsc_simulator.smsc.add_message("79990031338", smsc_id="31338", steps=timeline((1,)))
    service.refresh(message)
    message.refresh_from_db()
    assert message.status == 1 and message.is_final


def test_finality_in_words_not_in_success_colours(admin_client, smsc_settings, tracked):
    failed = tracked((20, 1))
    service.refresh(failed)
    page = admin_client.get(change_url(failed)).content.decode()
    assert "Final: no more checks" in page
    assert "icon-yes.svg" not in page and "icon-no.svg" not in page


def test_russian_admin_reads_right(admin_client, smsc_settings, smsc_simulator):
    SentMessage.objects.create(smsc_id="1", phone="79990000001", status=20, err=1, is_final=True)
    page = admin_client.get(
        reverse("admin:django_smsc_status_sentmessage_changelist"), HTTP_ACCEPT_LANGUAGE="ru"
    ).content.decode()
    assert "ошибка доставки" in page.lower() and "Любая ошибка" in page
    assert "%(code)s" not in page


# -- several accounts (issue 13) ----------------------------------------------------------------------


def test_register_through_an_account_and_filter_by_it(admin_client, kz_login):
    url = reverse("admin:django_smsc_status_sentmessage_add")
    page = admin_client.get(url).content.decode()
    assert '<option value="default" selected>default</option>' in page and '<option value="kz">' in page
    assert (
        admin_client.post(url, {"account": "kz", "smsc_id": "77", "phone": "79990001122"}).status_code == 302
    )
    # the same id and phone in another account is another message, not a duplicate
    assert admin_client.post(url, {"smsc_id": "77", "phone": "79990001122"}).status_code == 302
    duplicate = admin_client.post(url, {"account": "kz", "smsc_id": "77", "phone": "79990001122"})
    assert "already tracked" in duplicate.content.decode()
    assert (
        admin_client.post(url, {"account": "nope", "smsc_id": "78", "phone": "79990001122"}).status_code
        == 200
    )
    assert sorted(SentMessage.objects.values_list("account", flat=True)) == ["default", "kz"]
    SentMessage.objects.create(account="old", smsc_id="1", phone="79990000001")

    def listed(**query):
        return sorted(
            m.account for m in admin_client.get(reverse(CHANGELIST), query).context["cl"].result_list
        )

    assert listed() == ["default", "kz", "old"]
    assert listed(account="kz") == ["kz"]
    assert listed(account="_none") == ["old"]  # "Not in settings"
    assert listed(account="old") == ["old"]  # any name, typed by hand
    page = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert 'class="field-account">kz<' in page and "Not in settings" in page
    kz = SentMessage.objects.get(account="kz")
    assert 'class="readonly">kz<' in admin_client.get(change_url(kz)).content.decode()


def test_a_message_is_refreshed_with_its_accounts_login(admin_client, kz_login, smsc_simulator, tracked):
    message = tracked((1,), account="kz")
    response = admin_client.post(refresh_url(message), follow=True)
    assert "status changed" in response.content.decode()
    assert (
        smsc_simulator.smsc.max_in_flight["kzlogin"] == 1 and smsc_simulator.smsc.max_in_flight["alex"] == 0
    )


def paused(login):
    from django.utils import timezone

    return LoginState.objects.create(
        site=get_settings().site, login=login, pause_code=2, paused_until=timezone.now().replace(year=2099)
    )


def test_login_states_name_their_accounts_and_ask_once_per_row(admin_client, kz_login, monkeypatch):
    for login in ("alex", "kzlogin", "gone"):
        paused(login)
    asked = []
    account_status = service.account_status
    monkeypatch.setattr(service, "account_status", lambda name: asked.append(name) or account_status(name))
    page = admin_client.get(reverse("admin:django_smsc_status_loginstate_changelist")).content.decode()
    assert sorted(asked) == ["default", "kz"]  # once per row (two columns show it), none for "gone"
    assert 'class="field-accounts">default<' in page and 'class="field-accounts">kz<' in page
    assert "none (no longer in settings)" in page


def test_accounts_sharing_a_login_are_one_row(admin_client, kz_login, smsc_settings):
    smsc_settings["ACCOUNTS"]["kz2"] = {"LOGIN": "kzlogin", "PASSWORD": "kzpass", "DEFAULT_REGION": "KZ"}
    state = paused("kzlogin")
    page = admin_client.get(
        reverse("admin:django_smsc_status_loginstate_change", args=[state.pk])
    ).content.decode()
    assert "kz, kz2" in page


def test_reset_action_resets_configured_logins_and_says_which_are_not(admin_client, kz_login):
    states = [paused(login) for login in ("alex", "kzlogin", "gone")]
    response = admin_client.post(
        reverse("admin:django_smsc_status_loginstate_changelist"),
        {"action": "reset", "_selected_action": [s.pk for s in states]},
        follow=True,
    )
    assert notices(response) == [
        ("success", "Reset 2 logins."),
        ("warning", f"No account in settings uses gone @ {get_settings().site}: nothing was reset for it."),
    ]
    assert [s.login for s in LoginState.objects.order_by("login") if s.is_paused] == ["gone"]
