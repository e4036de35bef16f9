"""Seed 5.16 UsersSigns."""

from __future__ import annotations

from flask import Response

from .. import ids
from ..schemas.emails import Sign, SignIn
from ..services import signs
from .framework import Access, endpoint, json_response, no_content, principal

ERRORS = {400: "The account has no quarantine, retention or archive service", 404: "Unknown user"}


@endpoint("/users/<userId>/sign", "GET", access=Access.AUTHENTICATED, tag="UsersSigns", summary="Get sign",
          response=Sign, errors=ERRORS)
def get_sign(userId: str) -> Response:
    return json_response(Sign(sign=signs.get(principal(), ids.decode(userId))))


@endpoint("/users/<userId>/sign", "PUT", access=Access.AUTHENTICATED, tag="UsersSigns", summary="Set sign",
          body=SignIn, response=Sign, errors=ERRORS)
def set_sign(userId: str, body: SignIn) -> Response:
    return json_response(Sign(sign=signs.set_sign(principal(), ids.decode(userId), body.sign)))


@endpoint("/users/<userId>/sign", "DELETE", access=Access.AUTHENTICATED, tag="UsersSigns", summary="Delete sign",
          status=204, errors=ERRORS)
def delete_sign(userId: str) -> Response:
    signs.delete(principal(), ids.decode(userId))
    return no_content()
