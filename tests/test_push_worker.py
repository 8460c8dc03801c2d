"""A push makes a real ``qcluster`` worker learn a status within seconds (slow tier)."""

import pytest

from django_smsc_status.models import PushCounter, SentMessage
from django_smsc_status.simulator import Pusher
from tests.test_push import URL, asked, pushes_on  # noqa: F401 - a fixture
from tests.test_worker import qcluster, wait_for  # noqa: F401 - a fixture

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_push_makes_a_real_worker_learn_the_status(qcluster, live_server, pushes_on, tracked, smsc_simulator):  # noqa: F811
    """Polling is far off (next check in 2099) and no sweep runs: only SMSC's push, over HTTP
    to the site, then the queued refresh in the worker process, can make the app know."""
    message = tracked((-1,), (1, 0, 0.5))
    SentMessage.objects.filter(pk=message.pk).update(next_check_at="2099-01-01T00:00Z")
    with Pusher(smsc_simulator.smsc, {"alex": live_server.url + URL}, duplicate=1) as pusher:
        learned = wait_for(lambda: SentMessage.objects.get(pk=message.pk).status == 1, timeout=20)
    assert learned, f"not learned; qcluster alive: {qcluster.poll() is None}, pushes: {pusher.counts}"
    assert pusher.counts == {"sent": 2} and PushCounter.objects.get().matched == 2
    assert asked(smsc_simulator, message) == 1  # the duplicate cost nothing
    assert SentMessage.objects.get(pk=message.pk).is_final
