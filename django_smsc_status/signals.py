"""``status_changed``: sent after the transaction that recorded a new status commits.

Receivers get ``sender=SentMessage`` and the keyword arguments ``message``, ``old_status``,
``new_status`` and ``snapshot`` (the :class:`StatusSnapshot` just written)::

    @receiver(status_changed)
    def notify(sender, message, old_status, new_status, snapshot, **kwargs):
        ...
"""

from django.dispatch import Signal

status_changed = Signal()
