"""The one polling backoff: each pause half as long again as the last, up to the most."""

from django_smsc_status.backoff import SLOT_POLL_FIRST, SLOT_POLL_MOST, Backoff


def test_pauses_grow_by_half_up_to_the_most_and_start_over_on_reset():
    poll = Backoff(0.1, 0.5, jitter=False)
    assert [round(poll.next(), 4) for _ in range(6)] == [0.1, 0.15, 0.225, 0.3375, 0.5, 0.5]
    poll.reset()
    assert poll.next() == 0.1


def test_slot_polling_jitters_each_pause_between_half_and_one_and_a_half_times():
    poll = Backoff()
    base = SLOT_POLL_FIRST
    for _ in range(20):
        assert 0.5 * base <= poll.next() <= 1.5 * base
        base = min(base * 1.5, SLOT_POLL_MOST)
    assert base == SLOT_POLL_MOST
