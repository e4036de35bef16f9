"""The quarantine digest's jobs: the scheduled scan (`send_due_digests`, every few minutes from `portal
scheduler`) asks for `send_digests` jobs of up to BATCH users whose digest is due; each user's digest is sent once
(services/digest.py claims the user's period before sending, so a retried or doubled job sends nothing twice).

A batch runs each user's digest as a unit of work of its own (committed before the next user's): the links of a
mail that left are never rolled back by a later user's failure. The first failure fails the batch;
RQ retries it, and the users done already are skipped by their claims. Batches spare the per-job cost of the queue
(a digest takes a few tens of milliseconds; RQ's bookkeeping of a job several)."""

from __future__ import annotations

from typing import Any

from .. import outbox
from ..extensions import db
from ..services import digest
from .registry import job

BATCH = 25  # users per send_digests job


@job("send_due_digests")
def send_due_digests() -> int:
    """Ask for the digests due now (one outbox row each, handed to RQ after this job commits)."""
    found = digest.due()
    for start in range(0, len(found), BATCH):
        outbox.enqueue("send_digests", [[user_id, period] for user_id, period in found[start:start + BATCH]])
    return len(found)


@job("send_digests")
def send_digests(items: list[list[Any]]) -> dict[str, int]:
    """Send the digests of a batch, each user's committed before the next (see the module's docstring)."""
    states: dict[str, int] = {}
    for user_id, period in items:
        try:
            state = digest.send(int(user_id), str(period)).state
            db.session.commit()  # this user's unit of work: its links and 'sent' stay, whatever comes next
        except BaseException:
            db.session.rollback()
            raise
        states[state] = states.get(state, 0) + 1
    return states


@job("send_digest")
def send_digest(user_id: int, period: str) -> dict[str, object]:
    """Send one user's digest of one period, once; a failed send fails the job (RQ retries it)."""
    result = digest.send(user_id, period)
    return {"state": result.state, "listed": result.listed, "messageId": result.message_id}


@job("send_test_digest")
def send_test_digest(user_id: int, admin_id: int) -> dict[str, object]:
    """An administrator's test digest (asked for from the domain's Options tab)."""
    from ..extensions import db
    from ..models import Admin, MailUser
    from ..services.principal import principal_for_admin

    user, admin = db.session.get(MailUser, user_id), db.session.get(Admin, admin_id)
    if user is None or admin is None or not admin.enabled:
        return {"state": "skipped"}
    result = digest.send_test(principal_for_admin(admin), user)
    return {"state": result.state, "listed": result.listed, "messageId": result.message_id}
