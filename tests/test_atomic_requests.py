"""Under ``ATOMIC_REQUESTS`` the admin's and the API's refreshes still show their request-slot
leases and message claims to every other process while they run (PostgreSQL: another
connection sees only what is committed).

Django wraps each view in a transaction when ``ATOMIC_REQUESTS`` is on; the limits' rows
written inside it would stay invisible to other processes until the response, and two
processes could then both use a slot or ask about one message at once. Our refresh views opt
out (``transaction.non_atomic_requests``): each write of the refresh is its own transaction.
"""

import threading
import time

import pytest
from django.db import connection, connections
from django.urls import reverse
from rest_framework.test import APIClient

from django_smsc_status.models import RequestSlot, SentMessage

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs a server database (PostgreSQL)"),
]


@pytest.fixture
def atomic_requests():
    connection.settings_dict["ATOMIC_REQUESTS"] = True
    yield
    connection.settings_dict["ATOMIC_REQUESTS"] = False


def seen_while_running(request, message) -> tuple[bool, bool]:
    """Run ``request()`` in a thread (its own connection) while SMSC takes 2 s to answer; from
    here, watch for the lease and the claim."""

    def in_thread():
        try:
            request()
        finally:
            connections.close_all()  # this thread's connection

    thread = threading.Thread(target=in_thread)
    thread.start()
    lease = claim = False
    deadline = time.monotonic() + 1.5  # before SMSC answers
    while time.monotonic() < deadline and not (lease and claim):
        lease = lease or RequestSlot.objects.exclude(holder="").exists()
        claim = claim or SentMessage.objects.get(pk=message.pk).last_checked_at is not None
        time.sleep(0.05)
    thread.join(10)
    return lease, claim


@pytest.fixture
def slow_message(smsc_settings, smsc_simulator, tracked):
    smsc_settings["TIMEOUT"] = 5.0
    message = tracked((1,))
    smsc_simulator.smsc.latency_for[message.smsc_id] = 2.0
    return message


def test_the_admins_refresh_button(atomic_requests, smsc_settings, slow_message, admin_user):
    from django.test import Client

    client = Client()
    client.force_login(admin_user)
    url = reverse("admin:django_smsc_status_sentmessage_refresh", args=[slow_message.pk])
    responses = []
    seen = seen_while_running(lambda: responses.append(client.post(url)), slow_message)
    assert responses[0].status_code == 302
    assert seen == (True, True)
    assert SentMessage.objects.get(pk=slow_message.pk).status == 1


def test_the_admins_refresh_action(atomic_requests, smsc_settings, slow_message, admin_user):
    from django.test import Client

    client = Client()
    client.force_login(admin_user)
    url = reverse("admin:django_smsc_status_sentmessage_changelist")
    data = {"action": "refresh_now", "_selected_action": [slow_message.pk]}
    responses = []
    seen = seen_while_running(lambda: responses.append(client.post(url, data)), slow_message)
    assert responses[0].status_code == 302
    assert seen == (True, True)
    assert SentMessage.objects.get(pk=slow_message.pk).status == 1


def test_the_apis_refresh(atomic_requests, smsc_settings, slow_message, admin_user):
    client = APIClient()
    client.force_authenticate(admin_user)
    url = f"/api/smsc/messages/{slow_message.pk}/refresh/"
    responses = []
    seen = seen_while_running(lambda: responses.append(client.post(url, {}, format="json")), slow_message)
    assert responses[0].status_code == 200, responses[0].content
    assert seen == (True, True)
    assert SentMessage.objects.get(pk=slow_message.pk).status == 1
