"""SMSC's limits, kept in the database so they hold across processes and machines.

* **Request slots**: every request in flight holds one slot of its login at its site (at most
  ``MAX_CONCURRENT_REQUESTS``) and one of its site's 4 slots, across its logins. A caller
  leases slots (rows of :class:`RequestSlot`) with conditional UPDATEs and runs at most one
  request per slot at a time. A heartbeat thread renews the lease every few seconds for as
  long as the caller lives, so a lease never runs out under a live request, and a killed
  process's slots are free again within ``SLOT_LEASE`` seconds (renewed every quarter of it).
* **Authorisation budget**: SMSC blocks the calling IP for 30 minutes after 5 errors 2 within
  30 minutes, whichever logins made them. A site slot whose request got error 2 stays taken
  for those 30 minutes, so requests in flight at a site (across its logins and processes,
  each login capped at ``MAX_CONCURRENT_REQUESTS``) plus its errors 2 within the window never
  exceed the site's 4 slots: the requests in flight cannot make the fifth, as long as every
  error 2 is known. An answer that could not be read may have been one: from a half-open
  login it is counted as one (:func:`may_be_auth_error`); from a login proved within the last
  ``LOGIN_PROOF_SECONDS`` it is not.
* **Error budget**: SMSC blocks the calling IP for 10 minutes after 100 erroneous requests
  within 10 minutes. Each site has ``ERROR_BUDGET`` (50) error tokens: a request in flight
  holds one, and an answer that is an error (any error, or no answer) keeps it for 10 minutes.
  So at most 50 erroneous requests per site in any 10 minutes, across processes. Messages that
  never had a good answer may only spend the budget down to ``ERROR_RESERVE`` (see
  :func:`claim_due`): a flood of unknown ids cannot hold up the messages SMSC knows.
* **Half-open**: until a login has had an answer from SMSC at a site since its first use there
  or since its breaker opened, and again when its last answer is older than
  ``LOGIN_PROOF_SECONDS`` (5 minutes), only one slot of it can be leased (one request in
  flight, across every process): a wrong password costs one call, not four.
* **Pause** (circuit breaker): after error 2 every call for the login at that site stops until
  the breaker is reset or ``BREAKER_TIMEOUT`` passes; after error 4 calls pause for
  ``IP_BLOCK_BACKOFF``. A lease checks the pause *after* taking its slots, so the request that
  held a slot before (and paused the login) is always seen.
* **Per message** (5 checks a minute): :func:`claim_messages` stamps ``last_checked_at`` with a
  conditional UPDATE, to the latest moment the request may reach SMSC (see there).

A login's state (slots, breaker, half-open) is kept per site and login (``SmscSettings.site``,
``SmscSettings.limits_login``): SMSC counts one login at two sites separately. Conditional
UPDATEs (write first, never read-then-write) are atomic on PostgreSQL and do not trip SQLite's
"database is locked" on lock upgrades.

The package, by concern (``from django_smsc_status import limits`` and ``limits.<name>`` reach
every public name below):

* ``slots``: SMSC's numbers and the :class:`RequestSlot` rows counting them;
* ``breaker``: pauses, the half-open rule (``LOGIN_PROOF_SECONDS``), the authorisation and
  error budgets;
* ``leases``: :class:`SlotLease` and taking slots;
* ``claims``: the per-message limit.
"""

from .breaker import (
    LOGIN_PROOF_SECONDS,
    LoginStatus,
    auth_budget,
    ensure_open,
    error_budget,
    is_erroneous_request,
    login_status,
    mark_verified,
    may_be_auth_error,
    out_of_error_budget,
    pause,
    pause_after,
    proves_login,
    reset,
)
from .claims import (
    CLAIM_VALID_FOR,
    PUSHED_PAIR,
    UNPROVEN,
    any_due,
    asked_too_recently,
    claim_due,
    claim_horizon,
    claim_messages,
    claimable_in,
    free_at,
    is_unproven,
    unproven_room,
)
from .leases import SlotLease, acquire_slots, busy, open_lease, site_share
from .slots import (
    AUTH_ERROR_HOLDER,
    AUTH_ERROR_LIMIT,
    AUTH_ERROR_WINDOW,
    ERROR_BUDGET,
    ERROR_HOLDER,
    ERROR_RESERVE,
    ERROR_WINDOW,
    SITE_SLOTS,
    Slots,
    error_tokens,
    lease_end,
    login_slots,
    site_slots,
)

__all__ = [
    "AUTH_ERROR_HOLDER",
    "AUTH_ERROR_LIMIT",
    "AUTH_ERROR_WINDOW",
    "CLAIM_VALID_FOR",
    "ERROR_BUDGET",
    "ERROR_HOLDER",
    "ERROR_RESERVE",
    "ERROR_WINDOW",
    "LOGIN_PROOF_SECONDS",
    "PUSHED_PAIR",
    "SITE_SLOTS",
    "UNPROVEN",
    "LoginStatus",
    "SlotLease",
    "Slots",
    "acquire_slots",
    "any_due",
    "asked_too_recently",
    "auth_budget",
    "busy",
    "claim_due",
    "claim_horizon",
    "claim_messages",
    "claimable_in",
    "ensure_open",
    "error_budget",
    "error_tokens",
    "free_at",
    "is_erroneous_request",
    "is_unproven",
    "lease_end",
    "login_slots",
    "login_status",
    "mark_verified",
    "may_be_auth_error",
    "open_lease",
    "out_of_error_budget",
    "pause",
    "pause_after",
    "proves_login",
    "reset",
    "site_share",
    "site_slots",
    "unproven_room",
]
