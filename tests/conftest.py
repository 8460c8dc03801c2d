import pytest

pytest_plugins = ["django_smsc_status.simulator.pytest_plugin"]


@pytest.fixture
def client_config(smsc_settings):
    """Validated settings for the simulator."""
    from django_smsc_status.conf import get_settings

    return get_settings()
