"""Seed 5.6 DomainsDKIM (system administrators write, whoever sees the domain reads), and the key rotation,
a Postern extension (DKIM_EDIT). No answer carries a private key."""

from __future__ import annotations

from flask import Response

from .. import ids
from ..clock import to_ms
from ..models import DkimKey
from ..permissions import Permission
from ..schemas.dkim import DkimIn, DkimKeyOut, DkimRecords, NameCheckOut, RotationCheckOut, RotationIn
from ..services import dkim
from ..words import english
from .framework import Access, created, endpoint, json_response, no_content, principal

TAG = "DomainsDKIM"
NOT_FOUND = {404: "A problem occured. The domain may not exist."}
NONE_FOUND = {404: "No DKIM values found. Or the domain may not exist"}
SAVE = {**NOT_FOUND, 400: "A key that cannot be read, is not RSA, is under 1024 bits, or does not match; "
                          "a selector that is not one DNS label",
        409: "The selector is in use by a rotation's pending key"}
ROTATION = {**NOT_FOUND, 409: "A rotation is pending already, or the domain has no active key",
            400: "The selector is not one DNS label, or is the active key's"}
CHECK = {404: "No rotation is pending, or the domain may not exist", 503: "DNS did not answer in time"}


@endpoint("/domains/<domainId>/dkim", "POST", access=Access.SYSADMIN, tag=TAG, body=DkimIn, body_required=False,
          response=DkimRecords, status=201,
          summary="Add DKIM: generate a key pair (selector and size from the domain's options; the body, optional, "
                  "may give the selector, or a pair to use) and return its records",
          errors={**SAVE, 409: "The domain has a DKIM key already"})
def add_dkim(domainId: str, body: DkimIn | None) -> Response:
    given = dkim.Replacement(private_key=body.private_key, public_key=body.public_key, selector=body.selector) \
        if body is not None else None
    return created(dkim.create(principal(), ids.decode(domainId), given), f"/api/domains/{domainId}/dkim")


@endpoint("/domains/<domainId>/dkim", "GET", access=Access.ADMIN, tag=TAG, response=DkimRecords, summary="Get DKIM",
          errors=NONE_FOUND)
def get_dkim(domainId: str) -> Response:
    return json_response(dkim.get_records(principal(), ids.decode(domainId)))


@endpoint("/domains/<domainId>/dkim", "PUT", access=Access.SYSADMIN, tag=TAG, body=DkimIn, response=DkimRecords,
          summary="Update domain DKIM: replace the key pair and/or the selector", errors=SAVE)
def update_dkim(domainId: str, body: DkimIn) -> Response:
    change = dkim.Replacement(private_key=body.private_key, public_key=body.public_key, selector=body.selector)
    return json_response(dkim.replace(principal(), ids.decode(domainId), change))


@endpoint("/domains/<domainId>/dkim", "DELETE", access=Access.SYSADMIN, tag=TAG, status=204,
          summary="Delete domain DKIM (every key of the domain)", errors=NONE_FOUND)
def delete_dkim(domainId: str) -> Response:
    dkim.remove(principal(), ids.decode(domainId))
    return no_content()


def _key_out(key: DkimKey, domain_name: str) -> DkimKeyOut:
    return DkimKeyOut(selector=key.selector, state=key.state, bits=key.bits, created_at=to_ms(key.created_at),
                      activated_at=to_ms(key.activated_at), retired_at=to_ms(key.retired_at),
                      record=f"{dkim.record_name(key.selector, domain_name)} TXT {dkim.record_value(key)}",
                      safe_to_remove=key.state == dkim.RETIRED)


@endpoint("/domains/<domainId>/dkim/keys", "GET", access=Access.ADMIN, tag=TAG, response=list[DkimKeyOut],
          summary="The domain's DKIM keys and their states (active, pending, retired), without private parts",
          errors=NOT_FOUND, extension=True)
def list_dkim_keys(domainId: str) -> Response:
    domain, rows = dkim.key_list(principal(), ids.decode(domainId))
    return json_response([_key_out(k, domain.name) for k in rows])


@endpoint("/domains/<domainId>/dkim/rotation", "POST", access=Permission.DKIM_EDIT, tag=TAG, body=RotationIn,
          response=DkimRecords, status=201, errors=ROTATION, extension=True,
          summary="Prepare a rotation: a new key under another selector (the active one keeps signing); "
                  "answers the records to publish")
def start_dkim_rotation(domainId: str, body: RotationIn) -> Response:
    _key, found = dkim.start_rotation(principal(), ids.decode(domainId), body.selector)
    return created(found, f"/api/domains/{domainId}/dkim/keys")


@endpoint("/domains/<domainId>/dkim/rotation/check", "POST", access=Permission.DKIM_EDIT, tag=TAG,
          response=RotationCheckOut, errors=CHECK, extension=True,
          summary="Look the pending key up in DNS; once DNS serves exactly it, it becomes active and the old key "
                  "is retired (its records may then be removed)")
def check_dkim_rotation(domainId: str) -> Response:
    result = dkim.check_rotation(principal(), ids.decode(domainId))
    return json_response(RotationCheckOut(
        selector=result.selector, state=result.state, retired_selector=result.retired_selector,
        names=[NameCheckOut(name=n.name, served=n.served, found=n.found) for n in result.names],
        safe_to_remove=result.safe_to_remove, message=english(result.message)))


@endpoint("/domains/<domainId>/dkim/rotation", "DELETE", access=Permission.DKIM_EDIT, tag=TAG, status=204,
          summary="Cancel a pending rotation (its key is deleted)",
          errors={404: "No rotation is pending, or the domain may not exist"}, extension=True)
def cancel_dkim_rotation(domainId: str) -> Response:
    dkim.cancel_rotation(principal(), ids.decode(domainId))
    return no_content()
