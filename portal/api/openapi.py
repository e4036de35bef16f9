"""The OpenAPI 3.1 document, generated from the endpoint registry and the pydantic schemas."""

from __future__ import annotations

import re
import typing
from typing import Any

from flask import Response, render_template
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from .. import exports
from .framework import REGISTRY, Access, Endpoint, endpoint, json_response

REF = "#/components/schemas/{model}"
PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
COMMON_ERRORS = {400: "Invalid request", 401: "Missing, unknown, revoked or expired token", 403: "Forbidden"}
# What every operation of a kind may answer, whatever it declares: an id in the path that does not decode
# or is not visible (404), a body over POSTERN_MAX_BODY_BYTES (413).
NOT_FOUND = "An object of the path does not exist or is not visible to the caller"
TOO_LARGE = "The body is larger than the API accepts (POSTERN_MAX_BODY_BYTES)"


def _model_of(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """(model, is_list) for `Model` or `list[Model]`."""
    if annotation is None:
        return None, False
    if typing.get_origin(annotation) is list:
        return typing.get_args(annotation)[0], True
    return annotation, False


def _schema_ref(model: type[BaseModel], is_list: bool) -> dict[str, Any]:
    ref = {"$ref": REF.format(model=model.__name__)}
    return {"type": "array", "items": ref} if is_list else ref


def _operation(ep: Endpoint) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"<(?:\w+:)?(\w+)>", ep.rule)
    ]
    if ep.listing:
        spec = ep.listing.spec
        params += [
            {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "default": 0}},
            {"name": "pageSize", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 40}},
            {"name": "sort", "in": "query", "description": "Field to sort by; prefix with - to reverse.",
             "schema": {"type": "string", "default": spec.default_sort,
                        "enum": sorted([*spec.sorts, *(f"-{s}" for s in spec.sorts)])}},
        ]
        params += [
            {"name": name, "in": "query", "description": ep.listing.descriptions.get(name, "Filter (one at most)"),
             "schema": {"type": "string"}}
            for name in spec.filters
        ]
    params += [
        {"name": q.name, "in": q.where, "required": q.required, "description": q.description, "schema": q.schema}
        for q in ep.query
    ]
    op: dict[str, Any] = {
        "operationId": ep.name,
        "summary": ep.summary,
        "tags": [ep.tag],
        "parameters": params,
        "x-postern-access": str(ep.access),
    }
    if ep.extension:
        op["x-postern-extension"] = True
    if ep.access == Access.PUBLIC:
        op["security"] = []
    if ep.body is not None:
        op["requestBody"] = {"required": ep.body_required, "content": {
            "application/json": {"schema": {"$ref": REF.format(model=ep.body.__name__)}}}}
    if ep.upload is not None:
        op["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": [ep.upload],
            "properties": {ep.upload: {"type": "string", "format": "binary"}}}}}}
    ok: dict[str, Any] = {"description": {201: "Created", 202: "Accepted"}.get(ep.status, "OK")}
    model, is_list = _model_of(ep.response)
    if model is not None and ep.status != 204:
        content = {"application/json": {"schema": _schema_ref(model, is_list)}}
        if ep.listing and ep.listing.export_name:
            content[exports.CSV] = {"schema": {"type": "string"}}
            content[exports.EXCEL] = {"schema": {"type": "string", "format": "binary"}}
        ok["content"] = content
    if ep.listing or (is_list and any(q.name == "offset" for q in ep.query)):
        ok["headers"] = {"X-Total-Count": {"description": "Size of the filtered list", "schema": {"type": "integer"}}}
    if ep.location:
        ok["headers"] = {"Location": {"description": "URL to follow", "schema": {"type": "string"}}}
    if ep.status == 201:
        ok["headers"] = {"Location": {"description": "URL of the new resource", "schema": {"type": "string"}}}
    responses: dict[str, Any] = {str(ep.status): ok}
    errors = {} if ep.access == Access.PUBLIC else {**COMMON_ERRORS, **ep.errors}
    if errors and "<" in ep.rule:
        errors.setdefault(404, NOT_FOUND)
    if errors and (ep.body is not None or ep.upload is not None):
        errors.setdefault(413, TOO_LARGE)
    for code, text in sorted(errors.items()):
        responses[str(code)] = {"description": text, "content": {
            "application/problem+json": {"schema": {"$ref": REF.format(model="Problem")}}}}
    op["responses"] = responses
    return op


def document() -> dict[str, Any]:
    models: dict[str, tuple[type[BaseModel], str]] = {}
    paths: dict[str, dict[str, Any]] = {}
    for ep in REGISTRY:
        paths.setdefault(ep.openapi_path, {})[ep.method.lower()] = _operation(ep)
        if ep.body is not None:
            models[ep.body.__name__] = (ep.body, "validation")
        model, _ = _model_of(ep.response)
        if model is not None:
            models[model.__name__] = (model, "serialization")
    _, top = models_json_schema(list(models.values()), ref_template=REF)
    schemas = dict(top.get("$defs", {}))
    schemas["Problem"] = PROBLEM_SCHEMA
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Postern API",
            "version": "1",
            "description": "Wire-compatible with the Cleanmail API. Operations marked x-postern-extension "
            "are Postern's own.",
        },
        # relative: "Try it out" calls the host and port the document was read from (`make run PORT=5101`,
        # a proxy's name), whatever POSTERN_BASE_URL says; the Host header is not echoed into the document
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }


@endpoint("/openapi.json", "GET", access=Access.PUBLIC, tag="Documentation", summary="This OpenAPI document",
          extension=True)
def openapi_json() -> Response:
    return json_response(document())


@endpoint("/docs", "GET", access=Access.PUBLIC, tag="Documentation", summary="The API documentation page",
          extension=True)
def api_docs() -> Response:
    return Response(render_template("api/docs.html"))
