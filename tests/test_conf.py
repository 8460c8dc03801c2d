import pytest
from django.core.exceptions import ImproperlyConfigured

from django_smsc_status.conf import DEFAULTS, RETENTION_DEFAULTS, SITE_KEYS, get_settings


def test_defaults_apply(settings):
    settings.SMSC_STATUS = {"LOGIN": "alex", "PASSWORD": "pw"}
    config = get_settings()
    assert config.endpoint == "https://smsc.ru/sys/soap.php"
    assert config.namespace == config.endpoint
    assert config.wsdl is None
    assert config.max_concurrent_requests == 4
    assert config.all == 2
    assert config.default_region == "RU"


def test_read_lazily(settings):
    settings.SMSC_STATUS = {"LOGIN": "a", "PASSWORD": "b", "ENDPOINT": "https://smsc.kz/sys/soap.php"}
    assert get_settings().namespace == "https://smsc.kz/sys/soap.php"
    settings.SMSC_STATUS = {"LOGIN": "a", "PASSWORD": "b", "ENDPOINT": "https://smsc.ua/sys/soap.php"}
    assert get_settings().endpoint == "https://smsc.ua/sys/soap.php"


def test_missing_dict(settings):
    del settings.SMSC_STATUS
    with pytest.raises(ImproperlyConfigured, match="SMSC_STATUS is missing"):
        get_settings()


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ({"LOGIN": "", "PASSWORD": "x"}, "LOGIN"),
        ({"LOGIN": "x", "PASSWORD": ""}, "PASSWORD"),
        ({"ENDPOINT": "smsc.ru/sys/soap.php"}, "ENDPOINT"),
        ({"ENDPOINT": "ftp://smsc.ru/x"}, "ENDPOINT"),
        ({"FAILOVER_ENDPOINTS": "https://www2.smsc.ru/sys/soap.php"}, "FAILOVER_ENDPOINTS"),
        ({"FAILOVER_ENDPOINTS": ["nope"]}, "FAILOVER_ENDPOINTS"),
        ({"TIMEOUT": 0}, "TIMEOUT"),
        ({"TIMEOUT": "10"}, "TIMEOUT"),
        ({"ALL": 3}, "ALL"),
        ({"ALL": True}, "ALL"),
        ({"MAX_CONCURRENT_REQUESTS": 5}, "MAX_CONCURRENT_REQUESTS"),
        ({"MAX_CONCURRENT_REQUESTS": 0}, "MAX_CONCURRENT_REQUESTS"),
        ({"BACKOFF_JITTER": 1.5}, "BACKOFF_JITTER"),
        ({"WSDL": ""}, "WSDL"),
        ({"PASWORD": "typo"}, "PASWORD"),
        ({"DEFAULT_REGION": "Russia"}, "DEFAULT_REGION"),
        ({"DEFAULT_REGION": 7}, "DEFAULT_REGION"),
    ],
)
def test_bad_values_name_the_key(settings, override, key):
    settings.SMSC_STATUS = {"LOGIN": "alex", "PASSWORD": "pw", **override}
    with pytest.raises(ImproperlyConfigured) as info:
        get_settings()
    assert f"SMSC_STATUS[{key!r}]" in str(info.value)


def test_api_key_alone_is_enough(settings):
    settings.SMSC_STATUS = {"API_KEY": "k3y"}
    config = get_settings()
    assert config.limits_login.startswith("apikey:")
    assert "k3y" not in config.limits_login


def test_repr_hides_secrets(settings):
    settings.SMSC_STATUS = {"LOGIN": "alex", "PASSWORD": "hunter2-pw", "API_KEY": "the-api-key"}
    text = repr(get_settings())
    assert "alex" in text
    assert "hunter2-pw" not in text and "the-api-key" not in text


def test_every_default_is_a_settings_field():
    from dataclasses import fields

    from django_smsc_status.conf import SmscSettings

    # every key but ACCOUNTS is a field; NAME is the account's name, not a key
    assert {f.name.upper() for f in fields(SmscSettings)} - {"NAME"} == set(DEFAULTS) - {"ACCOUNTS"}


@pytest.mark.parametrize(
    ("key", "low", "floor"),
    [
        ("MIN_CHECK_INTERVAL", 0, 13),  # SMSC: at most 5 checks of a message a minute
        ("MIN_CHECK_INTERVAL", 12, 13),
        ("RATE_LIMIT_BACKOFF", 5, 60),
        ("BREAKER_TIMEOUT", 0, 60),
        ("IP_BLOCK_BACKOFF", 30, 60),
        ("SLOT_LEASE", 3, 12),  # a live process's slots must outlive a database stall
    ],
)
def test_values_that_would_break_smsc_limits_are_refused(settings, key, low, floor):
    settings.SMSC_STATUS = {"LOGIN": "a", "PASSWORD": "b", key: low}
    with pytest.raises(ImproperlyConfigured, match=rf"\['{key}'\] must be a number >= {floor}"):
        get_settings()
    settings.SMSC_STATUS = {"LOGIN": "a", "PASSWORD": "b", key: floor}
    assert getattr(get_settings(), key.lower()) == floor


SECRET = "hunter2-S3cr3t-Pa55"


def secret_everywhere():
    """Each key (top level, in an account, and in RETENTION) holding a password pasted there."""
    base = {"LOGIN": "alex", "PASSWORD": "pw"}
    for key in DEFAULTS:
        yield {**base, key: SECRET}
        yield {**base, key: [SECRET]}
        if key not in SITE_KEYS:
            yield {**base, "ACCOUNTS": {"kz": {"LOGIN": "k", "PASSWORD": "p", key: SECRET}}}
    for key in RETENTION_DEFAULTS:
        yield {**base, "RETENTION": {key: SECRET}}
    yield {**base, "ENDPOINT": f"https://smsc.rus/sys/soap.php?psw={SECRET}"}
    yield {**base, "ACCOUNTS": {"kz": SECRET}}


@pytest.mark.parametrize("value", list(secret_everywhere()), ids=str)
def test_no_settings_error_repeats_a_value(settings, value):
    """A password pasted into the wrong key must not reach the console or a log (issue 22)."""
    from django_smsc_status import checks

    settings.SMSC_STATUS = value
    said = [f"{problem.msg} {problem.hint}" for problem in checks.check_settings()]
    accounts = value.get("ACCOUNTS")
    for name in ["default", *(accounts if isinstance(accounts, dict) else ())]:
        try:
            get_settings(name)
        except ImproperlyConfigured as exc:
            said.append(str(exc))
    assert not [text for text in said if SECRET in text]


# -- kept, and read again when the settings change ------------------------------------------------


def test_validated_settings_are_kept_until_the_setting_changes(settings):
    from django.test import override_settings

    kz = {"LOGIN": "k", "PASSWORD": "q"}
    settings.SMSC_STATUS = {"LOGIN": "a", "PASSWORD": "b", "ACCOUNTS": {"kz": kz}}
    assert get_settings("kz") is get_settings("kz")  # validated once
    with override_settings(SMSC_STATUS={"LOGIN": "a", "PASSWORD": "b", "TIMEOUT": 3}):
        assert get_settings().timeout == 3
    assert get_settings().timeout == DEFAULTS["TIMEOUT"]


def test_a_settings_dict_edited_in_place_is_read_again(settings):
    """The ``smsc_settings`` fixture is edited in place: no ``setting_changed`` is sent."""
    from django_smsc_status.conf import account_names

    settings.SMSC_STATUS = {"LOGIN": "a", "PASSWORD": "b"}
    before = get_settings()
    settings.SMSC_STATUS["TIMEOUT"] = 3
    settings.SMSC_STATUS.setdefault("ACCOUNTS", {})["kz"] = {"LOGIN": "k", "PASSWORD": "q"}
    assert get_settings().timeout == 3 and before.timeout == DEFAULTS["TIMEOUT"]
    assert account_names() == ["default", "kz"]
    settings.SMSC_STATUS["ACCOUNTS"]["kz"]["TIMEOUT"] = 2  # nested, too
    assert get_settings("kz").timeout == 2
    settings.SMSC_STATUS["MIN_CHECK_INTERVAL"] = 1  # below its floor: refused every time
    for _ in range(2):
        with pytest.raises(ImproperlyConfigured, match="MIN_CHECK_INTERVAL"):
            get_settings()


def test_an_unknown_account_is_the_callers_mistake_not_the_settings(settings):
    from django_smsc_status.conf import UnknownAccount

    settings.SMSC_STATUS = {"LOGIN": "a", "PASSWORD": "b"}
    with pytest.raises(LookupError, match="no account 'nope'") as raised:
        get_settings("nope")
    assert isinstance(raised.value, UnknownAccount) and not isinstance(raised.value, ImproperlyConfigured)
