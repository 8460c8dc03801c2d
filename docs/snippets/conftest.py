# conftest.py, beside manage.py: the fixtures smsc_simulator and smsc_settings
pytest_plugins = ["django_smsc_status.simulator.pytest_plugin"]
