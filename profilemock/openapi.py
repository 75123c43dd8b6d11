"""An OpenAPI 3.1 document of the Profile API, built from the bundled schemas and the
endpoint table (``api.py``), with profilemock's admin API built from the table the server
mounts it from (``mockserver/admin.ROUTES``): one source of truth for the fake, the
validator and other tools."""

from __future__ import annotations

import copy
import re
from typing import Any

from profilemock.api import (
    BOOLEAN_WORDS,
    COLLECTIONS,
    ENDPOINTS,
    EVENTS_WINDOW_DAYS,
    RESOURCES,
    SORT_ORDERS,
    SPACE_ID_CHARS,
    TRAIT_CLASSES,
)
from profilemock.mockserver.admin import PATH_PARAMETERS, ROUTES
from profilemock.mockserver.app import ADMIN_PREFIX
from profilemock.schemas.registry import load_schema
from profilemock.schemas.validation import ENDPOINT_SCHEMAS

_COMMON = "common.schema.json"
_REF = re.compile(r"^(?:(?P<file>[a-z-]+\.schema\.json))?#/\$defs/(?P<name>\w+)$")
_BODY_NAMES = {
    "traits": "Traits",
    "traits_verbose": "TraitsVerbose",
    "external_ids": "ExternalIds",
    "events": "Events",
    "metadata": "Metadata",
    "links": "Links",
    "profiles": "Profiles",
    "error": "Error",
}
_ERRORS = {
    "400": "A path parameter has invalid characters (`validation_error`) or a query"
    " parameter is invalid (`invalid_request_error`).",
    "401": "No valid access token for this space (`authentication_error`).",
    "404": "The profile, collection or route does not exist (`not_found`).",
    "429": "Too many requests hit the API too quickly (`rate_limit_error`).",
    "500": "Something went wrong on the server's side.",
}


def _component(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


_FIXTURE = "fixture.schema.json"


def _component_of(file_name: str, name: str) -> str:
    """Component name of a ``$defs`` entry: the fixture format's are prefixed."""
    prefix = "Fixture" if file_name == _FIXTURE else ""
    return prefix + _component(name)


def _rewrite(node: Any, file_name: str) -> Any:
    """Point every ``$ref`` at ``#/components/schemas/…``; drop per-file ``$id``s."""
    if isinstance(node, list):
        return [_rewrite(item, file_name) for item in node]
    if not isinstance(node, dict):
        return node
    result = {}
    for key, value in node.items():
        if key in ("$schema", "$id"):
            continue
        if key == "$ref" and isinstance(value, str):
            match = _REF.match(value)
            if match is None:
                raise ValueError(f"unexpected $ref {value!r} in the bundled schemas")
            target = match.group("file") or file_name
            result[key] = f"#/components/schemas/{_component_of(target, match.group('name'))}"
        else:
            result[key] = _rewrite(value, file_name)
    return result


def _components(admin: bool) -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    files = [_COMMON, _FIXTURE] if admin else [_COMMON]
    for file_name in files:
        for name, definition in load_schema(file_name)["$defs"].items():
            schemas[_component_of(file_name, name)] = _rewrite(copy.deepcopy(definition), file_name)
    for key, file_name in ENDPOINT_SCHEMAS.items():
        schemas[_BODY_NAMES[key]] = _rewrite(copy.deepcopy(load_schema(file_name)), file_name)
    return schemas


def _query_parameters(endpoint_name: str) -> list[dict[str, Any]]:
    endpoint = ENDPOINTS[endpoint_name]
    described: dict[str, dict[str, Any]] = {
        "limit": {
            "description": "Page size."
            + (
                f" Pages hold at most {endpoint.page_max}; larger values are clamped."
                if endpoint.page_max < endpoint.limit_max
                else ""
            ),
            "schema": {
                "type": "integer",
                "minimum": 1,
                "maximum": endpoint.limit_max,
                "default": endpoint.default_limit,
            },
        },
        "next": {
            "description": "An opaque cursor: the `cursor.next` of the previous page, never"
            " made by hand. A value this list did not issue (one that does not decode, or"
            " names no item of it) answers 400 `invalid_request_error` with the error body.",
            "schema": {"type": "string"},
        },
        "verbose": {
            "description": "`true` answers each trait as {value, source_id, updated_at}.",
            "schema": {"type": "string", "enum": sorted(BOOLEAN_WORDS), "default": "false"},
        },
        "class": {
            "description": "Only audiences, or only computed traits.",
            "schema": {"type": "string", "enum": list(TRAIT_CLASSES)},
        },
        "include": {
            "description": "Comma-separated keys (traits), id types (external_ids) or event"
            " names (events) to keep; may be repeated.",
            "schema": {"type": "string"},
        },
        "exclude": {
            "description": "Comma-separated event names to leave out; may be repeated.",
            "schema": {"type": "string"},
        },
        "start": {
            "description": "Only events after this instant (exclusive), an ISO 8601 date"
            f" (`2006-01-02`) or datetime; the last {EVENTS_WINDOW_DAYS} days at most. Not ISO"
            " 8601, or later than `end`: 400 `invalid_request_error` with the error body.",
            "schema": {"type": "string", "format": "date-time"},
        },
        "end": {
            "description": "Only events before this instant (exclusive), an ISO 8601 date or"
            " datetime. Not ISO 8601, or earlier than `start`: 400 `invalid_request_error`"
            " with the error body.",
            "schema": {"type": "string", "format": "date-time"},
        },
        "sort": {
            "description": "Order of events; newest first by default.",
            "schema": {"type": "string", "enum": list(SORT_ORDERS), "default": "desc"},
        },
    }
    return [
        {"name": name, "in": "query", "required": False, **described[name]}
        for name in endpoint.params
    ]


def _path_parameters(with_identifier: bool) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = [
        {
            "name": "space_id",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": f"^{SPACE_ID_CHARS}+$"},
            "example": "lg8283283",
        },
        {
            "name": "collection",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "enum": list(COLLECTIONS)},
            "example": "users",
        },
    ]
    if with_identifier:
        parameters.append(
            {
                "name": "identifier",
                "in": "path",
                "required": True,
                "description": "`type:value` (percent-encode `+` as %2B) or a segment id.",
                "schema": {"type": "string", "minLength": 1},
                "example": "user_id:1413639574",
            }
        )
    return parameters


def _responses(ok: dict[str, Any], description: str) -> dict[str, Any]:
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    responses: dict[str, Any] = {
        "200": {"description": description, "content": {"application/json": {"schema": ok}}}
    }
    for status, text in _ERRORS.items():
        responses[status] = {"description": text, "content": error}
    responses["401"]["headers"] = {
        "WWW-Authenticate": {"schema": {"type": "string"}, "description": "Always `Basic`."}
    }
    return responses


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _admin_operation(
    summary: str,
    ok: str,
    *,
    body: dict[str, Any] | None = None,
    parameters: list[dict[str, Any]] | None = None,
    status: str = "200",
    errors: dict[str, str] | None = None,
    body_required: bool = True,
    added: str | None = None,
    content_type: str = "application/json",
) -> dict[str, Any]:
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    schema = {"type": "object"} if content_type == "application/json" else {"type": "string"}
    operation: dict[str, Any] = {
        "tags": ["admin"],
        "summary": summary,
        "security": [{}, {"adminToken": []}],
        "responses": {
            status: {
                "description": ok,
                "content": {content_type: {"schema": schema}},
            },
            "400": {
                "description": "The body or query does not match this operation's schema (or"
                " is not JSON): the message names the field (a JSON pointer) or parameter"
                " and says what is allowed.",
                "content": error,
            },
            "401": {
                "description": "The server was started with --admin-token and it is missing.",
                "content": error,
            },
            "404": {"description": "No such space, collection, profile or rule.", "content": error},
        },
    }
    if added is not None:
        operation["responses"]["201"] = {
            "description": added,
            "content": {content_type: {"schema": schema}},
        }
    for code, description in (errors or {}).items():
        operation["responses"][code] = {"description": description, "content": error}
    if parameters:
        operation["parameters"] = parameters
    if body is not None:
        operation["responses"]["415"] = {
            "description": "The body is not `Content-Type: application/json`.",
            "content": error,
        }
        operation["responses"]["408"] = {
            "description": "The body did not arrive within the server's body timeout"
            " (`--body-timeout`, 10 s) of its headers; the connection closes.",
            "content": error,
        }
        operation["requestBody"] = {
            "required": body_required,
            "content": {"application/json": {"schema": body}},
        }
    return operation


def _admin_paths() -> dict[str, Any]:
    """The admin API (``/__admin/``): profilemock's own, not the Profile API's; described
    from the table the server mounts it from."""
    paths: dict[str, Any] = {}
    for route in ROUTES:
        parameters = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": PATH_PARAMETERS.get(name, {"type": "string"}),
            }
            for name in re.findall(r"{(\w+)}", route.path)
        ] + [
            {"name": name, "in": "query", "required": False, "schema": schema}
            for name, schema in route.query
        ]
        operation = _admin_operation(
            route.summary,
            route.ok,
            body=None if route.body is None else _rewrite(route.body, _FIXTURE),
            parameters=parameters,
            status=str(route.status),
            errors={str(code): text for code, text in route.errors},
            body_required=route.body_required,
            added=route.added,
            content_type=route.content_type,
        )
        paths.setdefault(ADMIN_PREFIX + route.path.lstrip("/"), {})[route.method.lower()] = (
            operation
        )
    return paths


def build_openapi(server_url: str | None = None, *, admin: bool = True) -> dict[str, Any]:
    """The OpenAPI 3.1 document; ``server_url`` is listed first when given; ``admin``
    includes profilemock's own admin API."""
    from profilemock import __version__

    base = "/v1/spaces/{space_id}/collections/{collection}/profiles"
    paths: dict[str, Any] = {
        base: {
            "get": {
                "operationId": "listProfiles",
                "summary": "List profiles by most recent activity (legacy)",
                "description": "No longer documented by Segment; kept for older clients.",
                "parameters": _path_parameters(False) + _query_parameters("profiles"),
                "responses": _responses(_ref("Profiles"), "A page of profiles."),
            }
        }
    }
    for resource in RESOURCES:
        ok = (
            {"anyOf": [_ref("Traits"), _ref("TraitsVerbose")]}
            if resource == "traits"
            else _ref(_BODY_NAMES[resource])
        )
        words = resource.replace("_", " ")
        paths[f"{base}/{{identifier}}/{resource}"] = {
            "get": {
                "operationId": "get" + _component(resource),
                "summary": f"Get a profile's {words}",
                "parameters": _path_parameters(True) + _query_parameters(resource),
                "responses": _responses(ok, f"The profile's {words}."),
            }
        }
    servers = [
        {"url": "https://profiles.segment.com", "description": "Segment (US)"},
        {"url": "https://profiles.euw1.segment.com", "description": "Segment (EU)"},
    ]
    if server_url:
        servers.insert(0, {"url": server_url, "description": "profilemock"})
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Segment Profile API (as faked by profilemock)",
            "version": __version__,
            "description": "Read user and account profiles: traits, external ids, events,"
            " metadata and links. Authenticate with HTTP Basic: the access token as"
            " username, an empty password.",
        },
        "servers": servers,
        "security": [{"basicAuth": []}],
        "paths": {**paths, **(_admin_paths() if admin else {})},
        "components": {
            "securitySchemes": {
                "basicAuth": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "The space's access token as username; empty password.",
                },
                "adminToken": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Profilemock-Admin-Token",
                    "description": "Only when the server was started with --admin-token.",
                },
            },
            "schemas": _components(admin),
        },
    }
