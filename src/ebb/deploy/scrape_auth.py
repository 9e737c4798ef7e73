"""How the Prometheus of ``ebb serve --prometheus`` gets into a server with TLS or API keys.

    tls = pinned_tls(settings.tls_cert_file, "127.0.0.1")
    token = write_token(private_dir, server.security.grant_local_observer())

TLS: the scrape trusts the server's own certificate file and nothing else (Prometheus, like
any Go client, accepts a certificate found as such among its CAs), under a name the certificate
holds; Prometheus re-reads the file when it changes, so rotation in place keeps working. Keys:
the server makes itself an in-memory observe key; its secret goes to a file only the user can
read, in a temporary directory removed when the server stops.
"""

from __future__ import annotations

import os
from pathlib import Path

from ebb.deploy.prometheus import ScrapeTls
from ebb.security.tls import certificate_names

TOKEN_FILE = "scrape-key"


def pinned_tls(cert_file: Path, host: str) -> ScrapeTls:
    """Verify the server against its own certificate, named as the certificate names it (the
    scrape's ``host`` when listed). A certificate without subjectAltName cannot be verified by
    name at all: that one alone is scraped unverified (it is this process, over loopback)."""
    names = certificate_names(cert_file)
    if not names:
        return ScrapeTls(insecure_skip_verify=True)
    return ScrapeTls(ca_file=cert_file.resolve(),
                     server_name=None if host in names else names[0])


def write_token(directory: Path, secret: str) -> Path:
    """The secret in ``directory`` (which must exist and be private), readable by its owner
    alone from the moment it exists."""
    path = directory / TOKEN_FILE
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(secret)
    return path
