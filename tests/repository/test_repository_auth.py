"""With API keys on, loading and unloading models takes the admin role; reading does not."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import start_server


def _create(keys: Path, key_id: str, role: str) -> str:
    done = subprocess.run([sys.executable, "-m", "ebb.cli", "keys", "create", "--file",
                           str(keys), "--id", key_id, "--role", role],
                          capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.strip()


def test_load_and_unload_need_the_admin_role(tmp_path: Path) -> None:
    keys = tmp_path / "keys.toml"
    admin, user = _create(keys, "ops", "admin"), _create(keys, "app", "infer")
    server = start_server(tmp_path, "builtin:double", "--auth-keys-file", str(keys))
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            def post(path: str, key: str | None) -> httpx.Response:
                headers = {"Authorization": f"Bearer {key}"} if key else {}
                return http.post(path, headers=headers)

            assert post("/v2/repository/models/double/unload", None).status_code == 401
            refused = post("/v2/repository/models/double/unload", user)
            assert refused.status_code == 403
            assert "'admin'" in refused.json()["error"]
            assert post("/v2/repository/index", user).status_code == 403
            assert http.get("/v2/models/double/config",
                            headers={"Authorization": f"Bearer {user}"}).status_code == 200
            assert post("/v2/repository/models/double/unload", admin).status_code == 200
            assert post("/v2/repository/models/double/load", admin).status_code == 200
    finally:
        server.stop()
