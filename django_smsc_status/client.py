"""Old location of :class:`~django_smsc_status.soap.StatusResult`, kept only for ``policy``.

``policy.py`` is being changed on another branch; once that has merged, its import becomes
``from .soap import StatusResult`` and this module goes.
"""

from .soap.results import StatusResult

__all__ = ["StatusResult"]
