"""The OpenAPI 3.1 document for the REST endpoints, served at ``/openapi.json``.

Every status the server can answer is listed per operation: those of the route itself, and
those any request may get before it reaches a route (``_ANY``: API keys 401/403, rate limit
429, head timeout 408, Host allow-list 421, head too large 431, connection limit 503).
"""

from __future__ import annotations

from typing import Any

from ebb.core.datatypes import DATATYPES
from ebb.protocol.codec import dumps
from ebb.protocol.info import ServerInfo
from ebb.protocol.limits import MAX_DIMS, MAX_HEADER_DIGITS

_ERROR = {"description": "Error", "content": {"application/json": {"schema": {
    "$ref": "#/components/schemas/Error"}}}}


def _json(schema: str, description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {
        "$ref": f"#/components/schemas/{schema}"}}}}



def _error(description: str) -> dict[str, Any]:
    return {**_ERROR, "description": description}


_ANY = {
    "401": _error("API key missing or unknown (with --auth-keys-file)"),
    "403": _error("API key lacks the role (with --auth-keys-file)"),
    "408": _error("Request head or body not received in time"),
    "421": _error("Host not answered (loopback allow-list)"),
    "429": _error("Rate limit exceeded (with --rate-limit); see Retry-After"),
    "431": _error("Request head too large"),
    "503": _error("Overloaded (queue, memory budget or connections) or not ready; see "
                  "Retry-After"),
}


def _responses(**route: dict[str, Any]) -> dict[str, Any]:
    return {**_ANY, **{code.removeprefix("s"): value for code, value in route.items()}}


_MAX_HEADER_NUMBER = 10**MAX_HEADER_DIGITS - 1

_MODEL = {"name": "model_name", "in": "path", "required": True, "schema": {"type": "string"}}
_VERSION = {"name": "model_version", "in": "path", "required": True,
            "schema": {"type": "string"}}


def _model_paths(prefix: str, params: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        prefix: {"get": {"summary": "Model metadata", "parameters": params,
                         "responses": _responses(s200=_json("ModelMetadata"), s404=_ERROR)}},
        f"{prefix}/ready": {"get": {"summary": "Model readiness", "parameters": params,
                                    "responses": _responses(s200=_json("Ready"),
                                                            s404=_ERROR)}},
        f"{prefix}/infer": {"post": {
            "summary": "Run inference",
            "description": "JSON body, or JSON followed by binary tensor data when the "
                           "Inference-Header-Content-Length header gives the JSON length.",
            "parameters": [*params,
                           {"name": "Inference-Header-Content-Length", "in": "header",
                            "required": False, "schema": {"type": "integer", "minimum": 1,
                                                          "maximum": _MAX_HEADER_NUMBER}},
                           {"name": "Ebb-Timeout-Ms", "in": "header", "required": False,
                            "schema": {"type": "integer", "minimum": 0,
                                       "maximum": _MAX_HEADER_NUMBER}}],
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/InferRequest"}},
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
            "responses": _responses(
                s200=_json("InferResponse"), s400=_ERROR, s404=_ERROR, s413=_ERROR,
                s415=_error("A request with an Origin must be application/json"),
                s500=_error("The model raised"), s504=_error("Deadline passed"))}},
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
                        "responses": _responses(s200=_json("ServerMetadata"))}},
        "/v2/health/live": {"get": {"summary": "Liveness",
                                    "responses": _responses(s200={"description": "Live"})}},
        "/v2/health/ready": {"get": {"summary": "Readiness",
                                     "responses": _responses(s200={"description": "Ready"})}},
        **_model_paths("/v2/models/{model_name}", [_MODEL]),
        **_model_paths("/v2/models/{model_name}/versions/{model_version}",
                       [_MODEL, _VERSION]),
        "/v1/models/{model_name}": {"get": {"summary": "KServe V1 model status",
                                            "parameters": [_MODEL],
                                            "responses": _responses(
                                                s200={"description": "OK"}, s404=_ERROR)}},
        "/v1/models/{model_name}:predict": {"post": {
            "summary": "KServe V1 predict ({instances} -> {predictions})",
            "parameters": [_MODEL],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["instances"],
                "properties": {"instances": {"type": "array"}}}}}},
            "responses": _responses(
                s200={"description": "Predictions"}, s400=_ERROR, s404=_ERROR, s413=_ERROR,
                s415=_error("A request with an Origin must be application/json"),
                s500=_error("The model raised"), s504=_error("Deadline passed"))}},
        "/metrics": {"get": {"summary": "Prometheus metrics (OpenMetrics when asked)",
                             "responses": _responses(s200={"description": "Metrics"})}},
        **_repository_paths(),
    }


def _repository_paths() -> dict[str, Any]:
    """Triton's repository, statistics and configuration extensions (``repository_routes``)."""
    any_object = {"description": "OK", "content": {"application/json": {"schema": {
        "type": "object"}}}}
    index = {"description": "OK", "content": {"application/json": {"schema": {
        "type": "array", "items": {"type": "object", "required": ["name", "state"],
                                   "properties": {"name": {"type": "string"},
                                                  "version": {"type": "string"},
                                                  "state": {"type": "string"},
                                                  "reason": {"type": "string"}}}}}}}
    change = {"requestBody": {"required": False, "content": {"application/json": {"schema": {
        "type": "object", "properties": {"parameters": {"type": "object"}}}}}},
        "parameters": [_MODEL],
        "responses": _responses(s200={"description": "Done"}, s400=_ERROR, s404=_ERROR,
                                s413=_ERROR)}
    paths: dict[str, Any] = {
        "/v2/repository/index": {"post": {
            "summary": "Models in the repository and their state",
            "requestBody": {"required": False, "content": {"application/json": {"schema": {
                "type": "object", "properties": {"ready": {"type": "boolean"}}}}}},
            "responses": _responses(s200=index, s400=_ERROR, s413=_ERROR)}},
        "/v2/repository/models/{model_name}/load": {"post": {
            "summary": "Load a model (admin role with --auth-keys-file)", **change}},
        "/v2/repository/models/{model_name}/unload": {"post": {
            "summary": "Unload a model after its queued and running requests are answered "
                       "(admin role with --auth-keys-file)", **change}},
        "/v2/models/stats": {"get": {"summary": "Statistics of every model version",
                                     "responses": _responses(s200=any_object)}},
    }
    for prefix, params in (("/v2/models/{model_name}", [_MODEL]),
                           ("/v2/models/{model_name}/versions/{model_version}",
                            [_MODEL, _VERSION])):
        paths[f"{prefix}/stats"] = {"get": {"summary": "Model statistics", "parameters": params,
                                            "responses": _responses(s200=any_object,
                                                                    s404=_ERROR)}}
        paths[f"{prefix}/config"] = {"get": {"summary": "Model configuration",
                                             "parameters": params,
                                             "responses": _responses(s200=any_object,
                                                                     s404=_ERROR)}}
    return paths


def _schemas() -> dict[str, Any]:
    required = ["name", "datatype", "shape"]
    named = {"name": {"type": "string", "minLength": 1},
             "datatype": {"type": "string", "enum": list(DATATYPES)}}
    tensor_meta: dict[str, Any] = {"type": "object", "required": required, "properties": {
        **named, "shape": {"type": "array", "items": {"type": "integer", "minimum": -1}}}}
    tensor: dict[str, Any] = {"type": "object", "required": required, "properties": {
        **named, "shape": {"type": "array", "maxItems": MAX_DIMS,
                           "items": {"type": "integer", "minimum": 0}},
        "parameters": {"type": "object"}, "data": {"type": "array"}}}
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
            "inputs": {"type": "array", "minItems": 1, "items": tensor},
            "outputs": {"type": "array", "items": {"type": "object", "properties": {
                "name": {"type": "string"}, "parameters": {"type": "object"}}}}}},
        "InferResponse": {"type": "object", "properties": {
            "model_name": {"type": "string"}, "model_version": {"type": "string"},
            "id": {"type": "string"}, "outputs": {"type": "array", "items": tensor}}},
    }
