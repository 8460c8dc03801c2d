"""System checks (``manage.py check``)."""

from django.core.management import call_command

from django_smsc_status import checks


def ids(problems):
    return [p.id for p in problems]


def test_valid_settings_pass(settings):
    settings.SMSC_STATUS = {"LOGIN": "a", "PASSWORD": "b"}
    assert checks.check_settings() == []


def test_missing_credentials(settings):
    settings.SMSC_STATUS = {"LOGIN": "a"}
    problems = checks.check_settings()
    assert ids(problems) == ["smsc_status.E001"] and "PASSWORD" in problems[0].msg


def test_missing_wsdl_file(settings, tmp_path):
    settings.SMSC_STATUS = {"LOGIN": "a", "PASSWORD": "b", "WSDL": str(tmp_path / "nope.wsdl")}
    assert ids(checks.check_settings()) == ["smsc_status.E002"]


def test_unknown_endpoint(settings):
    settings.SMSC_STATUS = {"LOGIN": "a", "PASSWORD": "b", "ENDPOINT": "https://smsc.rus/sys/soap.php"}
    assert ids(checks.check_settings()) == ["smsc_status.W001"]
    settings.SMSC_STATUS["ENDPOINT"] = "https://www2.smsc.ru/sys/soap.php"
    assert checks.check_settings() == []


def test_sqlite_without_immediate():
    databases = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "x"}}
    assert ids(checks.sqlite_locking_warnings(databases)) == ["smsc_status.W002"]
    databases["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE"}
    assert checks.sqlite_locking_warnings(databases) == []
    assert checks.check_sqlite_locking() == []  # the test settings do it right


def test_q_cluster_without_broker(settings):
    settings.Q_CLUSTER = {"name": "x", "workers": 2}
    assert ids(checks.check_q_cluster()) == ["smsc_status.W003"]
    settings.Q_CLUSTER = {"name": "x", "orm": "default"}
    assert checks.check_q_cluster() == []


def test_manage_py_check_runs_them(settings, capsys):
    settings.SMSC_STATUS = {"LOGIN": "a", "PASSWORD": "b"}
    call_command("check")
    assert "no issues" in capsys.readouterr().out


def test_local_endpoints_are_not_warned(settings):
    for url in (
        "http://localhost:8000/sys/soap.php",
        "http://127.0.0.1/sys/soap.php",
        "http://[::1]:8000/sys/soap.php",
    ):  # urlsplit gives "::1", without brackets
        settings.SMSC_STATUS = {"LOGIN": "a", "PASSWORD": "b", "ENDPOINT": url}
        assert checks.check_settings() == [], url
