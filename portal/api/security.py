"""Seed 5.1 AccessControls: /security/admins and /security/permissions."""

from __future__ import annotations

from flask import Response, request

from .. import ids, serializers
from ..errors import Invalid
from ..permissions import ObjectType, Permission
from ..schemas.accounts import AdminOut, AdminUpdate, PermissionOut
from ..services import admins
from .framework import Access, Listing, QueryParam, endpoint, json_response, list_response, no_content, principal

ADMIN_LIST = Listing(
    spec=admins.ROWS_SPEC,
    export_name="admins",
    descriptions={"search": "Filter by login, email, displayName (value, prefix*, *suffix, *contains*)"},
)


@endpoint("/security/admins", "GET", access=Permission.GRANT, tag="AccessControls", summary="List admins",
          response=list[AdminOut], listing_=ADMIN_LIST)
def list_admins() -> Response:
    return list_response(admins.list_rows(principal()), ADMIN_LIST, serializers.admin_rows, serializers.ADMIN_COLUMNS)


@endpoint("/security/admins/<adminId>", "GET", access=Access.ADMIN, tag="AccessControls",
          summary="Get admin", response=AdminOut, errors={404: "Resource does not exist."})
def get_admin(adminId: str) -> Response:
    return json_response(serializers.admin_out(admins.get(principal(), ids.decode(adminId))))


@endpoint("/security/admins/<adminId>", "PATCH", access=Access.ADMIN, tag="AccessControls",
          summary="Update admin", body=AdminUpdate, response=AdminOut,
          errors={400: "Invalid body", 403: "Not allowed to edit this account", 404: "Resource does not exist."})
def update_admin(adminId: str, body: AdminUpdate) -> Response:
    admin = admins.update(principal(), ids.decode(adminId), body)
    return json_response(serializers.admin_out(admin))


@endpoint("/security/admins/<adminId>", "DELETE", access=Access.ADMIN, tag="AccessControls",
          summary="Delete admin account", status=204,
          errors={403: "Not allowed to delete this account", 404: "Resource does not exist."})
def delete_admin(adminId: str) -> Response:
    admins.delete(principal(), ids.decode(adminId))
    return no_content()


@endpoint("/security/permissions", "GET", access=Access.ADMIN, tag="AccessControls", summary="List permissions",
          response=list[PermissionOut],
          query=(
              QueryParam("scope", "Restrict the list of permissions by scope.", True,
                         {"type": "string", "enum": [t.value for t in ObjectType]}),
              QueryParam("id", "Id of the broker, customer or domain.", True),
          ),
          errors={400: "Missing or invalid scope", 404: "Resource does not exist."})
def list_permissions() -> Response:
    scope_text, object_id = request.args.get("scope", ""), request.args.get("id", "")
    try:
        scope = ObjectType(scope_text.upper())
    except ValueError as exc:
        raise Invalid.on("scope", f"Must be one of {', '.join(t.value for t in ObjectType)}.") from exc
    if not object_id:
        raise Invalid.on("id", "The id of the object is required.")
    rows = admins.assignable_permissions(principal(), scope, ids.decode(object_id))
    return json_response([PermissionOut(name=name, editable=editable) for name, editable in rows])
