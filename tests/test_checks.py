"""System checks (``manage.py check``)."""

import pytest
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


@pytest.mark.parametrize(
    ("endpoint", "warned"),
    [
        ("https://www.smcs.ru/sys/soap.php", True),  # a typo behind www was skipped (issue 22)
        ("https://www2.smsc.rus/sys/soap.php", True),
        ("https://www3.smsc.ru/sys/soap.php", False),
        ("https://WWW.SMSC.UA./sys/soap.php", False),
        ("https://smsc.ru:443/sys/soap.php", False),
        ("http://127.0.0.1:8001/sys/soap.php", False),
        ("http://[::1]:8001/sys/soap.php", False),
        ("http://localhost:8001/sys/soap.php", False),
    ],
)
def test_endpoint_typo_behind_www(settings, endpoint, warned):
    settings.SMSC_STATUS = {"LOGIN": "a", "PASSWORD": "b", "ENDPOINT": endpoint}
    assert ids(checks.check_settings()) == (["smsc_status.W001"] if warned else [])


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


def test_q_cluster_timeout_too_short_for_one_request(settings):
    """W005: the sweep keeps TIMEOUT + CONNECT_TIMEOUT per endpoint + 2 s before django-q2's
    timeout; a timeout shorter than that would let it ask nothing."""
    settings.SMSC_STATUS = {"LOGIN": "a", "PASSWORD": "b", "TIMEOUT": 10, "CONNECT_TIMEOUT": 5}  # 17 s
    settings.Q_CLUSTER = {"name": "x", "orm": "default", "timeout": 17}
    (warning,) = checks.check_q_cluster()
    assert warning.id == "smsc_status.W005" and "(17 s)" in warning.msg and "account default" in warning.msg
    settings.Q_CLUSTER["timeout"] = 18
    assert checks.check_q_cluster() == []
    settings.Q_CLUSTER["timeout"] = 60
    settings.SMSC_STATUS["ACCOUNTS"] = {"slow": {"TIMEOUT": 60}}  # one account's own TIMEOUT
    assert "account slow " in checks.check_q_cluster()[0].msg


def test_manage_py_check_runs_them(settings, capsys):
    """``manage.py check`` runs our checks (registered), not only Django's: "no issues" alone
    is what an unregistered check gives too."""
    from django.core.management.base import SystemCheckError

    settings.SMSC_STATUS = {"LOGIN": "a", "PASSWORD": "b"}
    call_command("check")
    assert "no issues" in capsys.readouterr().out
    settings.SMSC_STATUS = {"LOGIN": "a"}
    with pytest.raises(SystemCheckError, match=r"smsc_status\.E001"):
        call_command("check")
    settings.SMSC_STATUS = {"LOGIN": "a", "PASSWORD": "b"}
    settings.Q_CLUSTER = {"name": "x", "workers": 2}
    call_command("check")
    assert "smsc_status.W003" in capsys.readouterr().err


def test_local_endpoints_are_not_warned(settings):
    for url in (
        "http://localhost:8000/sys/soap.php",
        "http://127.0.0.1/sys/soap.php",
        "http://[::1]:8000/sys/soap.php",
    ):  # urlsplit gives "::1", without brackets
        settings.SMSC_STATUS = {"LOGIN": "a", "PASSWORD": "b", "ENDPOINT": url}
        assert checks.check_settings() == [], url


# -- several accounts (issue 13) ------------------------------------------------------------------


def test_every_account_is_checked(settings):
    settings.SMSC_STATUS = {"LOGIN": "a", "PASSWORD": "b", "ACCOUNTS": {"kz": {"ENDPOINT": "ftp://x"}}}
    [problem] = checks.check_settings()
    assert problem.id == "smsc_status.E001" and "['ACCOUNTS']['kz']['ENDPOINT']" in problem.msg
    settings.SMSC_STATUS["ACCOUNTS"] = {
        "kz": {"LOGIN": "k", "PASSWORD": "p", "ENDPOINT": "https://smsc.kaz/sys/soap.php"}
    }
    [problem] = checks.check_settings()
    assert problem.id == "smsc_status.W001" and problem.msg.endswith("(account kz)")
    settings.SMSC_STATUS["ACCOUNTS"] = {
        "kz": {"LOGIN": "k", "PASSWORD": "p", "ENDPOINT": "https://smsc.kz/sys/soap.php"}
    }
    assert checks.check_settings() == []
    settings.SMSC_STATUS["ACCOUNTS"] = {"kz": "nope"}
    assert ids(checks.check_settings()) == ["smsc_status.E001"]


def test_an_inherited_wsdl_is_reported_once(settings, tmp_path):
    missing = str(tmp_path / "nope.wsdl")
    settings.SMSC_STATUS = {
        "LOGIN": "a",
        "PASSWORD": "b",
        "WSDL": missing,
        "ACCOUNTS": {"kz": {"LOGIN": "k", "PASSWORD": "p"}},
    }
    [problem] = checks.check_settings()
    assert problem.id == "smsc_status.E002" and "accounts default, kz" in problem.msg
    assert missing not in problem.msg  # not the value: a password pasted into WSDL would be echoed


@pytest.mark.django_db
def test_pending_messages_of_a_removed_account(settings, capsys):
    from django_smsc_status.models import SentMessage

    settings.SMSC_STATUS = {
        "LOGIN": "a",
        "PASSWORD": "b",
        "ACCOUNTS": {"kz": {"LOGIN": "k", "PASSWORD": "p"}},
    }
    for n, (account, final) in enumerate([("kz", False), ("old", False), ("old", False), ("old", True)]):
        SentMessage.objects.create(account=account, smsc_id=str(n), phone="79990000001", is_final=final)
    assert checks.check_unconfigured_accounts() == []  # a database check: only when asked to
    [problem] = checks.check_unconfigured_accounts(databases=["default"])
    assert problem.id == "smsc_status.W004"
    assert problem.msg == "2 pending messages name account 'old', which is not in SMSC_STATUS"
    assert "nothing is deleted" in problem.hint
    call_command("check", "--database", "default")
    assert "smsc_status.W004" in capsys.readouterr().err
    settings.SMSC_STATUS["ACCOUNTS"]["old"] = {"LOGIN": "o", "PASSWORD": "p"}
    assert checks.check_unconfigured_accounts(databases=["default"]) == []
