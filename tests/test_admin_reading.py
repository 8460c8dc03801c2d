"""The admin says what it means (issue 22): health in words, read-only pages titled so, one
empty mark, counts with their plural forms in English and Russian, and bad filter values
refused like Django's own (a redirect to ``?e=1``), never a 500."""

from datetime import date

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import override

from django_smsc_status import service
from django_smsc_status.admin import short_datetime
from django_smsc_status.conf import get_settings
from django_smsc_status.models import LoginState, SentMessage
from tests.test_admin import CHANGELIST, bulk, change_url, notices, run_action

pytestmark = pytest.mark.django_db

STATES = "admin:django_smsc_status_loginstate_changelist"
REPORT = "admin:django_smsc_status_sentmessage_report"


def state(login: str, **fields) -> LoginState:
    return LoginState.objects.create(site=get_settings().site, login=login, **fields)


# -- items 1 and 3: the account-state page ------------------------------------------------------


def test_login_health_in_words_and_colours(admin_client, smsc_settings):
    """A paused login is red and says until when and why; a proved one is green "Working".
    (Boolean columns showed a green tick for "paused" and a red one for a healthy login.)"""
    until = timezone.now().replace(year=2099, hour=14, minute=5)
    state("alex", pause_code=2, paused_until=until)
    page = admin_client.get(reverse(STATES)).content.decode()
    assert 'class="smsc-badge failure">Paused until ' in page
    assert f"Paused until {short_datetime(until)} — Invalid login or password" in page
    assert "icon-yes.svg" not in page and "icon-no.svg" not in page
    LoginState.objects.update(paused_until=None, pause_code=None, verified_at=timezone.now())
    page = admin_client.get(reverse(STATES)).content.decode()
    assert '<span class="smsc-badge success">Working</span>' in page
    LoginState.objects.update(verified_at=None)  # never proved: one request at a time
    page = admin_client.get(reverse(STATES)).content.decode()
    assert 'class="smsc-badge pending">Working, one request at a time' in page


def test_read_only_pages_offer_no_save_and_say_view(admin_client, smsc_settings, tracked):
    row = state("alex")
    page = admin_client.get(
        reverse("admin:django_smsc_status_loginstate_change", args=[row.pk])
    ).content.decode()
    assert 'name="_save"' not in page and 'name="_continue"' not in page
    assert "<h1>View SMSC login state</h1>" in page
    message = tracked((1,))
    page = admin_client.get(change_url(message)).content.decode()
    assert "<h1>View sent message</h1>" in page and "Change sent message" not in page
    assert "<h1>Select sent message to view</h1>" in admin_client.get(reverse(CHANGELIST)).content.decode()
    page = admin_client.get(reverse(STATES), HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "<h1>Выберите состояние логина SMSC для просмотра</h1>" in page


# -- items 4 to 7: the report, notices, history, empty values -----------------------------------


def test_report_csv_links_are_words_and_filters_read_apart(admin_client, kz_login):
    SentMessage.objects.create(
        account="kz", smsc_id="1", phone="77010000001", status=1, sent_at=timezone.now()
    )
    page = admin_client.get(reverse(REPORT), {"account": "kz"}).content.decode()
    assert ">by operator</a>" in page and ">by delivery error</a>" in page and ">err</a>" not in page
    assert "<strong>Account</strong>: kz." in page
    page = admin_client.get(reverse(REPORT), {"account": "kz"}, HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert ">по операторам</a>" in page and ">operator</a>" not in page


@pytest.mark.parametrize("language", ["en", "ru"])
def test_chart_dates_read_as_the_table_does(admin_client, smsc_settings, language):
    """The axis said "7 dec" beside a table saying 12/07/2026."""
    sent = timezone.now().replace(month=12, day=7, hour=12)
    SentMessage.objects.create(smsc_id="1", phone="79990000001", status=1, sent_at=sent)
    page = admin_client.get(reverse(REPORT), HTTP_ACCEPT_LANGUAGE=language).content.decode()
    with override(language):
        day = date_format(date(sent.year, 12, 7), "SHORT_DATE_FORMAT")
    chart = page.split('class="smsc-chart"')[1].split("</svg>")[0]
    assert f">{day}</text>" in chart
    assert f"<td>{day}</td>" in page


def test_not_found_is_said_once(admin_client, smsc_settings, smsc_simulator):
    message, _ = service.register("31337", "79990031337")  # unknown to the simulator: error 3
    response = admin_client.post(
        reverse("admin:django_smsc_status_sentmessage_refresh", args=[message.pk]), follow=True
    )
    [(_level, text)] = notices(response)
    assert text.count("Not found at SMSC") == 1, text


def test_no_history_yet_is_said(admin_client, smsc_settings):
    message, _ = service.register("77", "79990000077")
    assert "No status history yet" in admin_client.get(change_url(message)).content.decode()


def test_one_empty_mark_everywhere(admin_client, smsc_settings, monkeypatch):
    """Every empty value shows the admin's own ``empty_value_display``; the add form's account
    label is capitalised like the model's fields."""
    for model in (SentMessage, LoginState):
        monkeypatch.setattr(admin.site._registry[model], "empty_value_display", "(nothing)", raising=False)
    message, _ = service.register("77", "79990000077")
    state("gone")  # not in settings: no counts to show
    pages = [
        admin_client.get(reverse(CHANGELIST)).content.decode(),
        admin_client.get(change_url(message)).content.decode(),
        admin_client.get(reverse(STATES)).content.decode(),
    ]
    for page in pages:
        assert "(nothing)" in page
        assert ">—<" not in page and ">-<" not in page and '<div class="readonly">—' not in page
    add = admin_client.get(reverse("admin:django_smsc_status_sentmessage_add")).content.decode()
    assert '<label for="id_account">Account:</label>' in add


# -- item 8: counts and Russian -----------------------------------------------------------------


def test_refresh_summary_counts_in_sentences(admin_client, fast_polling, smsc_simulator, tracked):
    one = tracked((1,))
    text = run_action(admin_client, "refresh_now", [one]).content.decode()
    assert "Refreshed 1 message: 1 status changed." in text
    messages = [tracked((1,)) for _ in range(5)]
    smsc_simulator.inject("error", code=9, smsc_id=messages[0].smsc_id)
    response = admin_client.post(
        reverse(CHANGELIST),
        {"action": "refresh_now", "_selected_action": [m.pk for m in messages]},
        follow=True,
        HTTP_ACCEPT_LANGUAGE="ru",
    )
    summary = notices(response)[0][1]
    assert summary == "Обновлено 5 сообщений: 4 статуса изменились. SMSC отклонил запрос о 1 сообщении."


@pytest.mark.parametrize(
    ("n", "words"),
    [(1, "1 статус изменился"), (3, "3 статуса изменились"), (5, "5 статусов изменились"), (21, "21 статус")],
)
def test_russian_plural_forms(n, words):
    from django_smsc_status.admin import OUTCOME_SENTENCES
    from django_smsc_status.outcomes import Outcome

    with override("ru"):
        assert (OUTCOME_SENTENCES[Outcome.CHANGED] % {"n": n}).startswith(words)


def test_russian_names_read_right_after_numbers_and_in_notices(admin_client, smsc_settings):
    bulk(15)
    page = admin_client.get(reverse(CHANGELIST), HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "15 SMS" in page and "отправленные сообщения" not in page
    assert ">Статус</" in page or "Статус\n" in page  # filter titles capitalised
    response = admin_client.post(
        reverse("admin:django_smsc_status_sentmessage_add"),
        {"smsc_id": "77", "phone": "79990000077"},
        follow=True,
        HTTP_ACCEPT_LANGUAGE="ru",
    )
    [(_level, text)] = notices(response)
    assert text.startswith("SMS ") and "был успешно добавлен" in text  # Django's masculine, "SMS" is too
    for login in ("alex", "kzlogin", "other", "fourth", "fifth"):
        state(login)
    page = admin_client.get(reverse(STATES), HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "5 состояний логинов SMSC" in page  # Django would say "5 состояния"
    with override("ru"):
        assert str(SentMessage._meta.get_field("refresh_queued_at").verbose_name) == (
            "поставлено в очередь на обновление"
        )


# -- item 18: bad filter values ----------------------------------------------------------------


BAD = [
    {"status": "abc"},
    {"status": "1.5"},
    {"status": "99999999999999999999"},
    {"err": "abc"},
    {"err": "1e3"},
    {"err": "-99999999999999999999"},
    {"account": "\x00"},
]


@pytest.mark.parametrize("query", BAD, ids=lambda q: repr(q))
@pytest.mark.parametrize("page", [CHANGELIST, REPORT, "csv"])
def test_bad_filter_values_are_refused_not_500(admin_client, smsc_settings, query, page):
    bulk(4)
    if page == "csv":
        response = admin_client.get(reverse(REPORT), {**query, "format": "csv", "group": "err"})
    else:
        response = admin_client.get(reverse(page), query)
    assert response.status_code == 302, response.status_code


def test_login_states_refuse_a_nul_filter(admin_client, smsc_settings):
    state("alex")
    response = admin_client.get(reverse(STATES), {"account": "\x00"})
    assert response.status_code == 302 and response["Location"].endswith("?e=1")
