"""pytest fixtures for testing code that uses django-smsc-status against the simulator.

Enable in your ``conftest.py``::

    pytest_plugins = ["django_smsc_status.simulator.pytest_plugin"]

``smsc_simulator`` is one server for the whole session, reset before each test;
``smsc_settings`` points ``settings.SMSC_STATUS`` at it (needs pytest-django's ``settings``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import SimulatorServer
from .smsc import Smsc

LOGIN, PASSWORD, API_KEY = "alex", "s3cret-Pa55", "k3y-0f-the-API"


@pytest.fixture(scope="session")
def _smsc_simulator_server():
    with SimulatorServer(Smsc({LOGIN: PASSWORD}, {API_KEY: LOGIN})) as server:
        yield server


@pytest.fixture
def smsc_simulator(_smsc_simulator_server: SimulatorServer) -> Iterator[SimulatorServer]:
    _smsc_simulator_server.reset()
    _smsc_simulator_server.smsc.latency = 0.0
    _smsc_simulator_server.smsc.offset = 0.0  # a test that moved the clock moved it for itself
    yield _smsc_simulator_server
    _smsc_simulator_server.reset()


@pytest.fixture
def smsc_settings(settings, smsc_simulator: SimulatorServer) -> dict:
    """``SMSC_STATUS`` for the simulator, with short timeouts; edit the dict to change it."""
    settings.SMSC_STATUS = {
        "LOGIN": LOGIN,
        "PASSWORD": PASSWORD,
        "ENDPOINT": smsc_simulator.endpoint,
        "TIMEOUT": 1.0,
        "CONNECT_TIMEOUT": 1.0,
        "SLOT_WAIT": 2.0,
    }
    return settings.SMSC_STATUS
