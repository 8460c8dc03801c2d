"""What each SMSC error means lives on its exception class, and every reader takes it from there."""

from datetime import timedelta

import pytest
from django.utils import timezone

from django_smsc_status import limits, policy
from django_smsc_status.api.views import _status_for_error
from django_smsc_status.codes import RequestError
from django_smsc_status.conf import get_settings
from django_smsc_status.error_types import ERROR_TYPES, error_type
from django_smsc_status.exceptions import REQUEST_ERRORS, SmscAuthError, SmscError, request_error

FACTS = ("smsc_code", "error_type", "label")


@pytest.mark.parametrize("code", [member.value for member in RequestError])
def test_every_smsc_error_code_has_its_facts_in_one_class(code):
    cls = REQUEST_ERRORS[code]
    assert [name for name in FACTS if name not in vars(cls)] == []  # its own, not inherited
    assert cls.smsc_code == code and cls.error_type.startswith("smsc_")
    error = request_error(code)
    assert type(error) is cls and error.code == code
    assert error_type(error) == (cls.error_type, str(cls.label))
    assert _status_for_error(error) == cls.api_status in (422, 503)


def test_an_unknown_code_gets_the_generic_class():
    error = request_error(77)
    assert type(error).__name__ == "SmscRequestError" and error.code == 77
    assert error_type(error) == ("smsc_request_error", "SMSC refused the request")


def test_no_two_error_classes_share_a_type():
    """A class names its own type, or takes its family's (``SmscAnswerTooLarge``)."""
    kinds = [cls.error_type for cls in ERROR_TYPES if "error_type" in vars(cls)]
    assert len(kinds) == len(set(kinds)) and SmscError in ERROR_TYPES


def test_only_errors_2_and_4_stop_the_login_and_each_says_for_how_long():
    stopping = {cls.smsc_code: cls for cls in ERROR_TYPES if cls.stops_login}
    assert set(stopping) == {RequestError.BAD_CREDENTIALS, RequestError.IP_BLOCKED}
    assert all(cls.retry_setting for cls in stopping.values())


@pytest.mark.django_db
@pytest.mark.parametrize("cls", [cls for cls in REQUEST_ERRORS.values() if cls.stops_login])
def test_an_error_that_stops_the_login_pauses_it_as_long_as_retry_after_says(smsc_settings, cls):
    config = get_settings()
    error = cls(code=cls.smsc_code)
    limits.pause_after([error], config)
    status = limits.login_status(config)
    assert status.pause_code == cls.smsc_code and not limits.proves_login(error)
    expected = timezone.now() + timedelta(seconds=policy.retry_after(error, config))
    assert abs((status.paused_until - expected).total_seconds()) < 5


@pytest.mark.django_db
def test_error_2_wins_over_error_4_in_one_batch(smsc_settings):
    config = get_settings()
    limits.pause_after([request_error(4), request_error(2), request_error(4)], config)
    assert limits.login_status(config).pause_code == SmscAuthError.smsc_code


def test_the_api_views_table_says_what_the_classes_say():
    """The documented table of HTTP statuses (``api.views``) agrees with ``api_status``."""
    import re

    from django_smsc_status.api import views

    said = {}
    for line in views.__doc__.splitlines():
        if line.startswith("SMSC error"):
            outcome, status = re.match(r"(.*?)\s{2,}(\d{3})\b", line).groups()
            said |= {int(code): int(status) for code in re.findall(r"\b(\d)\b", outcome)}
    assert said == {code: cls.api_status for code, cls in REQUEST_ERRORS.items()}
