"""The README's commands run as written, in order, after `make run` (issue 14, rough edge 3).

The test plays a new user: the server `make run` starts (``ebb serve`` with the Makefile's
RUN_FLAGS) serves in one terminal, and every ``sh`` block's commands are pasted, in order, in
another whose working directory is a fresh folder holding the repository's ``src`` (so relative
paths such as the shipped trace resolve, and outputs land in the folder). Substitutions, none of
which changes what a command does: the fixed ports become the ports the test's servers got
(tests bind port 0), and ``ebb load --duration`` is cut to a few seconds. An ``ebb serve`` line
(each on ports 8090/8091, beside ``make run``'s) keeps running, as in a third terminal, until
the next one starts. Only the commands in SKIPPED do not run, each with its reason.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import RunningServer, start_server

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SKIPPED = {
    "make run": "the setup itself: the test starts the same server (ebb serve + RUN_FLAGS)",
    "make test": "runs this whole suite",
}
LOAD_SECONDS = "2"
_PORTS = re.compile(r"(127\.0\.0\.1|localhost):(8080|8081|8090|8091)\b")


def shell_commands(markdown: str) -> list[str]:
    """Each command of each ``sh`` block: continuations joined, a quoted string that spans
    lines kept whole, comments dropped."""
    commands: list[str] = []
    for block in re.findall(r"^```sh\n(.*?)^```", markdown, flags=re.S | re.M):
        pending, quote = "", ""
        for line in block.replace("\\\n", " ").splitlines():
            text, quote = _without_comment(line, quote)
            pending = f"{pending}\n{text}" if pending else text.strip()
            if not quote and pending:
                commands.append(pending if "\n" in pending else re.sub(r"\s+", " ", pending))
                pending = ""
    return commands


def _without_comment(line: str, quote: str = "") -> tuple[str, str]:
    """The line without its comment, and the quote still open at its end ("" if none)."""
    for index, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index].rstrip(), ""
    return line, quote


def readme_banner(markdown: str) -> str:
    """The start-up banner shown under Quick start."""
    found = re.search(r"^```\n(Ebb \S+ serving:\n.*?)^```", markdown, flags=re.S | re.M)
    assert found, "README shows no banner"
    return found.group(1).rstrip("\n")


def run_flags() -> list[str]:
    found = re.search(r"^RUN_FLAGS := (.*)$", (ROOT / "Makefile").read_text(), flags=re.M)
    assert found, "Makefile has no RUN_FLAGS"
    return found.group(1).split()


class Session:
    """A user's terminals: the `make run` server, the latest extra server, and a shell."""

    def __init__(self, home: Path, main: RunningServer) -> None:
        self.home = home
        self.main = main
        self.extra: RunningServer | None = None
        bin_dir = str(Path(sys.executable).parent)
        self.env = {**os.environ, "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}",
                    "EBB_CACHE_DIR": str(home / "cache")}

    def ports(self, command: str) -> str:
        extra = self.extra
        mapping = {"8080": self.main.http_port, "8081": self.main.grpc_port,
                   "8090": extra.http_port if extra else 8090,
                   "8091": extra.grpc_port if extra else 8091}
        return _PORTS.sub(lambda m: f"{m.group(1)}:{mapping[m.group(2)]}", command)

    def serve(self, command: str) -> None:
        assert "--http-port 8090 --grpc-port 8091" in command, (
            f"a second server beside make run's needs its own ports: {command}")
        self.stop_extra()
        args = shlex.split(command.replace("--http-port 8090 --grpc-port 8091", ""))[2:]
        self.extra = start_server(self.home, *args, env={"EBB_CACHE_DIR": self.env[
            "EBB_CACHE_DIR"]}, cwd=self.home)

    def stop_extra(self) -> None:
        if self.extra is not None:
            assert self.extra.stop() == 0, self.extra.log()
            self.extra = None

    def run(self, command: str) -> str:
        assignment = re.fullmatch(r"(\w+)=\$\((.*)\)", command)
        shell = assignment.group(2) if assignment else command
        shell = re.sub(r"(^ebb load .*--duration )\d+", rf"\g<1>{LOAD_SECONDS}", shell)
        result = subprocess.run(["bash", "-c", self.ports(shell)], cwd=self.home, env=self.env,
                                capture_output=True, text=True, timeout=180)
        assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
        if assignment:
            self.env[assignment.group(1)] = result.stdout.strip()
        return result.stdout


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    (tmp_path / "src").symlink_to(ROOT / "src")
    main = start_server(tmp_path, *run_flags(), env={"EBB_CACHE_DIR": str(tmp_path / "cache")})
    user = Session(tmp_path, main)
    try:
        yield user
    finally:
        user.stop_extra()
        assert main.stop() == 0, main.log()


def test_readme_lists_commands_and_skips_only_the_named_ones() -> None:
    commands = shell_commands(README.read_text())
    assert len(commands) > 20
    assert all(skipped in commands for skipped in SKIPPED)
    assert ". .venv/bin/activate" in commands
    assert not any("../shared" in command for command in commands)
    makefile = (ROOT / "Makefile").read_text()
    run_install = makefile[makefile.index("$(BIN)/ebb: pyproject.toml"):]
    assert "pip install -q -e '.[plots]'" in run_install.split("\n\n")[0]  # --plot works
    assert ". .venv/bin/activate" in makefile  # make run says how to get ebb on PATH


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_every_readme_command_runs_in_order_after_make_run(session: Session) -> None:
    ran = []
    for command in shell_commands(README.read_text()):
        if command in SKIPPED:
            continue
        if command.startswith(". "):  # the venv make run made; here: this interpreter's
            assert command == ". .venv/bin/activate"
            assert "VENV := .venv" in (ROOT / "Makefile").read_text()
            continue
        if command.startswith("ebb serve"):
            session.serve(command)
        else:
            output = session.run(command)
            assert '"error"' not in output, f"{command}\n{output}"
        ran.append(command)
    assert (session.home / "run.png").stat().st_size > 0  # the plots extra is installed
    assert (session.home / "sim" / "report.html").exists()
    assert len(ran) >= 20


def test_readme_banner_is_the_real_one_and_its_examples_answer(session: Session) -> None:
    from ebb import __version__
    from ebb.banner import banner
    from ebb.config import load_settings
    from ebb.runtime.loaders import resolve

    settings = load_settings({"min_workers": 1, "max_workers": 4})
    shown = readme_banner(README.read_text())
    assert shown == banner(__version__, [resolve(None).describe()], settings, 8080, 8081)
    curls = [line.strip() for line in shown.splitlines() if line.strip().startswith("curl ")]
    healthy, anomalous = (httpx.Response(200, content=session.run(curl)).json()
                          for curl in curls)
    assert [o["data"] for o in healthy["outputs"] if o["name"] == "is_anomaly"] == [[False]]
    assert [o["data"] for o in anomalous["outputs"] if o["name"] == "is_anomaly"] == [[True]]
    assert "tritonclient" not in shown  # make run does not install it
