"""The SOAP side, the bottom layer: SMSC calls in, typed results or typed exceptions out.

``client`` builds envelopes from the shipped WSDL (``wsdl/``) and reads the answers into the
types in ``results``; ``transport`` is the keep-alive HTTP round trip under it. Nothing here knows
Django models: the engine, ``limits`` and ``service`` above decide when to call.
"""

from .client import SmscClient, get_client
from .results import SendResult, StatusResult, parse_smsc_time
from .transport import send_before

__all__ = ["SendResult", "SmscClient", "StatusResult", "get_client", "parse_smsc_time", "send_before"]
