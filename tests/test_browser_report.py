"""The delivery report in a real browser (chromium via Playwright), in English and Russian.

``SMSC_SCREENSHOTS=1`` also saves docs/admin-report-en.png and docs/admin-report-ru.png.
"""

import os
import random
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from django_smsc_status.models import SentMessage
from tests.test_browser import CHROMIUM, DOCS, browser_page, live_url, pytestmark  # noqa: F401

OPERATORS = ["МТС", "Билайн", "МегаФон", "Tele2", "Yota"]
REGIONS = [
    "Москва",
    "Санкт-Петербург",
    "Новосибирская область",
    "Свердловская область",
    "Республика Татарстан",
    "Краснодарский край",
    "Нижегородская область",
]


def three_weeks_of_messages(per_day: int = 40) -> None:
    """A plausible history: weekday peaks, a bad day, some errors, a few still pending."""
    rng = random.Random(14)
    now = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)
    rows = []
    for day in range(21, -1, -1):
        sent_day = now - timedelta(days=day)
        volume = per_day + (15 if sent_day.weekday() < 5 else -10) + rng.randint(-5, 5)
        for _ in range(volume):
            sent = sent_day + timedelta(minutes=rng.randint(-600, 600))
            bad_day = day == 9
            status = rng.choices([1, 20, 22, 3, -1], [80, 8 + 30 * bad_day, 4, 3, 2 + 4 * (day < 1)])[0]
            final = status != -1
            rows.append(
                SentMessage(
                    smsc_id=str(len(rows) + 1),
                    phone=f"7999{len(rows):07d}",
                    text="Ваш код: 1234",
                    sent_at=sent,
                    created_at=sent,
                    status=status,
                    is_final=final,
                    err={20: rng.choice([1, 6, 13, 248]), 22: 249, 3: 6}.get(status, 0),
                    operator=rng.choices(OPERATORS, [35, 25, 25, 12, 3])[0],
                    region=rng.choices(REGIONS, [30, 20, 10, 10, 10, 10, 10])[0],
                    cost=Decimal("2.95") if final else None,
                    status_changed_at=sent + timedelta(seconds=rng.randint(3, 240)) if final else None,
                )
            )
    SentMessage.objects.bulk_create(rows)


def log_in(page, live_url):  # noqa: F811
    page.goto(live_url + reverse("admin:login"))
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")


@pytest.mark.parametrize("language", ["en", "ru"])
def test_report_in_a_real_browser(browser_page, live_url, smsc_settings, admin_user, language):  # noqa: F811
    three_weeks_of_messages()
    page = browser_page(locale={"en": "en-US", "ru": "ru-RU"}[language])
    log_in(page, live_url)
    page.goto(live_url + reverse("admin:django_smsc_status_sentmessage_changelist"))
    page.click(".smsc-report-link")
    page.wait_for_selector(".smsc-chart")
    heading = {"en": "Delivery report", "ru": "Отчёт о доставке"}[language]
    assert page.locator("#content h1").inner_text() == heading
    charts = page.locator("svg.smsc-chart")
    assert charts.count() == 5
    for i in range(5):  # drawn, not collapsed
        box = charts.nth(i).bounding_box()
        assert box["width"] > 500 and box["height"] > 20
    if language == "ru":
        assert "МегаФон" in page.locator("svg.smsc-chart").nth(2).inner_html()
    if os.environ.get("SMSC_SCREENSHOTS"):
        page.click("#toggle-nav-sidebar")
        page.screenshot(path=str(DOCS / f"admin-report-{language}.png"), full_page=True)
