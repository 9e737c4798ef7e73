"""REST: ``POST {url}/v2/models/{model}/infer`` with a JSON body encoded once per run.

Each outstanding request has its own connection (the pool grows to the cap on outstanding
requests), so a request never waits for a connection inside the client: any waiting happens in
the server, where it is measured.
"""

from __future__ import annotations

import asyncio
from urllib.parse import quote, urlsplit

import httpx

from ebb.core.types import TensorSpec
from ebb.loadgen.client import Outcome
from ebb.loadgen.http1 import ClientContext, Http1Pool, prepare_post
from ebb.loadgen.payload import PayloadError, specs_from_json

_REJECTED = (503, 429)


def _model_path(model: str) -> str:
    return f"/v2/models/{quote(model, safe='')}"


async def fetch_rest_specs(url: str, model: str, timeout_s: float,
                           tls: ClientContext) -> tuple[TensorSpec, ...]:
    """The model's input specs from ``GET {url}/v2/models/{model}`` (`tls` for https)."""
    async with httpx.AsyncClient(base_url=url, timeout=timeout_s, verify=tls) as http:
        try:
            response = await http.get(_model_path(model))
        except httpx.HTTPError as error:
            raise PayloadError(f"cannot reach {url}: {error!r}") from None
        if response.status_code != 200:
            raise PayloadError(f"GET {_model_path(model)} answered {response.status_code}: "
                               f"{response.text[:200]}")
        try:
            document = response.json()
        except ValueError:
            raise PayloadError(f"GET {_model_path(model)} did not answer JSON") from None
    return specs_from_json(document)


class RestClient:
    def __init__(self, url: str, model: str, body: bytes, tls: ClientContext) -> None:
        """`tls` is used when `url` is https."""
        parts = urlsplit(url)
        assert parts.hostname is not None
        secure = parts.scheme == "https"
        port = parts.port or (443 if secure else 80)
        self._pool = Http1Pool(parts.hostname, port, tls if secure else None)
        path = parts.path.rstrip("/") + _model_path(model) + "/infer"
        self._request = prepare_post(parts.netloc, path, body)

    async def infer(self, timeout_s: float) -> tuple[Outcome, str]:
        try:
            async with asyncio.timeout(timeout_s):
                status, body = await self._pool.send(self._request)
        except TimeoutError:
            return Outcome.TIMEOUT, f"no answer in {timeout_s:g} s"
        except OSError as error:  # ConnectionError included
            return Outcome.ERROR, f"{type(error).__name__}: {error}"
        if status == 200:
            return Outcome.ANSWERED, ""
        detail = f"HTTP {status}: {body[:200].decode('utf-8', 'replace')}"
        if status in _REJECTED:
            return Outcome.REJECTED, detail
        if status == 504:
            return Outcome.TIMEOUT, detail
        return Outcome.ERROR, detail

    async def close(self) -> None:
        self._pool.close()
