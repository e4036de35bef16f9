"""Message tracking's indexer: every minute from `portal scheduler`, the new lines of the Postfix log."""

from __future__ import annotations

import time

from flask import current_app

from ..extensions import db
from ..services import tracking
from .registry import job


@job("index_mail_log")
def index_mail_log() -> dict[str, int]:
    """Index chunks of POSTERN_MAIL_LOG while there is more, within POSTERN_MAIL_LOG_JOB_SECONDS. Each chunk is a
    unit of work of its own, committed before the next (its position moved with its rows): a failure later keeps
    what was indexed, and a second indexer waits on the position's lock, then reads on after it."""
    until = time.monotonic() + float(current_app.config["MAIL_LOG_JOB_SECONDS"])
    done = {"bytes": 0, "entries": 0, "messages": 0, "chunks": 0}
    while True:
        try:
            result = tracking.index_mail_log()
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
        done["bytes"] += result.bytes_read
        done["entries"] += result.entries
        done["messages"] += result.messages
        done["chunks"] += 1
        if not result.more or result.bytes_read == 0 or time.monotonic() >= until:
            return done
