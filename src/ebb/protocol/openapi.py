"""The OpenAPI 3.1 document for the REST endpoints, served at ``/openapi.json``."""

from __future__ import annotations

from typing import Any

from ebb.protocol.codec import dumps
from ebb.protocol.info import ServerInfo

_ERROR = {"description": "Error", "content": {"application/json": {"schema": {
    "$ref": "#/components/schemas/Error"}}}}


def _json(schema: str, description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {
        "$ref": f"#/components/schemas/{schema}"}}}}


_MODEL = {"name": "model_name", "in": "path", "required": True, "schema": {"type": "string"}}
_VERSION = {"name": "model_version", "in": "path", "required": True,
            "schema": {"type": "string"}}


def _model_paths(prefix: str, params: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        prefix: {"get": {"summary": "Model metadata", "parameters": params,
                         "responses": {"200": _json("ModelMetadata"), "404": _ERROR}}},
        f"{prefix}/ready": {"get": {"summary": "Model readiness", "parameters": params,
                                    "responses": {"200": _json("Ready"), "503": _json("Ready")}}},
        f"{prefix}/infer": {"post": {
            "summary": "Run inference",
            "description": "JSON body, or JSON followed by binary tensor data when the "
                           "Inference-Header-Content-Length header gives the JSON length.",
            "parameters": [*params,
                           {"name": "Inference-Header-Content-Length", "in": "header",
                            "required": False, "schema": {"type": "integer"}},
                           {"name": "Ebb-Timeout-Ms", "in": "header", "required": False,
                            "schema": {"type": "integer"}}],
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/InferRequest"}},
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
            "responses": {"200": _json("InferResponse"), "400": _ERROR, "404": _ERROR,
                          "413": _ERROR, "500": _ERROR, "503": _ERROR, "504": _ERROR}}},
    }


def openapi_document(info: ServerInfo) -> bytes:
    return dumps({
        "openapi": "3.1.0",
        "info": {"title": "Ebb — Open Inference Protocol", "version": info.version},
        "paths": _paths(),
        "components": {"schemas": _schemas()},
    })


def _paths() -> dict[str, Any]:
    return {
        "/v2": {"get": {"summary": "Server metadata",
                        "responses": {"200": _json("ServerMetadata")}}},
        "/v2/health/live": {"get": {"summary": "Liveness",
                                    "responses": {"200": {"description": "Live"}}}},
        "/v2/health/ready": {"get": {"summary": "Readiness",
                                     "responses": {"200": {"description": "Ready"},
                                                   "503": {"description": "Not ready"}}}},
        **_model_paths("/v2/models/{model_name}", [_MODEL]),
        **_model_paths("/v2/models/{model_name}/versions/{model_version}",
                       [_MODEL, _VERSION]),
        "/v1/models/{model_name}": {"get": {"summary": "KServe V1 model status",
                                            "parameters": [_MODEL],
                                            "responses": {"200": {"description": "OK"},
                                                          "404": _ERROR}}},
        "/v1/models/{model_name}:predict": {"post": {
            "summary": "KServe V1 predict ({instances} -> {predictions})",
            "parameters": [_MODEL],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["instances"],
                "properties": {"instances": {"type": "array"}}}}}},
            "responses": {"200": {"description": "Predictions"}, "400": _ERROR,
                          "404": _ERROR, "503": _ERROR}}},
        "/metrics": {"get": {"summary": "Prometheus metrics (OpenMetrics when asked)",
                             "responses": {"200": {"description": "Metrics"}}}},
    }


def _schemas() -> dict[str, Any]:
    required = ["name", "datatype", "shape"]
    tensor_meta: dict[str, Any] = {"type": "object", "required": required, "properties": {
        "name": {"type": "string"}, "datatype": {"type": "string"},
        "shape": {"type": "array", "items": {"type": "integer"}}}}
    tensor: dict[str, Any] = {"type": "object", "required": required, "properties": {
        **tensor_meta["properties"], "parameters": {"type": "object"},
        "data": {"type": "array"}}}
    return {
        "Error": {"type": "object", "required": ["error"],
                  "properties": {"error": {"type": "string"}}},
        "Ready": {"type": "object", "properties": {"name": {"type": "string"},
                                                   "ready": {"type": "boolean"}}},
        "ServerMetadata": {"type": "object", "properties": {
            "name": {"type": "string"}, "version": {"type": "string"},
            "extensions": {"type": "array", "items": {"type": "string"}}}},
        "ModelMetadata": {"type": "object", "properties": {
            "name": {"type": "string"},
            "versions": {"type": "array", "items": {"type": "string"}},
            "platform": {"type": "string"},
            "inputs": {"type": "array", "items": tensor_meta},
            "outputs": {"type": "array", "items": tensor_meta}}},
        "InferRequest": {"type": "object", "required": ["inputs"], "properties": {
            "id": {"type": "string"}, "parameters": {"type": "object"},
            "inputs": {"type": "array", "items": tensor},
            "outputs": {"type": "array", "items": {"type": "object", "properties": {
                "name": {"type": "string"}, "parameters": {"type": "object"}}}}}},
        "InferResponse": {"type": "object", "properties": {
            "model_name": {"type": "string"}, "model_version": {"type": "string"},
            "id": {"type": "string"}, "outputs": {"type": "array", "items": tensor}}},
    }
