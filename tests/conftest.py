import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from django_smsc_status.simulator.server import SimulatorServer
from django_smsc_status.simulator.smsc import Smsc

ROOT = Path(__file__).resolve().parent.parent
KZ_LOGIN, KZ_PASSWORD = "kz-shop", "kz-Pa55word"

pytest_plugins = ["django_smsc_status.simulator.pytest_plugin"]


@pytest.fixture(autouse=True)
def _default_language():
    """A request with ``Accept-Language: ru`` leaves Russian active in the thread (Django does
    not reset it after a test-client request): every test starts in the default language."""
    from django.utils import translation

    yield
    translation.deactivate()


@pytest.fixture
def client_config(smsc_settings):
    """Validated settings for the simulator."""
    from django_smsc_status.conf import get_settings

    return get_settings()


@pytest.fixture
def tracked(smsc_simulator, db):
    """Make a message known to both the simulator and the database."""
    from django_smsc_status import service
    from django_smsc_status.simulator import timeline

    counter = iter(range(1, 100000))

    def make(*steps, phone=None, by_checks=False, **known):
        n = next(counter)
        phone = phone or f"7999{n:07d}"
        smsc_id = str(1000 + n)
        smsc_simulator.smsc.add_message(
            phone, smsc_id=smsc_id, by_checks=by_checks, steps=timeline(*(steps or ((1,),)))
        )
        message, _ = service.register(smsc_id, phone, **known)
        return message

    return make


@pytest.fixture
def fast_polling(smsc_settings, monkeypatch):
    """No minimum interval between checks and no backoff: every sweep asks again.

    Lifts the floors that keep real settings within SMSC's limits (tests only)."""
    from django_smsc_status import conf

    monkeypatch.setattr(conf.defaults, "FLOORS", {})  # read there
    smsc_settings.update(
        MIN_CHECK_INTERVAL=0,
        FIRST_CHECK_AFTER=0,
        BACKOFF_INITIAL=0,
        BACKOFF_JITTER=0,
        PUSH_FIRST_CHECK_AFTER=0,
        PUSH_BACKOFF_INITIAL=0,
    )
    return smsc_settings


@pytest.fixture
def staff(db, django_user_model):
    """A staff user with view permission only; ``grant(user, codename)`` adds more."""
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("staff", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_sentmessage"))
    return user


@pytest.fixture
def grant():
    from django.contrib.auth.models import Permission

    def add(user, *codenames):
        user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
        return type(user).objects.get(pk=user.pk)  # drop the permission cache

    return add


@pytest.fixture
def spawn(smsc_settings):
    """Start ``python -m tests.procs ROLE ...`` on the test database; wait for it to be ready."""
    processes = []

    def start(role, *args, **overrides):
        from django.db import connection

        from django_smsc_status import conf

        db = connection.settings_dict
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "SMSC_TEST_SQLITE": str(db["NAME"]),
            "PGDATABASE": str(db["NAME"]),
            "SMSC_TEST_MARIADB_DB": str(db["NAME"]),
            "SMSC_TEST_SETTINGS": json.dumps({**smsc_settings, **overrides}),
            "SMSC_TEST_NO_FLOORS": "" if conf.defaults.FLOORS else "1",  # as lifted in this test
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.procs", role, *map(str, args)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        processes.append(process)
        assert process.stdout.readline().strip() == "ready", f"{role} did not start"
        return process

    yield start
    for process in processes:
        process.kill()
        process.wait(10)


@pytest.fixture(scope="session")
def _kz_site_server():
    with SimulatorServer(Smsc({KZ_LOGIN: KZ_PASSWORD})) as server:
        yield server


@pytest.fixture
def kz_site(_kz_site_server):
    """A second SMSC site (a second simulator, its own port and login), reset for each test."""
    _kz_site_server.reset()
    _kz_site_server.smsc.latency = 0.0
    yield _kz_site_server
    _kz_site_server.reset()


@pytest.fixture
def kz_account(smsc_settings, kz_site) -> dict:
    """``SMSC_STATUS["ACCOUNTS"]["kz"]``: the second site, inheriting every other key."""
    smsc_settings["ACCOUNTS"] = {
        "kz": {
            "LOGIN": KZ_LOGIN,
            "PASSWORD": KZ_PASSWORD,
            "ENDPOINT": kz_site.endpoint,
            "DEFAULT_REGION": "KZ",
        }
    }
    return smsc_settings["ACCOUNTS"]["kz"]


@pytest.fixture
def kz_login(smsc_settings, smsc_simulator):
    """A second account, ``kz``, with its own login (``kzlogin``, balance 5.00) at the same
    simulator; the simulator forgets the login afterwards (its reset keeps logins)."""
    from decimal import Decimal

    smsc_simulator.smsc.logins["kzlogin"] = "kzpass"
    smsc_simulator.smsc.balance["kzlogin"] = Decimal("5.00")
    smsc_settings["ACCOUNTS"] = {"kz": {"LOGIN": "kzlogin", "PASSWORD": "kzpass"}}
    yield "kz"
    smsc_simulator.smsc.logins.pop("kzlogin", None)
    smsc_simulator.smsc.balance.pop("kzlogin", None)
