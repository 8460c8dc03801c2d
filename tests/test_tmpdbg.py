import time, pytest
from django_smsc_status import service
from django_smsc_status.models import RequestSlot, SentMessage
from tests.test_limits import spawn  # noqa
@pytest.mark.django_db(transaction=True)
def test_x(smsc_settings, smsc_simulator, tracked, spawn):
    sim = smsc_simulator.smsc
    smsc_settings.update(TIMEOUT=5.0)
    service.refresh(tracked((-1,)))
    hanging = [tracked((-1,)) for _ in range(3)]
    sim.latency_for.update({m.smsc_id: 16.0 for m in hanging})
    spawn("refresh_many", *[m.pk for m in hanging], MAX_CONCURRENT_REQUESTS=3, TIMEOUT=30.0)
    for i in range(10):
        print(round(time.monotonic()%1000,1), sim.in_flight["alex"], list(RequestSlot.objects.values_list("number","holder","expires_at")))
        time.sleep(1)
