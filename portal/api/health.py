"""Seed 5.11 Health, the domain half: run a domain's diagnostics, read its last one, list what fails.

GET /domains/{id}/health answers 404 when the domain was never diagnosed (as for an unknown domain; the detail
says which), since EntityHealth has no empty form. Runs are rate-limited per domain (POSTERN_HEALTH_RUN_INTERVAL
seconds; 429 + Retry-After), across processes. The relay half (platforms, try-relay) is `relay_health`'s."""

from __future__ import annotations

from flask import Response

from .. import ids
from ..errors import NotFound
from ..permissions import Permission
from ..schemas.health import DiagnosticEntry, EntityHealth
from ..services import domain_health, health
from ..words import _l
from .framework import Access, created, endpoint, json_response, principal

TAG = "Health"
NOT_FOUND = {404: "Domain does not exist."}


@endpoint("/domains/<domainId>/health", "POST", access=Permission.HEALTH_RUN, tag=TAG,
          summary="Run domain diagnostic", response=EntityHealth, status=201,
          errors={**NOT_FOUND, 429: "The domain was diagnosed a moment ago: try again after Retry-After seconds"})
def run_domain_health(domainId: str) -> Response:
    result = domain_health.diagnose(principal(), ids.decode(domainId))
    return created(result, f"/api/domains/{domainId}/health")


@endpoint("/domains/<domainId>/health", "GET", access=Permission.DOMAIN_READ, tag=TAG,
          summary="Get domain health", response=EntityHealth,
          errors={404: "Domain does not exist, or was never diagnosed"})
def get_domain_health(domainId: str) -> Response:
    result = domain_health.last(principal(), ids.decode(domainId))
    if result is None:
        raise NotFound(_l("The domain was never diagnosed: run its diagnostics first."))
    return json_response(result)


@endpoint("/health", "GET", access=Access.ADMIN, tag=TAG, summary="Get health errors",
          response=list[DiagnosticEntry])
def list_health_errors() -> Response:
    return json_response([
        {"id": ids.encode(pk), "name": name, "type": kind, "health": health.entity_health(row)}
        for kind, pk, name, row in health.visible_failing(principal())])
