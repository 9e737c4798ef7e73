"""``ebb serve --prometheus``: Debian's Prometheus beside the server, for as long as it runs.

It scrapes the server every second with Ebb's rules loaded, listens on 9090 when that port is
free (where people look first), and leaves nothing behind: its data and the exported rules
live in temporary directories removed when the server stops.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from ebb.deploy.prometheus import LocalPrometheus
from ebb.deploy.rules import export_rules
from ebb.deploy.scrape_auth import pinned_tls, write_token

if TYPE_CHECKING:
    from ebb.config import ServeSettings

PROMETHEUS_PORT = 9090


class ServePrometheus:
    """Started after the server's ports are bound; ``start`` returns the banner's lines."""

    def __init__(self, settings: ServeSettings, scrape_secret: str | None = None) -> None:
        self._settings = settings
        self._scrape_secret = scrape_secret
        """An observe key's secret, when the server has API keys (``Security``'s in-memory one)."""
        self._prometheus: LocalPrometheus | None = None
        self._rules_dir: Path | None = None

    def start(self, http_port: int) -> list[str]:
        """Start Prometheus when asked; lines for the banner (empty when not asked)."""
        settings = self._settings
        if not settings.prometheus:
            return []
        if settings.tls_client_ca_file:
            return ["Prometheus not started: this server requires client certificates "
                    "(see `ebb prometheus-config --scheme https`)"]
        host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
        target = f"[{host}]" if ":" in host else host
        self._rules_dir = Path(tempfile.mkdtemp(prefix="ebb-rules-"))
        rules = export_rules(self._rules_dir)
        # With TLS it trusts the server's own certificate; with keys it sends the observe key
        # (ebb.deploy.scrape_auth), kept beside the rules in the private temporary directory.
        tls = pinned_tls(settings.tls_cert_file, host) if settings.tls_cert_file else None
        token = (write_token(self._rules_dir, self._scrape_secret)
                 if self._scrape_secret is not None else None)
        self._prometheus = LocalPrometheus([f"{target}:{http_port}"], rule_files=[rules],
                                           tls=tls, preferred_port=PROMETHEUS_PORT,
                                           bearer_token_file=token)
        self._prometheus.start()
        return [f"Prometheus {self._prometheus.url} (scraping every 1 s, Ebb's rules loaded)"]

    def stop(self) -> None:
        if self._prometheus is not None:
            self._prometheus.stop()
            self._prometheus = None
        if self._rules_dir is not None:
            shutil.rmtree(self._rules_dir, ignore_errors=True)
            self._rules_dir = None

    @property
    def rules_dir(self) -> Path | None:
        return self._rules_dir
