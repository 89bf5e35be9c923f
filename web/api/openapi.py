"""Build the OpenAPI 3.1 document from the registered endpoints and their pydantic models."""

from __future__ import annotations

import re
from typing import Any, get_args, get_origin

from flask import Flask
from pydantic import BaseModel

from core.db import INT64_MAX
from web.api.endpoint import EndpointMeta

_CONVERTER = re.compile(r"<(?:(?P<conv>[a-z]+)(?:\((?P<args>[^)]*)\))?:)?(?P<name>\w+)>")
_PARAM_TYPES = {
    "int": {"type": "integer", "format": "int64", "minimum": 0, "maximum": INT64_MAX},
    "float": {"type": "number"},
    "path": {"type": "string"},
}

PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string", "description": "Human message in the caller's language"},
        "status": {"type": "integer"},
        "code": {"type": "string", "description": "Stable machine-readable code"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": "string", "description": "Path of the field, for programs (not for people)"},
                    "code": {"type": "string"},
                    "label": {"type": "string", "description": "The field's human name in the caller's language"},
                    "message": {
                        "type": "string",
                        "description": "A sentence in the caller's language naming the field by its label",
                    },
                    "row": {"type": "integer", "description": "CSV import: the spreadsheet row (header = 1)"},
                    "column": {"type": "string", "description": "CSV import: the column"},
                },
            },
        },
    },
}


def _param_schema(converter: str | None, args: str | None) -> dict[str, Any]:
    if converter == "any" and args:  # <any(accept, dismiss):action>
        return {"type": "string", "enum": [a.strip().strip("'\"") for a in args.split(",")]}
    return _PARAM_TYPES.get(converter or "", {"type": "string"})


class _Components:
    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {"Problem": PROBLEM_SCHEMA}

    def ref(self, model: Any) -> dict[str, Any]:
        origin = get_origin(model)
        if origin is list:
            (item,) = get_args(model)
            return {"type": "array", "items": self.ref(item)}
        if isinstance(model, type) and issubclass(model, BaseModel):
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode="serialization")
            for name, sub in schema.pop("$defs", {}).items():
                self.schemas.setdefault(name, sub)
            self.schemas.setdefault(model.__name__, schema)
            return {"$ref": f"#/components/schemas/{model.__name__}"}
        if model is dict or model is None:
            return {"type": "object"}
        raise TypeError(f"cannot describe {model!r} in OpenAPI")

    def query_params(self, model: type[BaseModel]) -> list[dict[str, Any]]:
        # Enums and nested models of query parameters live in components like those of bodies.
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in schema.pop("$defs", {}).items():
            self.schemas.setdefault(name, sub)
        required = set(schema.get("required", []))
        return [
            {"name": name, "in": "query", "required": name in required, "schema": prop}
            for name, prop in schema.get("properties", {}).items()
        ]

    def input_ref(self, model: type[BaseModel]) -> dict[str, Any]:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode="validation")
        for name, sub in schema.pop("$defs", {}).items():
            self.schemas.setdefault(name, sub)
        self.schemas.setdefault(model.__name__, schema)
        return {"$ref": f"#/components/schemas/{model.__name__}"}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _request_body(meta: EndpointMeta, comps: _Components) -> dict[str, Any] | None:
    if meta.body is not None:
        return {"required": True, "content": {"application/json": {"schema": comps.input_ref(meta.body)}}}
    if meta.upload is not None:
        schema = {
            "type": "object",
            "required": [meta.upload],
            "properties": {meta.upload: {"type": "string", "format": "binary"}},
        }
        return {"required": True, "content": {"multipart/form-data": {"schema": schema}}}
    return None


def _operation(meta: EndpointMeta, path_params: list[dict[str, Any]], comps: _Components) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": meta.summary, "tags": meta.tags}
    if meta.description:
        op["description"] = meta.description
    params = list(path_params)
    if meta.query is not None:
        params.extend(comps.query_params(meta.query))
    if meta.idempotent:
        params.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": True,
                "schema": {"type": "string", "maxLength": 200},
                "description": "A retry with the same key replays the first response; other input is refused.",
            }
        )
    if params:
        op["parameters"] = params
    request_body = _request_body(meta, comps)
    if request_body is not None:
        op["requestBody"] = request_body
    ok: dict[str, Any] = {"description": "OK"}
    if meta.response is not None:
        ok["content"] = {"application/json": {"schema": comps.ref(meta.response)}}
    if meta.produces is not None:
        ok["content"] = {meta.produces: {"schema": {"type": "string"}}}
    responses: dict[str, Any] = {str(meta.status): ok}
    if meta.body is not None:
        responses["400"] = _problem("Malformed JSON")
    if meta.body is not None or meta.query is not None or meta.upload is not None:
        responses["422"] = _problem("Invalid fields, one entry per field")
    if meta.auth == "required":
        responses["401"] = _problem("Not signed in")
        op["security"] = [{"bearerAuth": []}, {"cookieAuth": []}]
    for code in meta.errors:
        responses.setdefault(str(code), _problem("See `code` for the reason"))
    op["responses"] = responses
    return op


def build_openapi(app: Flask, *, blueprint: str = "api_v1", title: str = "xinglian API") -> dict[str, Any]:
    comps = _Components()
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.endpoint.startswith(blueprint + "."):
            continue
        view = app.view_functions[rule.endpoint]
        meta: EndpointMeta | None = getattr(view, "_endpoint_meta", None)
        if meta is None:
            continue
        path_params = []
        for m in _CONVERTER.finditer(rule.rule):
            path_params.append(
                {
                    "name": m["name"],
                    "in": "path",
                    "required": True,
                    "schema": _param_schema(m["conv"], m["args"]),
                }
            )
        path = _CONVERTER.sub(lambda m: "{" + m["name"] + "}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            op = _operation(meta, path_params, comps)
            op["operationId"] = f"{rule.endpoint.split('.', 1)[1]}_{method.lower()}"
            paths.setdefault(path, {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": "1",
            "description": "星炼 xinglian — shoppable short video and creator commerce. "
            "Errors are application/problem+json; money is integer fen; rates are basis points.",
        },
        "paths": paths,
        "components": {
            "schemas": comps.schemas,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
        },
    }
