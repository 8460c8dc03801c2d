"""schemathesis explores the whole API from its OpenAPI schema.

Valid requests (positive mode): no 5xx, no undocumented status or content type, every body
matches the schema. Invalid requests (negative mode): never a server error.
"""

import base64
import os

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

AUTH = {"Authorization": "Basic " + base64.b64encode(b"admin:password").decode()}
HEALTH = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large]


def load(mode: GenerationMode, *, coverage: bool):
    # Loaded at import: schemathesis' lazy fixture loader does not work with pytest 9.
    schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
    schema.config.generation.modes = [mode]
    schema.config.phases.coverage.enabled = coverage  # its many edge cases cost ~40 s per operation
    return schema


# tox turns the coverage phase off on the trimmed pairs (SMSC_SCHEMATHESIS_COVERAGE=0).
valid = load(GenerationMode.POSITIVE, coverage=os.environ.get("SMSC_SCHEMATHESIS_COVERAGE", "1") != "0")
invalid = load(GenerationMode.NEGATIVE, coverage=False)


@pytest.fixture(autouse=True)
def _keep_test_connection():
    """As Django's test client does: the WSGI handler must not close the test's connection."""
    for signal in (signals.request_started, signals.request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (signals.request_started, signals.request_finished):
        signal.connect(close_old_connections)


@pytest.mark.django_db
@valid.parametrize()
@hypothesis_settings(max_examples=20, deadline=None, suppress_health_check=HEALTH)
def test_valid_requests(case, smsc_settings, smsc_simulator, admin_user):
    case.call_and_validate(
        headers=AUTH,
        checks=[
            schemathesis.checks.not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )


@pytest.mark.django_db
@invalid.parametrize()
@hypothesis_settings(max_examples=8, deadline=None, suppress_health_check=HEALTH)
def test_invalid_requests(case, smsc_settings, smsc_simulator, admin_user):
    case.call_and_validate(headers=AUTH, checks=[schemathesis.checks.not_a_server_error])
