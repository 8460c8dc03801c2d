"""Values that keep a credential out of sight wherever Python shows them.

Django's DEBUG error page prints the local variables of every frame of a traceback, and its
``sensitive_variables`` decorator is switched off exactly then (``DEBUG=True``). So the
password, the API key and the request envelopes that carry them travel in types whose
``repr()`` (what the page, ``pprint``, logging of locals and debuggers show) hides them.
"""

from __future__ import annotations

from collections.abc import Mapping

HIDDEN = "********"
SECRET_KEYS = frozenset({"PASSWORD", "API_KEY"})


class Secret(str):
    """A credential: behaves as the string, shows as stars."""

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(HIDDEN) if self else "''"


class SealedEnvelope(bytes):
    """A request body holding credentials: sent as is, shown as its size only."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"<SOAP request, {len(self)} bytes, credentials hidden>"


class RedactedSettings(dict):
    """A copy of the settings dict whose repr hides the credential values, nested dicts (the
    ``ACCOUNTS``) copied the same way."""

    def __init__(self, values: Mapping) -> None:
        super().__init__({k: RedactedSettings(v) if isinstance(v, Mapping) else v for k, v in values.items()})

    def __repr__(self) -> str:
        return repr({k: (HIDDEN if k in SECRET_KEYS and v else v) for k, v in self.items()})
