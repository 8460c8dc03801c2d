"""Values that keep a credential out of sight wherever Python shows them.

Django's DEBUG error page prints the local variables of every frame of a traceback, and its
``sensitive_variables`` decorator is switched off exactly then (``DEBUG=True``). So the
password, the API key and the request envelopes that carry them travel in types whose
``repr()`` (what the page, ``pprint``, logging of locals and debuggers show) hides them.
What SMSC sends back may echo them too: the client passes it through :func:`redact` before
anything is parsed out of it, stored or shown.
"""

from __future__ import annotations

from collections.abc import Mapping

HIDDEN = "********"
SECRET_KEYS = frozenset({"PASSWORD", "API_KEY", "PUSH_TOKEN", "PUSH_SECRET"})


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with each (non-empty) secret in it shown as :data:`HIDDEN`: for what a server
    sends back, which may echo the request's credentials."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, HIDDEN)
    return text


def redact_fields(fields: dict[str, str], secrets: tuple[str, ...]) -> dict[str, str]:
    """``fields``, names and values, through :func:`redact`; the same dict when no secret is
    in any (the usual case, looked for in one pass)."""
    blob = "\0".join([*fields, *fields.values()])
    if not any(secret and secret in blob for secret in secrets):
        return fields
    return {redact(name, secrets): redact(value, secrets) for name, value in fields.items()}


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
        super().__init__({k: _redacted(v) for k, v in values.items()})

    def __repr__(self) -> str:
        return repr({k: (HIDDEN if k in SECRET_KEYS and v else v) for k, v in self.items()})


class RedactedSequence(tuple):
    """A list or tuple inside the settings (e.g. a malformed ``ACCOUNTS``), its dicts copied as
    :class:`RedactedSettings` and a ``("PASSWORD", value)`` pair shown with the value hidden."""

    __slots__ = ()

    def __new__(cls, values):
        return super().__new__(cls, (_redacted(v) for v in values))

    def __repr__(self) -> str:
        if len(self) == 2 and self[0] in SECRET_KEYS and self[1]:
            return repr((self[0], HIDDEN))
        return repr(list(self))


def _redacted(value):
    if isinstance(value, Mapping):
        return RedactedSettings(value)
    if isinstance(value, (list, tuple)):
        return RedactedSequence(value)
    return value
