"""Domain-wide quarantine search (issue 15), a Postern extension: QUARANTINE_READ held anywhere; a search is its
starter's only (anyone else: 404). POST answers 202 with the search's Location at once; the search runs as a job
and GET shows its progress; the hits stay for POSTERN_QSEARCH_KEEP_SECONDS, so paging does not search again."""

from __future__ import annotations

from flask import Response, current_app, request

from .. import ids
from ..clock import to_ms
from ..models import QuarantineSearchHit
from ..permissions import Permission
from ..schemas.qsearch import QuarantineHitOut, QuarantineSearchIn, QuarantineSearchOut
from ..services import listing, quarantine_search
from .framework import QueryParam, endpoint, json_response, no_content, principal

TAG = "QuarantineSearch"
ACCESS = Permission.QUARANTINE_READ
ONE = {404: "No such search: another admin's, expired, or never made"}


def _search_out(search_id: str) -> QuarantineSearchOut:
    return QuarantineSearchOut.model_validate(
        quarantine_search.state_of(quarantine_search.get(principal(), search_id)))


def hit_out(hit: QuarantineSearchHit) -> QuarantineHitOut:
    return QuarantineHitOut(user=hit.user_email, user_id=ids.encode(hit.user_id) if hit.user_id else None,
                            folder=hit.folder, id=hit.message_key, from_=hit.sender, subject=hit.subject,
                            sent_date=to_ms(hit.sent_date), reason=hit.reason)


@endpoint("/quarantine/searches", "POST", access=ACCESS, tag=TAG, body=QuarantineSearchIn,
          response=QuarantineSearchOut, status=202, extension=True, location=True,
          summary="Search the quarantine of every mailbox of a domain, or of the caller's scope (runs as a job)",
          errors={400: "A bad criterion or an unknown domain",
                  422: "No criterion, or a date range wider than POSTERN_QSEARCH_MAX_DAYS"})
def start_quarantine_search(body: QuarantineSearchIn) -> Response:
    values = body.model_dump(by_alias=True, exclude_none=True)
    search = quarantine_search.start(principal(), values)
    out = QuarantineSearchOut.model_validate(quarantine_search.state_of(search))
    return json_response(out, 202, {
        "Location": current_app.config["BASE_URL"] + f"/api/quarantine/searches/{search.id}",
        "Access-Control-Expose-Headers": "Location"})


@endpoint("/quarantine/searches/<searchId>", "GET", access=ACCESS, tag=TAG, response=QuarantineSearchOut,
          errors=ONE, extension=True, summary="A search's state, progress and failed mailboxes")
def get_quarantine_search(searchId: str) -> Response:
    return json_response(_search_out(searchId))


@endpoint("/quarantine/searches/<searchId>/hits", "GET", access=ACCESS, tag=TAG, response=list[QuarantineHitOut],
          errors={400: "Bad paging", **ONE}, extension=True, summary="A search's hits, in the order found",
          query=(QueryParam("offset", schema={"type": "integer", "minimum": 0, "default": 0}),
                 QueryParam("pageSize", schema={"type": "integer", "minimum": 1, "default": 40})))
def quarantine_search_hits(searchId: str) -> Response:
    offset, page_size = listing.paging(request.args, current_app.config["API_MAX_PAGE_SIZE"])
    rows, total = quarantine_search.hits(principal(), searchId, offset, page_size)
    return json_response([hit_out(h) for h in rows], headers={
        "X-Total-Count": str(total), "Access-Control-Expose-Headers": "X-Total-Count"})


@endpoint("/quarantine/searches/<searchId>", "DELETE", access=ACCESS, tag=TAG, status=204, errors=ONE,
          extension=True, summary="Cancel a running search (no further mailbox is searched)")
def cancel_quarantine_search(searchId: str) -> Response:
    quarantine_search.cancel(principal(), searchId)
    return no_content()
