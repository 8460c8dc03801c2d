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
from django.test import Client
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


def refresh_request(how: str, message, user):
    """The POST that refreshes ``message`` from the admin's button, its action, or the API."""
    if how == "api":
        client = APIClient()
        client.force_authenticate(user)
        return lambda: client.post(f"/api/smsc/messages/{message.pk}/refresh/", {}, format="json")
    client = Client()
    client.force_login(user)
    if how == "admin button":
        return lambda: client.post(reverse("admin:django_smsc_status_sentmessage_refresh", args=[message.pk]))
    url = reverse("admin:django_smsc_status_sentmessage_changelist")
    return lambda: client.post(url, {"action": "refresh_now", "_selected_action": [message.pk]})


@pytest.mark.parametrize(("how", "status"), [("admin button", 302), ("admin action", 302), ("api", 200)])
def test_a_refresh_shows_its_lease_and_claim_at_once(atomic_requests, slow_message, admin_user, how, status):
    post, responses = refresh_request(how, slow_message, admin_user), []
    seen = seen_while_running(lambda: responses.append(post()), slow_message)
    assert responses[0].status_code == status, responses[0].content
    assert seen == (True, True)  # the lease and the claim, before SMSC answered
    assert SentMessage.objects.get(pk=slow_message.pk).status == 1
