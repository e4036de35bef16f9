"""One implementation of the API conventions: auth, access declaration, bodies, lists.

Every route is declared with `@endpoint(...)`, which records it for the OpenAPI document and for
the access audit (a route without a declared access cannot be registered). The request's unit of
work commits once after the view, as for pages (`portal/unit_of_work.py`): an answer below 400
commits, an error answer rolls back, and a unique violation is a 409 problem.
"""

from __future__ import annotations

import json as stdjson
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import wraps
from typing import Any

from flask import Blueprint, Response, current_app, g, json, request
from pydantic import BaseModel, RootModel, ValidationError
from sqlalchemy import Select

from .. import exports
from ..errors import Forbidden, Invalid, ServiceError, Unauthorized
from ..permissions import Permission
from ..schemas.validation import invalid_from_pydantic
from ..services import listing, tokens
from ..services.principal import Principal
from .problems import from_service_error

bp = Blueprint("api", __name__, url_prefix="/api")


class Access(StrEnum):
    PUBLIC = "PUBLIC"  # no token (the OpenAPI document)
    AUTHENTICATED = "AUTHENTICATED"  # any valid token; the service decides the rest
    ADMIN = "ADMIN"  # an admin's token
    SYSADMIN = "SYSADMIN"


@dataclass(frozen=True)
class QueryParam:
    name: str
    description: str = ""
    required: bool = False
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"})
    where: str = "query"  # or "header"


IGNORE_MX = QueryParam("X-Ignore-MX", "Skip the check that the domain's MX points to this gateway", where="header")


def ignore_mx() -> bool:
    value = request.headers.get("X-Ignore-MX")
    return value is not None and value.strip().lower() not in ("false", "0", "no")


@dataclass(frozen=True)
class Listing:
    spec: listing.ListSpec
    export_name: str | None = None  # set when the seed allows CSV / spreadsheet export
    descriptions: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Endpoint:
    rule: str
    method: str
    name: str
    access: Access | Permission
    summary: str
    tag: str
    body: type[BaseModel] | None
    response: Any
    status: int
    listing: Listing | None
    query: tuple[QueryParam, ...]
    errors: dict[int, str]
    extension: bool
    upload: str | None = None  # a multipart/form-data body with this file field
    body_required: bool = True  # False: a request without a body passes `body=None` (the seed's POST /dkim)
    location: bool = False  # the answer carries a Location (a 202 that names what to poll)

    @property
    def openapi_path(self) -> str:
        return "/api" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", self.rule)


REGISTRY: list[Endpoint] = []


def principal() -> Principal:
    return g.principal


def _authenticate() -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthorized("Send a token as 'Authorization: Bearer <token>'.")
    return tokens.authenticate(value.strip())


def _check_access(who: Principal, access: Access | Permission) -> None:
    if access == Access.AUTHENTICATED:
        return
    if who.admin is None:
        raise Forbidden("This endpoint is for administrators.")
    if access == Access.ADMIN:
        return
    if access == Access.SYSADMIN:
        who.require_sysadmin()
    elif not who.holds_anywhere(access):
        raise Forbidden(f"This endpoint needs the {access} permission.")


_SURROGATE = re.compile(r"[\ud800-\udfff]")
MAX_BODY_DEPTH = 32  # deeper than any body of the API; far below the parser's recursion limit


def _check_json(data: Any) -> None:
    """Refuse what the JSON parser lets through but nothing downstream may take: a lone surrogate
    (`"\\ud800"`, which no database or encoder stores) in a key or a value, and nesting deeper than
    MAX_BODY_DEPTH. Walked without recursion; the error names the field (`a.b[2]`)."""
    stack: list[tuple[Any, str, int]] = [(data, "body", 0)]
    while stack:
        value, where, depth = stack.pop()
        if depth > MAX_BODY_DEPTH:
            raise Invalid.on("body", f"The JSON is nested more than {MAX_BODY_DEPTH} levels deep.")
        if isinstance(value, str):
            if _SURROGATE.search(value):
                raise Invalid.on(where, "Not valid Unicode text (a lone surrogate escape).")
        elif isinstance(value, dict):
            for key, item in value.items():
                if _SURROGATE.search(key):
                    raise Invalid.on(where, "A field name is not valid Unicode text (a lone surrogate escape).")
                stack.append((item, key if where == "body" else f"{where}.{key}", depth + 1))
        elif isinstance(value, list):
            stack.extend((item, f"{where}[{n}]", depth + 1) for n, item in enumerate(value))


def _parse_body(model: type[BaseModel]) -> BaseModel:
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise Invalid.on("body", "A JSON body is required.")
    try:
        data = stdjson.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Invalid.on("body", f"Malformed JSON: {exc}") from exc
    except RecursionError as exc:  # `[[[[…` deeper than the interpreter's stack
        raise Invalid.on("body", f"The JSON is nested more than {MAX_BODY_DEPTH} levels deep.") from exc
    _check_json(data)
    if not isinstance(data, dict) and not issubclass(model, RootModel):
        raise Invalid.on("body", "The body must be a JSON object.")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_from_pydantic(exc) from exc


def endpoint(
    rule: str,
    method: str,
    *,
    access: Access | Permission,
    summary: str,
    tag: str,
    body: type[BaseModel] | None = None,
    response: Any = None,
    status: int = 200,
    listing_: Listing | None = None,
    query: Sequence[QueryParam] = (),
    errors: dict[int, str] | None = None,
    extension: bool = False,
    upload: str | None = None,
    body_required: bool = True,
    location: bool = False,
) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    def decorate(fn: Callable[..., Response]) -> Callable[..., Response]:
        REGISTRY.append(Endpoint(
            rule, method, fn.__name__, access, summary, tag, body, response, status, listing_,
            tuple(query), errors or {}, extension, upload, body_required, location,
        ))

        @wraps(fn)
        def view(**kwargs: Any) -> Response:
            try:
                if access != Access.PUBLIC:
                    g.principal = _authenticate()
                    _check_access(g.principal, access)
                if body is not None:
                    absent = not body_required and not request.get_data(cache=True).strip()
                    kwargs["body"] = None if absent else _parse_body(body)
                result = fn(**kwargs)
            except ServiceError as error:
                return from_service_error(error)
            return result

        bp.add_url_rule(rule, endpoint=fn.__name__, view_func=view, methods=[method])
        return fn

    return decorate


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    if isinstance(data, RootModel):
        data = data.model_dump(mode="json")
    elif isinstance(data, BaseModel):
        data = data.wire()  # type: ignore[attr-defined]
    elif isinstance(data, list):
        data = [d.wire() if isinstance(d, BaseModel) else d for d in data]  # type: ignore[attr-defined]
    response = Response(json.dumps(data), status=status, mimetype="application/json")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def created(data: Any, location: str) -> Response:
    """201 with an absolute Location built from POSTERN_BASE_URL (never from the Host header)."""
    return json_response(data, 201, {
        "Location": current_app.config["BASE_URL"] + location,
        "Access-Control-Expose-Headers": "Location",
    })


def no_content() -> Response:
    return Response(status=204)


def list_response(
    stmt: Select[Any],
    spec: Listing,
    serialize: Callable[[Sequence[Any]], list[Any]],
    columns: Sequence[exports.Column] = (),
    unfiltered_total: int | None = None,
) -> Response:
    """A page of a collection with X-Total-Count, or the whole filtered list as CSV / spreadsheet
    (`unfiltered_total`: the count without a filter, when it is kept: listing.page)."""
    params = listing.parse(request.args, spec.spec, current_app.config["API_MAX_PAGE_SIZE"])
    fmt = exports.wanted_format() if spec.export_name else exports.JSON
    if fmt != exports.JSON:
        return exports.export(listing.everything(stmt, spec.spec, params), columns, fmt, spec.export_name or "export")
    rows, total = listing.page(stmt, spec.spec, params, unfiltered_total=unfiltered_total)
    return json_response(serialize(rows), headers={
        "X-Total-Count": str(total),
        "Access-Control-Expose-Headers": "X-Total-Count",
    })
