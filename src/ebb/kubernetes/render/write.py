"""The edge of the renderer: documents to YAML text, and files into a directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ebb import __version__
from ebb.kubernetes.render.bundle import ManifestFile

MARK = "# Rendered by `ebb k8s render`"
HEADER = f"{MARK} (Ebb {__version__}): change the flags and render again rather than editing.\n"


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (PromQL, dashboards, adapter config) as literal blocks."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def to_yaml(documents: tuple[dict[str, Any], ...]) -> str:
    """The documents as one multi-document YAML text, keys in the order they were built."""
    return HEADER + yaml.dump_all(documents, Dumper=_Dumper, sort_keys=False, width=10_000,
                                  explicit_start=True)


def write_bundle(out_dir: Path, files: list[ManifestFile]) -> list[Path]:
    """Write every file into ``out_dir`` (created if missing); returns the paths written.

    Files an earlier render left there that this one does not write (``hpa.yaml`` after
    switching to KEDA) are removed, so the directory holds one consistent bundle; files
    without the renderer's header are never touched."""
    out_dir.mkdir(parents=True, exist_ok=True)
    wanted = {manifest.name for manifest in files}
    for stale in sorted(out_dir.glob("*.yaml")):
        if stale.name not in wanted and _rendered_by_us(stale):
            stale.unlink()
    paths = []
    for manifest in files:
        path = out_dir / manifest.name
        path.write_text(to_yaml(manifest.documents))
        paths.append(path)
    return paths


def _rendered_by_us(path: Path) -> bool:
    try:
        with path.open() as handle:
            return handle.readline().startswith(MARK)
    except (OSError, UnicodeDecodeError):
        return False
