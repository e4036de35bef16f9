"""The quarantine digest's jobs: the scheduled scan (`send_due_digests`, every few minutes from `portal
scheduler`) asks for one `send_digest` job per user whose digest is due; each sends it once (services/digest.py
claims the user's period before sending, so a retried or doubled job sends nothing twice)."""

from __future__ import annotations

from .. import outbox
from ..services import digest
from .registry import job


@job("send_due_digests")
def send_due_digests() -> int:
    """Ask for the digests due now (one outbox row each, handed to RQ after this job commits)."""
    found = digest.due()
    for user_id, period in found:
        outbox.enqueue("send_digest", user_id, period)
    return len(found)


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
