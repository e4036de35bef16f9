"""Seed 5.12 Tasks and 5.13 TemporaryAuthTokens: mails asked for now, sent by jobs (202)."""

from __future__ import annotations

from flask import Response, request

from ..schemas.tasks import MAX_VALIDITY_HOURS, Task
from ..services import tasks
from .framework import Access, QueryParam, endpoint, principal


@endpoint("/tasks", "POST", access=Access.AUTHENTICATED, tag="Tasks", summary="Execute task", body=Task, status=202,
          errors={400: "Invalid parameters", 403: "Authorisation failure.", 404: "Unknown recipient",
                  422: "Operation cannot be done because of not met conditions.",
                  429: "Too many mails with a link to this account in the last hour (Postern extension)"})
def execute_task(body: Task) -> Response:
    tasks.run(principal(), body.command, body.params)
    return Response(status=202)


@endpoint("/token", "GET", access=Access.AUTHENTICATED, tag="TemporaryAuthTokens", summary="Temporary auth tokens",
          status=202, query=(
              QueryParam("username", "Email address of the required user (default: the caller, a mailbox user)"),
              QueryParam("validity", "Number of hours the token will be active",
                         schema={"type": "integer", "minimum": 1, "maximum": MAX_VALIDITY_HOURS, "default": 4})),
          errors={400: "A problem occured. Possible causes: the account does not have quarantine or retention or "
                       "archive service.", 403: "Only the user or an administrator with IMPERSONATE",
                  404: "Unknown username",
                  429: "Too many mails with a link to this account in the last hour (Postern extension)"})
def temporary_token() -> Response:
    tasks.temporary_token(principal(), request.args.get("username"), request.args.get("validity"))
    return Response(status=202)
