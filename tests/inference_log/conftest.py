"""Fixtures: a session-wide throw-away PostgreSQL cluster, and a fresh database per test for
either engine (``log_db`` is parametrised over SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import pwd
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.inference_log._postgres import (
    PostgresCluster,
    create_cluster,
    destroy_cluster,
    postgres_bin,
)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    if postgres_bin() is None:
        pytest.skip("PostgreSQL binaries absent (/usr/lib/postgresql/*/bin/initdb): "
                    "apt-get install postgresql, or run `make test`, which installs it")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail("running as root, and no 'postgres' system user to run the cluster as "
                        "(Debian's postgresql package creates it: reinstall it)")
    cluster = create_cluster()
    yield cluster
    destroy_cluster(cluster)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def log_url(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """An empty database of ``engine``, as an ``--inference-log`` URL."""
    if engine == "sqlite":
        return f"sqlite:///{tmp_path / 'log.db'}"
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    return cluster.new_database()
