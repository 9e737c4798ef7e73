"""The fake API server's routes (see fake_apiserver.py: a FAKE, for tests only)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.kubernetes.controller.fake_apiserver import FakeApiServer

NS = r"/namespaces/(?P<ns>[^/]+)"
SCALE = re.compile(rf"^/apis/apps/v1{NS}/deployments/(?P<name>[^/]+)/scale$")
DEPLOYMENT = re.compile(rf"^/apis/apps/v1{NS}/deployments/(?P<name>[^/]+)$")
SLICES = re.compile(rf"^/apis/discovery\.k8s\.io/v1{NS}/endpointslices$")
LEASES = re.compile(rf"^/apis/coordination\.k8s\.io/v1{NS}/leases(?:/(?P<name>[^/]+))?$")
EVENTS = re.compile(rf"^/apis/events\.k8s\.io/v1{NS}/events$")
HPAS = re.compile(rf"^/apis/autoscaling/v2{NS}/horizontalpodautoscalers$")
ISVC = re.compile(rf"^/apis/serving\.kserve\.io/v1beta1{NS}/inferenceservices/(?P<name>[^/]+)$")
PODS = re.compile(rf"^/api/v1{NS}/pods/(?P<name>[^/]+)$")


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


def route(server: FakeApiServer, handler: Any, method: str, path: str, query: dict[str, str],
          body: Any) -> None:
    for pattern, serve in ((SCALE, _scale), (DEPLOYMENT, _deployment), (SLICES, _slices),
                           (LEASES, _leases), (EVENTS, _events), (HPAS, _hpas), (ISVC, _isvc),
                           (PODS, _pods)):
        match = pattern.match(path)
        if match:
            serve(server, handler, method, match.groupdict(), query, body)
            return
    handler.send_json(404, _status(404, "NotFound", f"the fake has no {method} {path}"))


def _scale_body(ns: str, name: str, deployment: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "autoscaling/v1", "kind": "Scale",
            "metadata": {"name": name, "namespace": ns, "resourceVersion": str(deployment["rv"])},
            "spec": {"replicas": deployment["replicas"]},
            "status": {"replicas": deployment["replicas"], "selector": f"app={name}"}}


def _found(server: FakeApiServer, handler: Any, key: tuple[str, str]) -> dict[str, Any] | None:
    """The Deployment at ``key``, or None after answering 404 as the API server does."""
    deployment: dict[str, Any] | None = server.state.deployments.get(key)
    if deployment is None:
        handler.send_json(404, _status(404, "NotFound", f'deployments.apps "{key[1]}" not found'))
    return deployment


def _scale(server: FakeApiServer, handler: Any, method: str, groups: dict[str, str],
           query: dict[str, str], body: Any) -> None:
    key = (groups["ns"], groups["name"])
    with server.lock:
        deployment = _found(server, handler, key)
        if deployment is None:
            return
        if method in ("PUT", "PATCH"):
            given = (body or {}).get("metadata", {}).get("resourceVersion")
            if method == "PUT" and given != str(deployment["rv"]):
                handler.send_json(409, _status(
                    409, "Conflict", 'Operation cannot be fulfilled on deployments.apps '
                    f'"{key[1]}": the object has been modified; please apply your changes to '
                    "the latest version and try again"))
                return
            deployment["replicas"] = int(body["spec"]["replicas"])
            deployment["rv"] = server._bump()
            deployment["owner"] = (query.get("fieldManager", ""), time.time())
            server.state.writes.append(Write(time.monotonic(), key[1], deployment["replicas"],
                                             query.get("fieldManager", "")))
            server.lock.notify_all()
        answer = _scale_body(*key, deployment)
    handler.send_json(200, answer)


def _deployment(server: FakeApiServer, handler: Any, method: str, groups: dict[str, str],
                query: dict[str, str], body: Any) -> None:
    """A Deployment reduced to what the controller reads: replicas and their managedFields."""
    key = (groups["ns"], groups["name"])
    with server.lock:
        deployment = _found(server, handler, key)
        if deployment is None:
            return
        manager, at = deployment.get("owner", ("kubectl-client-side-apply", 0.0))
        answer = {
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": key[1], "namespace": key[0],
                         "resourceVersion": str(deployment["rv"]),
                         "managedFields": [
                             {"manager": "kube-controller-manager", "operation": "Update",
                              "apiVersion": "apps/v1", "time": _stamp(at),
                              "fieldsType": "FieldsV1", "subresource": "status",
                              "fieldsV1": {"f:status": {"f:replicas": {}}}},
                             {"manager": manager, "operation": "Update", "apiVersion": "apps/v1",
                              "time": _stamp(at), "fieldsType": "FieldsV1",
                              "subresource": "scale",
                              "fieldsV1": {"f:spec": {"f:replicas": {}}}}]},
            "spec": {"replicas": deployment["replicas"]}}
    handler.send_json(200, answer)


def _stamp(seconds: float) -> str:
    """RFC 3339 to the second, as managedFields times are."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def _slices(server: FakeApiServer, handler: Any, method: str, groups: dict[str, str],
            query: dict[str, str], body: Any) -> None:
    ns = groups["ns"]
    wanted = query.get("labelSelector", "").partition("kubernetes.io/service-name=")[2]

    def mine(item: dict[str, Any]) -> bool:
        labels = item["metadata"].get("labels", {})
        return not wanted or labels.get("kubernetes.io/service-name") == wanted

    if query.get("watch") in ("true", "1"):
        handler.stream(lambda: _watch(server, ns, mine, query))
        return
    with server.lock:
        items = [v for (n, _), v in sorted(server.state.slices.items()) if n == ns and mine(v)]
        version = server.state.version
    handler.send_json(200, {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSliceList",
                            "metadata": {"resourceVersion": str(version)}, "items": items})


def _watch(server: FakeApiServer, ns: str, mine: Any, query: dict[str, str]
           ) -> Iterator[dict[str, Any]]:
    since = int(query.get("resourceVersion") or 0)
    deadline = time.monotonic() + float(query.get("timeoutSeconds") or 30)
    with server.lock:
        if since and since < server.state.compacted_below:
            yield {"type": "ERROR", "object": _status(410, "Expired", "too old resource "
                                                      "version")}
            return
    while time.monotonic() < deadline:
        with server.lock:
            fresh = [(v, k, o) for v, k, o in server.state.slice_log
                     if v > since and o["metadata"]["namespace"] == ns and mine(o)]
            if not fresh:
                server.lock.wait(min(deadline - time.monotonic(), 0.5))
                continue
        for version, kind, obj in fresh:
            since = version
            yield {"type": kind, "object": obj}
    if query.get("allowWatchBookmarks") in ("true", "1"):
        yield {"type": "BOOKMARK", "object": {"kind": "EndpointSlice", "apiVersion":
               "discovery.k8s.io/v1", "metadata": {"resourceVersion": str(since)}}}


def _leases(server: FakeApiServer, handler: Any, method: str, groups: dict[str, str],
            query: dict[str, str], body: Any) -> None:
    ns, name = groups["ns"], groups.get("name") or (body or {}).get("metadata", {}).get("name")
    key = (ns, name or "")
    with server.lock:
        stored = server.state.leases.get(key)
        if method == "GET":
            if stored is None:
                handler.send_json(404, _status(404, "NotFound", f'leases "{name}" not found'))
            else:
                handler.send_json(200, stored)
            return
        if method == "POST" and stored is not None:
            handler.send_json(409, _status(409, "AlreadyExists", f'leases "{name}" exists'))
            return
        if method == "PUT" and (stored is None or body["metadata"].get("resourceVersion")
                                != stored["metadata"]["resourceVersion"]):
            handler.send_json(409, _status(409, "Conflict", "the object has been modified"))
            return
        body["metadata"]["resourceVersion"] = str(server._bump())
        body["metadata"]["namespace"] = ns
        body.setdefault("apiVersion", "coordination.k8s.io/v1")
        body.setdefault("kind", "Lease")
        server.state.leases[key] = body
    handler.send_json(201 if method == "POST" else 200, body)


def _events(server: FakeApiServer, handler: Any, method: str, groups: dict[str, str],
            query: dict[str, str], body: Any) -> None:
    with server.lock:
        server.state.events.append(body)
    handler.send_json(201, body)


def _hpas(server: FakeApiServer, handler: Any, method: str, groups: dict[str, str],
          query: dict[str, str], body: Any) -> None:
    with server.lock:
        items = list(server.state.hpas.get(groups["ns"], []))
    handler.send_json(200, {"apiVersion": "autoscaling/v2",
                            "kind": "HorizontalPodAutoscalerList", "metadata": {},
                            "items": items})


def _isvc(server: FakeApiServer, handler: Any, method: str, groups: dict[str, str],
          query: dict[str, str], body: Any) -> None:
    with server.lock:
        found = server.state.isvcs.get((groups["ns"], groups["name"]))
    if found is None:
        handler.send_json(404, _status(404, "NotFound", "inferenceservice not found"))
    else:
        handler.send_json(200, found)


def _pods(server: FakeApiServer, handler: Any, method: str, groups: dict[str, str],
          query: dict[str, str], body: Any) -> None:
    key = (groups["ns"], groups["name"])
    with server.lock:
        current = server.state.pod_annotations.setdefault(key, {})
        if method == "PATCH":
            for k, v in ((body or {}).get("metadata", {}).get("annotations") or {}).items():
                if v is None:
                    current.pop(k, None)
                else:
                    current[k] = v
        answer = {"apiVersion": "v1", "kind": "Pod",
                  "metadata": {"name": key[1], "namespace": key[0],
                               "annotations": dict(current)}}
    handler.send_json(200, answer)


from tests.kubernetes.controller.fake_apiserver import Write  # noqa: E402
