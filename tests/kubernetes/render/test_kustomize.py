"""``kubectl kustomize DIR`` builds every rendered directory into exactly the rendered objects,
so ``kubectl apply -k DIR`` applies them all (no cluster needed to build). kubectl comes from
the machine or Debian's ``kubernetes-client`` (``make deps-system`` installs it)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.kubernetes.render.cases import CASES, objects


def _kubectl() -> str:
    path = shutil.which("kubectl")
    if path is None:
        pytest.skip("kubectl is missing: apt-get install kubernetes-client (make deps-system)")
    return path


@pytest.mark.parametrize("case", sorted(CASES))
def test_kubectl_kustomize_builds_every_object(case: str,
                                               rendered: dict[str, list[Path]]) -> None:
    directory = rendered[case][0].parent
    result = subprocess.run([_kubectl(), "kustomize", str(directory)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    built = [doc for doc in yaml.safe_load_all(result.stdout) if doc]

    def key(doc: dict[str, object]) -> tuple[str, str]:
        meta = doc["metadata"]
        assert isinstance(meta, dict)
        return str(doc["kind"]), str(meta["name"])

    assert sorted(map(key, built)) == sorted(map(key, objects(rendered[case])))
