"""Seed 5.14 Users."""

from __future__ import annotations

import functools

from flask import Response
from sqlalchemy.orm import selectinload

from .. import ids, serializers
from ..models import Domain, MailUser
from ..permissions import Permission
from ..schemas.domains import OptionAdd, OptionOut
from ..schemas.users import NewUser, UpdateUser, UserOut
from ..services import options, users
from .framework import Access, Listing, created, endpoint, json_response, list_response, no_content, principal

USER_LIST = Listing(spec=users.LIST_SPEC, export_name="users", descriptions={
    "name": "Filter by email (value, prefix*, *suffix, *contains*)", "email": "Filter by email",
    "platformName": "Filter by platform name"})
NOT_FOUND = {404: "User not found with given id"}
LOAD = (selectinload(MailUser.policy), selectinload(MailUser.platform),
        selectinload(MailUser.domain).selectinload(Domain.policies),
        selectinload(MailUser.domain).selectinload(Domain.platforms))


@endpoint("/users", "POST", access=Access.ADMIN, tag="Users", summary="New user", body=NewUser, response=UserOut,
          status=201, errors={409: "A user may already exists with the given name",
                              422: "Operation cannot be done because of not met conditions"})
def create_user(body: NewUser) -> Response:
    user = users.create(principal(), body)
    return created(serializers.user_out(user), f"/api/users/{ids.encode(user.id)}")


@endpoint("/users", "GET", access=Permission.USER_READ, tag="Users", summary="List users",
          response=list[UserOut], listing_=USER_LIST)
def list_users() -> Response:
    return list_response(users.list_query(principal()).options(*LOAD), USER_LIST, serializers.user_list,
                         serializers.USER_COLUMNS)


@endpoint("/domains/<domainId>/users", "GET", access=Access.ADMIN, tag="Users", summary="List domain users",
          response=list[UserOut], listing_=USER_LIST, errors={404: "Domain not found with given id"})
def list_domain_users(domainId: str) -> Response:
    domain, stmt = users.domain_list(principal(), ids.decode(domainId))
    return list_response(stmt, USER_LIST, functools.partial(serializers.user_list, domain=domain),
                         serializers.USER_COLUMNS, unfiltered_total=domain.users_count)


@endpoint("/users/<userId>", "GET", access=Access.ADMIN, tag="Users", summary="Single user", response=UserOut,
          errors=NOT_FOUND)
def get_user(userId: str) -> Response:
    return json_response(serializers.user_out(users.get(principal(), ids.decode(userId))))


@endpoint("/users/<userId>", "PATCH", access=Access.ADMIN, tag="Users", summary="Edit a user", body=UpdateUser,
          status=204, errors=NOT_FOUND)
def update_user(userId: str, body: UpdateUser) -> Response:
    users.update(principal(), ids.decode(userId), body)
    return no_content()


@endpoint("/users/<userId>", "DELETE", access=Access.ADMIN, tag="Users", summary="Delete a user", status=204,
          errors=NOT_FOUND)
def delete_user(userId: str) -> Response:
    users.delete(principal(), ids.decode(userId))
    return no_content()


@endpoint("/users/<userId>/options", "GET", access=Access.ADMIN, tag="Users", summary="List user options",
          response=list[OptionOut], errors=NOT_FOUND)
def list_user_options(userId: str) -> Response:
    rows = options.listing(options.user_chain(users.get(principal(), ids.decode(userId))))
    return json_response([serializers.option_out(r) for r in rows], headers={
        "X-Total-Count": str(len(rows)), "Access-Control-Expose-Headers": "X-Total-Count"})


@endpoint("/users/<userId>/options", "POST", access=Access.ADMIN, tag="Users", summary="Set user option",
          body=OptionAdd, response=OptionOut, status=201, errors=NOT_FOUND)
def set_user_option(userId: str, body: OptionAdd) -> Response:
    user = users.get(principal(), ids.decode(userId), Permission.USER_EDIT)
    resolved = options.set_value(principal(), options.user_chain(user), body.name, body.value)
    return created(serializers.option_out(resolved), f"/api/users/{userId}/options")


@endpoint("/users/<userId>/options/<optionName>", "DELETE", access=Access.ADMIN, tag="Users",
          summary="Delete user option", status=204, errors=NOT_FOUND)
def delete_user_option(userId: str, optionName: str) -> Response:
    user = users.get(principal(), ids.decode(userId), Permission.USER_EDIT)
    options.delete_value(principal(), options.user_chain(user), optionName)
    return no_content()
