"""The repository, statistics and model-config extensions over REST (Triton's routes).

    POST /v2/repository/index                     {"ready": true} optional
    POST /v2/repository/models/{m}/load | unload  (admin role when keys are on)
    GET  /v2/models/stats, /v2/models/{m}[/versions/{v}]/stats
    GET  /v2/models/{m}[/versions/{v}]/config

``RestApp`` asks ``matches`` (a few string tests) before its own routes and hands matching
requests here; errors raised here are answered by ``RestApp``'s one error mapping.
"""

from __future__ import annotations

from typing import Any

import orjson

from ebb.core.errors import EbbError, InvalidInput, ModelNotFound, PayloadTooLarge
from ebb.core.repository import Repository
from ebb.protocol.asgi import Receive, Scope, Send
from ebb.protocol.codec import dumps
from ebb.protocol.repository_json import config_json, index_json, statistics_json

MAX_BODY_BYTES = 64 * 1024
_REPOSITORY = "/v2/repository/"


class MethodNotAllowed(EbbError):
    """Answered 405 with ``Allow`` naming the one method the route takes."""

    http_status = 405
    grpc_status = "UNIMPLEMENTED"

    def __init__(self, message: str, allow: str) -> None:
        super().__init__(message)
        self.allow = allow


class RepositoryRoutes:
    def __init__(self, repository: Repository) -> None:
        self._repository = repository

    @staticmethod
    def matches(path: str) -> bool:
        """Whether ``path`` is one of these routes (cheap: the infer path's first test)."""
        return path.startswith(_REPOSITORY) or (
            path.endswith(("/stats", "/config")) and path.startswith("/v2/models/"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        if path.startswith(_REPOSITORY):
            body = await _json_body(receive) if method == "POST" else {}
            _require(method, "POST", path)
            status, answer = await self._repository_call(path[len(_REPOSITORY):], body)
        else:
            _require(method, "GET", path)
            status, answer = 200, self._model_call(path[len("/v2/models/"):].split("/"))
        await _send(send, status, answer)

    async def _repository_call(self, tail: str, body: dict[str, Any]) -> tuple[int, bytes]:
        if tail == "index":
            ready = body.get("ready", False)
            if not isinstance(ready, bool):
                raise InvalidInput("'ready' must be true or false")
            return 200, orjson.dumps(index_json(self._repository.index(ready)))
        parts = tail.split("/")
        if len(parts) != 3 or parts[0] != "models" or parts[2] not in ("load", "unload") \
                or not parts[1]:
            raise _not_found(_REPOSITORY + tail)
        _check_parameters(body, parts[2])
        if parts[2] == "load":
            await self._repository.load(parts[1])
        else:
            await self._repository.unload(parts[1])
        return 200, b""

    def _model_call(self, parts: list[str]) -> bytes:
        if parts == ["stats"]:
            return dumps(statistics_json(self._repository.statistics("", "")))
        name, version, action = parts[0], "", parts[-1]
        if len(parts) == 4 and parts[1] == "versions":
            version = parts[2]
        elif len(parts) != 2:
            raise _not_found("/v2/models/" + "/".join(parts))
        if action == "stats":
            return dumps(statistics_json(self._repository.statistics(name, version)))
        return dumps(config_json(self._repository.config(name, version)))


def _require(method: str, wanted: str, path: str) -> None:
    if method != wanted and not (wanted == "GET" and method == "HEAD"):
        raise MethodNotAllowed(f"{path} takes {wanted}",
                               "GET, HEAD" if wanted == "GET" else wanted)


def _not_found(path: str) -> EbbError:
    return ModelNotFound(f"no route {path}")


def _check_parameters(body: dict[str, Any], action: str) -> None:
    parameters = body.get("parameters", {})
    if not isinstance(parameters, dict):
        raise InvalidInput("'parameters' must be a JSON object")
    unsupported = [key for key in parameters if key != "unload_dependents"]
    if unsupported:
        raise InvalidInput(f"{action} parameter(s) {', '.join(sorted(unsupported))} are not "
                           "supported: Ebb loads models from its repository directory as they "
                           "are on disk")


async def _json_body(receive: Receive) -> dict[str, Any]:
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"repository request body is over {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
        more = message.get("more_body", False) and message["type"] != "http.disconnect"
    body = b"".join(chunks).strip()
    if not body:
        return {}
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise InvalidInput(f"malformed JSON in request body: {error}") from None
    if not isinstance(document, dict):
        raise InvalidInput("the request body must be a JSON object")
    return document


async def _send(send: Send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})

