"""Relay diagnostics (seed 5.11.2, 5.11.5, 5.11.6): check a platform's relays now, read the last check, try a
relay configuration that is not saved. The rules live in `services/relay_health`."""

from __future__ import annotations

from flask import Response, request

from .. import ids
from ..errors import NotFound
from ..permissions import Permission
from ..schemas.relay_health import RelayCheckHealthDTO, RelayEntityHealth
from ..services import relay_health
from ..words import _l
from .framework import QueryParam, endpoint, json_response, principal

TAG = "Health"
PLATFORM_ERRORS = {404: "Platform does not exist.", 403: "You do not have permission to execute this request."}
RUN_ERRORS = {**PLATFORM_ERRORS, 400: "The test address is not an email address",
              429: "The relay was checked a moment ago: try again after Retry-After seconds"}
TRY_ERRORS = {403: "You do not have permission to execute this request.",
              400: "Bad input: a host that is not one, a host resolving to a private or reserved address, a port "
                   "not allowed, a bad test address (the error names the field)",
              429: "Too many tries: try again after Retry-After seconds"}
TEST_ADDRESS = QueryParam("testAddress", "Probe RCPT TO with this address (MAIL FROM:<>, no DATA; a Postern "
                                         "extension)")


@endpoint("/platforms/<platformId>/health", "POST", access=Permission.HEALTH_RUN, tag=TAG,
          summary="Run diagnostic on existing relay", response=RelayEntityHealth, status=201,
          query=(TEST_ADDRESS,), errors=RUN_ERRORS)
def run_platform_health(platformId: str) -> Response:
    """201 with the EntityHealth: the relay and its fallback, probed now (the report is kept as the last)."""
    answer = relay_health.run(principal(), ids.decode(platformId), test_address=request.args.get("testAddress"))
    return json_response(RelayEntityHealth.of(answer), 201)


@endpoint("/platforms/<platformId>/health", "GET", access=Permission.DOMAIN_READ, tag=TAG,
          summary="Get diagnostic of existing relay", response=RelayEntityHealth,
          errors={**PLATFORM_ERRORS, 404: "Platform does not exist, or it was never checked (the problem's detail "
                                          "says which)"})
def get_platform_health(platformId: str) -> Response:
    """The last check; a platform never checked is a 404 whose detail says so (as GET /domains/{id}/health)."""
    answer = relay_health.last(principal(), ids.decode(platformId))
    if answer is None:
        raise NotFound(_l("This platform's relays were never checked: run a diagnostic first."))
    return json_response(RelayEntityHealth.of(answer))


@endpoint("/health/try-relay", "POST", access=Permission.HEALTH_RUN, tag=TAG, summary="Try relay configuration",
          body=RelayCheckHealthDTO, response=RelayEntityHealth, errors=TRY_ERRORS)
def try_relay(body: RelayCheckHealthDTO) -> Response:
    """200 with an EntityHealth whose `report.status` says whether the relays worked; nothing is stored."""
    return json_response(RelayEntityHealth.of(relay_health.try_relay(principal(), body)))
