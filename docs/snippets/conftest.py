# conftest.py, beside manage.py: the simulator's fixtures (smsc_simulator, smsc_settings)
pytest_plugins = ["django_smsc_status.simulator.pytest_plugin"]
