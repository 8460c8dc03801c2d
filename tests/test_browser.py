"""A real browser (Debian's chromium via Playwright) presses "Refresh status" in the admin.

Skipped when /usr/bin/chromium is missing, except under CI=true where it is an error.
``SMSC_SCREENSHOTS=1`` also saves the screenshots linked from the README into docs/.
"""

import os
from pathlib import Path

import pytest
from django.urls import reverse

from django_smsc_status import service

CHROMIUM = "/usr/bin/chromium"
DOCS = Path(__file__).resolve().parent.parent / "docs"
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(live_server):
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{CHROMIUM} is required under CI=true (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} not installed")
    from playwright.sync_api import sync_playwright

    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1600, "height": 900})
        yield page
        browser.close()


def test_refresh_button_in_a_real_browser(page, live_server, fast_polling, tracked, admin_user):
    delivered = tracked((1,))
    failed = tracked((20, 1))
    pending = tracked((-1,), (0,), (1,), by_checks=True, text="Ваш код: 4242")
    service.refresh_many([delivered, failed, pending])

    page.goto(live_server.url + reverse("admin:login"))
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")

    page.goto(live_server.url + reverse("admin:django_smsc_status_sentmessage_changelist"))
    assert page.locator(".smsc-badge.success").count() == 1
    if os.environ.get("SMSC_SCREENSHOTS"):
        page.screenshot(path=str(DOCS / "admin-changelist.png"), full_page=True)

    page.goto(live_server.url + reverse("admin:django_smsc_status_sentmessage_change",
                                        args=[pending.pk]))
    assert page.locator("fieldset .smsc-badge").first.inner_text() == "Waiting to be sent"
    rows_before = page.locator(".smsc-raw").count()
    page.click("#smsc-refresh")
    page.wait_for_selector(".messagelist")
    assert "status changed" in page.locator(".messagelist").inner_text()
    assert page.locator("fieldset .smsc-badge").first.inner_text() == "Transferred to operator"
    assert page.locator(".smsc-raw").count() == rows_before + 1
    if os.environ.get("SMSC_SCREENSHOTS"):
        page.screenshot(path=str(DOCS / "admin-change-form.png"), full_page=True)
