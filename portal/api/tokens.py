"""Seed 5.2 AuthenticationTokens: /admins/{adminId}/tokens."""

from __future__ import annotations

from flask import Response

from .. import ids, serializers
from ..schemas.accounts import TokenAdd, TokenOut
from ..services import tokens
from .framework import Access, created, endpoint, json_response, no_content, principal

ERRORS = {404: "Resource does not exist.", 403: "Only sysadmin or target user can call this endpoint."}


@endpoint("/admins/<adminId>/tokens", "POST", access=Access.ADMIN, tag="AuthenticationTokens",
          summary="Create token", body=TokenAdd, response=TokenOut, status=201, errors={400: "Invalid body", **ERRORS})
def create_token(adminId: str, body: TokenAdd) -> Response:
    token, value = tokens.create(principal(), ids.decode(adminId), body.name, body.expiration)
    public_id = ids.encode(token.id)
    return created(serializers.token_out(token, value), f"/api/admins/{adminId}/tokens/{public_id}")


@endpoint("/admins/<adminId>/tokens", "GET", access=Access.ADMIN, tag="AuthenticationTokens",
          summary="List of user's tokens", response=list[TokenOut], errors=ERRORS)
def list_tokens(adminId: str) -> Response:
    return json_response([serializers.token_out(t) for t in tokens.list_for(principal(), ids.decode(adminId))])


@endpoint("/admins/<adminId>/tokens/<id>", "DELETE", access=Access.ADMIN, tag="AuthenticationTokens",
          summary="Delete a token", status=204, errors=ERRORS)
def delete_token(adminId: str, id: str) -> Response:
    tokens.revoke(principal(), ids.decode(adminId), ids.decode(id))
    return no_content()
