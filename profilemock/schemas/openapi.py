"""An OpenAPI 3.1 document of the Profile API, built from the bundled schemas and the
endpoint table: one source of truth for the fake, the validator and other tools."""

from __future__ import annotations

import copy
import re
from typing import Any

from profilemock.mockserver.endpoints import BOOLEAN_WORDS, ENDPOINTS, RESOURCES, TRAIT_CLASSES
from profilemock.schemas._registry import load_schema
from profilemock.schemas._validation import ENDPOINT_SCHEMAS

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


def _rewrite(node: Any) -> Any:
    """Point every ``$ref`` at ``#/components/schemas/…``; drop per-file ``$id``s."""
    if isinstance(node, list):
        return [_rewrite(item) for item in node]
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
            result[key] = f"#/components/schemas/{_component(match.group('name'))}"
        else:
            result[key] = _rewrite(value)
    return result


def _components() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for name, definition in load_schema(_COMMON)["$defs"].items():
        schemas[_component(name)] = _rewrite(copy.deepcopy(definition))
    for key, file_name in ENDPOINT_SCHEMAS.items():
        schemas[_BODY_NAMES[key]] = _rewrite(copy.deepcopy(load_schema(file_name)))
    return schemas


def _query_parameters(endpoint_name: str) -> list[dict[str, Any]]:
    endpoint = ENDPOINTS.get(endpoint_name)
    names = endpoint.params if endpoint else ("verbose",)
    described: dict[str, dict[str, Any]] = {
        "limit": {
            "description": "Page size."
            + (
                f" Pages hold at most {endpoint.page_max}; larger values are clamped."
                if endpoint and endpoint.page_max < endpoint.limit_max
                else ""
            ),
            "schema": {
                "type": "integer",
                "minimum": 1,
                "maximum": endpoint.limit_max if endpoint else 1,
                "default": endpoint.default_limit if endpoint else 1,
            },
        },
        "next": {
            "description": "The `cursor.next` of the previous page.",
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
            "description": "Events at or after this ISO 8601 date or datetime"
            " (the last 14 days at most).",
            "schema": {"type": "string", "format": "date-time"},
        },
        "end": {
            "description": "Events before this ISO 8601 date or datetime.",
            "schema": {"type": "string", "format": "date-time"},
        },
        "sort": {
            "description": "Order of events; newest first by default.",
            "schema": {"type": "string", "enum": ["asc", "desc"], "default": "desc"},
        },
    }
    return [{"name": name, "in": "query", "required": False, **described[name]} for name in names]


def _path_parameters(with_identifier: bool) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = [
        {
            "name": "space_id",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"},
            "example": "lg8283283",
        },
        {
            "name": "collection",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "enum": ["users", "accounts"]},
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


def build_openapi(server_url: str | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document; ``server_url`` is listed first when given."""
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
        "paths": paths,
        "components": {
            "securitySchemes": {
                "basicAuth": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "The space's access token as username; empty password.",
                }
            },
            "schemas": _components(),
        },
    }
