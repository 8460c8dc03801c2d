# test_delivery.py: your code against the simulator, a real SOAP server on localhost
import pytest

from django_smsc_status import service
from django_smsc_status.simulator import timeline


@pytest.mark.django_db
def test_delivery(smsc_settings, smsc_simulator):  # settings point at the simulator
    smsc_simulator.smsc.add_message(
        "79991234567", smsc_id="42", steps=timeline((-1,), (0, 0, 5), (1, 0, 10))
    )
    message, _ = service.register("42", "79991234567")
    smsc_simulator.smsc.advance(10)  # its clock, not yours
    assert service.refresh(message).message.status == 1
