"""Filter services (issue 17, seed 004's `clamav` / `spamassassin` commands), a Postern extension: the gateway's
ClamAV and SpamAssassin daemons — status with a live self-test for sysadmins and QUEUE_MANAGE operators, on/off
through the configured command lines for sysadmins. Both are in the audit trail."""

from __future__ import annotations

from typing import Any

from flask import Response

from ..permissions import Permission
from ..schemas.filter_services import SelfTestOut, ServiceOut, ServiceSwitchIn, ServiceSwitchOut
from ..services import filter_services
from ..words import english
from .framework import Access, endpoint, json_response, principal

TAG = "FilterServices"
NOT_FOUND = {404: "There is no such service (clamav or spamassassin)"}
SWITCH_ERRORS = {**NOT_FOUND, 409: "No command line is configured for this (POSTERN_<SERVICE>_START / _STOP): "
                                   "nothing ran",
                 502: "The command failed (exit code not 0), could not run or did not finish in time: the detail "
                      "gives its exit code and output"}


def service_out(result: dict[str, Any]) -> ServiceOut:
    test = result["selfTest"] or {"ok": False, "detail": "not run"}
    return ServiceOut(name=result["name"], running=result["running"], version=result["version"],
                      self_test=SelfTestOut(ok=test["ok"], detail=english(test["detail"])))


@endpoint("/services/<name>", "GET", access=Permission.QUEUE_MANAGE, tag=TAG, response=ServiceOut,
          summary="A filter service's status, version and live self-test (EICAR for clamav, GTUBE for spamassassin)",
          errors=NOT_FOUND, extension=True)
def get_service(name: str) -> Response:
    return json_response(service_out(filter_services.status(principal(), name)))


@endpoint("/services/<name>", "PUT", access=Access.SYSADMIN, tag=TAG, body=ServiceSwitchIn, response=ServiceSwitchOut,
          summary="Start (enabled: true) or stop (false) a filter service with its configured command line",
          errors=SWITCH_ERRORS, extension=True)
def put_service(name: str, body: ServiceSwitchIn) -> Response:
    result = filter_services.set_enabled(principal(), name, body.enabled)
    return json_response(ServiceSwitchOut(name=result["name"], enabled=result["enabled"],
                                          exit_code=result["exitCode"], output=result["output"]))
