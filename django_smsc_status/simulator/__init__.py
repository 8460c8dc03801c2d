"""A local SMS Center for tests, benchmarks and the demo: SMSC's SOAP API over real HTTP.

    from django_smsc_status.simulator import SimulatorServer, Smsc, timeline

    with SimulatorServer(Smsc({"alex": "123"})) as sim:
        sim.smsc.add_message("79999999999", smsc_id="999", steps=timeline((-1,), (1, 0, 5)))
        ...  # point SMSC_STATUS["ENDPOINT"] at sim.endpoint

Status pushes, as SMSC sends them to a callback URL: :class:`Pusher` (``--callback-url``).
Run it alone with ``python -m django_smsc_status.simulator --port 8765``. No Django imports.
"""

from .push import Pusher
from .server import FAULTS, SimulatorServer
from .smsc import DELIVERED, UNDELIVERABLE, Smsc, Step, default_timeline, timeline

__all__ = [
    "DELIVERED",
    "FAULTS",
    "UNDELIVERABLE",
    "Pusher",
    "SimulatorServer",
    "Smsc",
    "Step",
    "default_timeline",
    "timeline",
]
