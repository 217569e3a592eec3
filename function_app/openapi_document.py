"""The OpenAPI document of the HTTP API, built from the registered operations and the pydantic schemas, so
it cannot drift from what the app serves."""
from __future__ import annotations

import re
from typing import Iterable

from pydantic import BaseModel

ERROR_SCHEMA = {
    "type": "object",
    "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
        "code": {"type": "string", "description": "stable error code, e.g. ValidationError, ResourceNotFound"},
        "message": {"type": "string"},
        "target": {"type": "string", "description": "the field or parameter at fault"},
        "details": {"type": "array", "items": {"type": "object"}},
    }}},
}


def build_document(operations: Iterable, route_prefix: str = "api", title: str = "Batch endpoints",
                   version: str = "1.0") -> dict:
    schemas: dict[str, dict] = {"Error": ERROR_SCHEMA}
    paths: dict[str, dict] = {}
    for op in operations:
        path = f"/{route_prefix}/{op.route}"
        item = paths.setdefault(path, {})
        operation: dict = {
            "summary": op.summary,
            "operationId": f"{op.method.lower()}_{re.sub(r'[^A-Za-z0-9]+', '_', op.route).strip('_')}",
            "tags": [t for t in op.tags if t],
            "parameters": [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in re.findall(r"\{(\w+)\}", op.route)
            ],
            "responses": {
                str(op.success_status): {"description": "success"},
                "default": {"description": "error", "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            },
        }
        content: dict = {}
        if op.request_schema is not None:
            content["application/json"] = {"schema": {"$ref": _register(op.request_schema, schemas)}}
        if op.upload:
            content["application/octet-stream"] = {"schema": {"type": "string", "format": "binary"}}
            operation["parameters"].append(
                {"name": "filename", "in": "query", "required": False, "schema": {"type": "string"},
                 "description": "name of the uploaded file (required for uploads)"})
        if content:
            operation["requestBody"] = {"required": True, "content": content}
        item[op.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "functionKey": {"type": "apiKey", "in": "header", "name": "x-functions-key"},
                "functionKeyQuery": {"type": "apiKey", "in": "query", "name": "code"},
            },
        },
        "security": [{"functionKey": []}, {"functionKeyQuery": []}],
    }


def _register(schema: type[BaseModel], schemas: dict) -> str:
    document = schema.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in document.pop("$defs", {}).items():
        schemas[name] = definition
    schemas[schema.__name__] = document
    return f"#/components/schemas/{schema.__name__}"
