"""A real browser (Debian's chromium via Playwright) presses "Refresh status" in the admin.

Skipped when /usr/bin/chromium is missing, except under CI=true where it is an error.
``SMSC_SCREENSHOTS=1`` also saves the screenshots linked from the README into docs/.
"""

import os
import threading
from pathlib import Path

import pytest
from django.urls import reverse

from django_smsc_status import service
from django_smsc_status.models import SentMessage

CHROMIUM = "/usr/bin/chromium"
DOCS = Path(__file__).resolve().parent.parent / "docs"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    # The UI does not depend on the database, and on PostgreSQL a live-server request thread
    # leaves a session open that blocks dropping the test database (a teardown warning).
    pytest.mark.skipif(
        os.environ.get("SMSC_TEST_DB") == "postgres", reason="runs in the SQLite pass of the test command"
    ),
]


@pytest.fixture
def live_url(transactional_db):
    """A live server for this test only (pytest-django's lives for the whole session and keeps a
    PostgreSQL session open past the test database's teardown)."""
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.test.testcases import LiveServerThread

    before = set(threading.enumerate())
    thread = LiveServerThread("127.0.0.1", StaticFilesHandler, port=0)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    yield f"http://127.0.0.1:{thread.port}"
    thread.terminate()
    # Keep-alive request threads close their database connection when the browser (closed
    # first, by the page fixture) drops the connection: wait for them.
    for leftover in set(threading.enumerate()) - before:
        leftover.join(5)


@pytest.fixture
def browser_page(live_url):
    """``browser_page(locale=..., width=...)``: a new page in headless Chromium."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{CHROMIUM} is required under CI=true (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} not installed")
    from playwright.sync_api import sync_playwright

    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )

        def new_page(locale: str = "en-US", width: int = 1600):
            context = browser.new_context(locale=locale, viewport={"width": width, "height": 900})
            return context.new_page()

        yield new_page
        browser.close()


@pytest.fixture
def page(browser_page):
    return browser_page()


def login(page, live_url):
    page.goto(live_url + reverse("admin:login"))
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")


def test_russian_changelist_fits_1400_px(browser_page, live_url, fast_polling, tracked, admin_user):
    """At 1400 px no column sits under the filter sidebar; labels are Russian and honest."""
    page = browser_page(locale="ru-RU", width=1400)
    delivered = tracked((1,), text="Ваш код: 4242", sender="DemoShop")
    failed = tracked((20, 1), text="Заказ №1042 передан в доставку", sender="DemoShop")
    pending = tracked((-1,), text="Напоминание о записи", sender="DemoShop")
    service.refresh_many([delivered, failed, pending])
    service.register("31337", "+7 (999) 003-13-37")  # unknown at SMSC: error 3
    service.refresh_many(SentMessage.objects.filter(smsc_id="31337"))
    login(page, live_url)
    page.goto(live_url + reverse("admin:django_smsc_status_sentmessage_changelist"))
    table = page.locator("#result_list").bounding_box()
    sidebar = page.locator("#changelist-filter").bounding_box()
    assert table["x"] + table["width"] <= sidebar["x"] + 1
    last = page.locator("#result_list thead th").last.bounding_box()
    assert last["x"] + last["width"] <= sidebar["x"] + 1
    assert page.locator(".smsc-badge.notfound").inner_text() == "Не найдено в SMSC"
    assert "ошибка доставки" in page.locator("#changelist-filter").inner_text().lower()
    if os.environ.get("SMSC_SCREENSHOTS"):
        page.screenshot(path=str(DOCS / "admin-changelist-ru.png"), full_page=True)
        page.goto(live_url + reverse("admin:django_smsc_status_sentmessage_change", args=[failed.pk]))
        page.screenshot(path=str(DOCS / "admin-change-form-ru.png"), full_page=True)


def test_refresh_button_in_a_real_browser(page, live_url, fast_polling, tracked, admin_user):
    delivered = tracked((1,))
    failed = tracked((20, 1))
    pending = tracked((-1,), (0,), (1,), by_checks=True, text="Ваш код: 4242")
    service.refresh_many([delivered, failed, pending])

    page.goto(live_url + reverse("admin:login"))
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")

    page.goto(live_url + reverse("admin:django_smsc_status_sentmessage_changelist"))
    assert page.locator(".smsc-badge.success").count() == 1
    if os.environ.get("SMSC_SCREENSHOTS"):
        page.click("#toggle-nav-sidebar")  # more room for the columns
        page.screenshot(path=str(DOCS / "admin-changelist.png"), full_page=True)

    page.goto(live_url + reverse("admin:django_smsc_status_sentmessage_change", args=[pending.pk]))
    assert page.locator("fieldset .smsc-badge").first.inner_text() == "Waiting to be sent"
    rows_before = page.locator(".smsc-raw").count()
    page.click("#smsc-refresh")
    page.wait_for_selector(".messagelist")
    assert "status changed" in page.locator(".messagelist").inner_text()
    assert page.locator("fieldset .smsc-badge").first.inner_text() == "Transferred to operator"
    assert page.locator(".smsc-raw").count() == rows_before + 1
    if os.environ.get("SMSC_SCREENSHOTS"):
        page.screenshot(path=str(DOCS / "admin-change-form.png"), full_page=True)


def _overflow(page) -> dict:
    """How far the page and the list's table box scroll sideways (0: everything is in view)."""
    return page.evaluate(
        """() => {
            const over = (el) => el ? el.scrollWidth - el.clientWidth : 0;
            return {page: over(document.documentElement),
                    table: over(document.querySelector('#changelist .results'))};
        }"""
    )


@pytest.mark.parametrize("width", [1280, 1400])
@pytest.mark.parametrize("language", ["en", "ru"])
def test_admin_lists_fit_without_scrolling_sideways(
    browser_page, live_url, fast_polling, kz_login, tracked, admin_user, language, width
):
    """The login states (paused, limited, working, gone) and the message list fit at 1280 and
    1400 px in English and Russian: nothing off-screen, no scroll bar under the table."""
    from django.utils import timezone

    from django_smsc_status.conf import get_settings
    from django_smsc_status.models import LoginState

    fast_polling["ACCOUNTS"]["demo-kz"] = {"LOGIN": "demo-kz-login", "PASSWORD": "x"}
    site = get_settings().site
    LoginState.objects.create(
        site=site, login="alex", pause_code=2, paused_until=timezone.now() + timezone.timedelta(minutes=30)
    )
    LoginState.objects.create(site=site, login="kzlogin", verified_at=timezone.now())
    LoginState.objects.create(site=site, login="demo-kz-login")
    LoginState.objects.create(site="smsc.kz", login="old-login-no-longer-used")
    messages = [
        tracked((1,), text="Ваш код: 4242", sender="DemoShop"),
        tracked((20, 1), text="Заказ №1042 передан в доставку", sender="DemoShop", account="kz"),
        tracked((-1,), text="Напоминание о записи", sender="DemoShop"),
    ]
    service.refresh_many(messages)
    page = browser_page(locale={"en": "en-US", "ru": "ru-RU"}[language], width=width)
    login(page, live_url)
    for name in ("loginstate", "sentmessage"):
        page.goto(live_url + reverse(f"admin:django_smsc_status_{name}_changelist"))
        over = _overflow(page)
        assert over["page"] <= 0 and over["table"] <= 0, (name, over)
        if os.environ.get("SMSC_SCREENSHOTS") and name == "loginstate" and width == 1400:
            page.screenshot(path=str(DOCS / f"admin-logins-{language}.png"), full_page=True)
        assert page.locator("#result_list .smsc-badge").count() >= 3
