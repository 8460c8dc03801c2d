"""Track the delivery status of SMS sent through SMS Center (SMSC) via its SOAP API."""

__version__ = "0.2.0"
