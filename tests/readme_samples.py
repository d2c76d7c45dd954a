"""The README's sample output, made by running the commands it shows, so it cannot go
stale: `make docs` rewrites each block between ``<!-- sample: NAME -->`` and
``<!-- /sample -->``; tests/test_readme.py fails when a block differs from a fresh run,
and when a block that shows command output is not one of these.

Each block is exactly what its commands print on a terminal, stdout and stderr in the
order they were written, with nothing trimmed or rewritten afterwards. What would change
from run to run is fixed before the commands run, not cleaned up after:

- the clock is stopped at ``STOPPED`` (the sandbox's, the store's, the review's; a
  sync's duration reads 0.00 s);
- ids come from the sandbox's seed;
- the sandbox listens on a free port, and the connector's requests to
  ``http://127.0.0.1:8700`` (the quick start's URL) are sent there;
- each scenario runs in a fresh folder of its own, where ``tests/data`` is this
  repository's, and no connections file is read.

A command line is run as a shell would: ``loom-scim ...`` in-process, each ``| filter``
as a real process reading its stdout, and any other line (``head``, ``printf``) by
``/bin/sh``. The walk-throughs themselves are in ``readme_walkthrough.py``.

    .venv/bin/python -m tests.readme_samples --write
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import httpx

from loom_scim_connector.cli import run
from loom_scim_connector.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PORT = 8700
URL = f"http://127.0.0.1:{PORT}/scim/v2"
TOKEN = "demo-token-0123456789"
STOPPED = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
BLOCK = re.compile(
    r"^(?P<indent>[ ]*)(?P<open><!-- sample: (?P<name>\S+) -->\n[ ]*```text\n)"
    r"(?P<body>.*?)"
    r"(?P<close>^[ ]*```\n[ ]*<!-- /sample -->)",
    re.S | re.M,
)


class _StoppedDatetime(datetime):
    @classmethod
    def now(cls, tz: Any = None) -> Any:
        return STOPPED if tz is not None else STOPPED.replace(tzinfo=None)


class _StoppedDate(date):
    @classmethod
    def today(cls) -> Any:
        return STOPPED.date()


@contextlib.contextmanager
def stopped_clock() -> Iterator[None]:
    """Every clock whose reading a command prints, stopped at ``STOPPED``. A module that
    reads the time and is not here makes the stale-sample test fail: add it here."""
    stopped_time = types.SimpleNamespace(perf_counter=lambda: 0.0, monotonic=time.monotonic)
    with contextlib.ExitStack() as stack:
        for target, value in (
            ("loom_scim_connector.host.local.time", stopped_time),
            ("loom_scim_connector.store._owner.datetime", _StoppedDatetime),
            ("loom_scim_connector.audit.review.datetime", _StoppedDatetime),
            ("loom_scim_connector.cli._offboard.date", _StoppedDate),
            ("loom_scim_connector.cli._commands.date", _StoppedDate),
            ("loom_scim_connector.config.date", _StoppedDate),
        ):
            stack.enter_context(mock.patch(target, value))
        yield


@contextlib.contextmanager
def forwarded(sandbox: Sandbox) -> Iterator[None]:
    """The connector's requests to 127.0.0.1:8700 go to the sandbox's real port (the URL,
    the Host header and everything the connector prints keep 8700)."""
    send = httpx.AsyncHTTPTransport.handle_async_request
    send_sync = httpx.HTTPTransport.handle_request

    def redirect(request: httpx.Request) -> None:
        if request.url.host == "127.0.0.1" and request.url.port == PORT:
            request.url = request.url.copy_with(port=sandbox.port)

    async def to_sandbox(
        transport: httpx.AsyncHTTPTransport, request: httpx.Request
    ) -> httpx.Response:
        redirect(request)
        return await send(transport, request)

    def to_sandbox_sync(transport: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        redirect(request)  # GETs go through httpx's sync client on worker threads
        return send_sync(transport, request)

    with (
        mock.patch.object(httpx.AsyncHTTPTransport, "handle_async_request", to_sandbox),
        mock.patch.object(httpx.HTTPTransport, "handle_request", to_sandbox_sync),
    ):
        yield


class _Terminal(io.StringIO):
    """One of a command's streams: what it writes is kept in order with the other's."""

    def __init__(self, name: str, log: list[tuple[str, str]]) -> None:
        super().__init__()
        self.name, self.log = name, log

    def write(self, text: str) -> int:
        self.log.append((self.name, text))
        return len(text)


class Shell:
    """A terminal in a fresh folder, the CLI pointed at the sandbox by the environment."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __call__(self, *lines: str, exit_code: int = 0) -> str:
        """The lines as typed (``$ line``) and what they print; the last line's exit code
        must be ``exit_code`` (the README's prose says it)."""
        shown: list[str] = []
        for number, line in enumerate(lines, 1):
            code, text = self._run(line)
            wanted = exit_code if number == len(lines) else 0
            if code != wanted:
                raise AssertionError(f"`{line}` exited {code}, not {wanted}:\n{text}")
            shown.append(f"$ {line}\n{text}")
        return "".join(shown)

    def output(self, line: str) -> str:
        """What ``line`` prints, not shown as typed; it must succeed."""
        code, text = self._run(line)
        if code != 0:
            raise AssertionError(f"`{line}` exited {code}:\n{text}")
        return text

    def _run(self, line: str) -> tuple[int, str]:
        command, *filters = line.split(" | ")
        command, _, redirect = command.partition(" > ")
        argv = shlex.split(command)
        if argv[0] != "loom-scim":
            done = subprocess.run(  # noqa: S603 (the README's own command lines)
                ["/bin/sh", "-c", line], cwd=self.folder, capture_output=True, text=True
            )
            return done.returncode, done.stderr + done.stdout
        log: list[tuple[str, str]] = []
        code = run(
            argv[1:],
            out=_Terminal("out", log),
            err=_Terminal("err", log),
            stdin=io.StringIO(""),
        )
        stdout = "".join(text for name, text in log if name == "out")
        if redirect:
            (self.folder / redirect).write_text(stdout)
            return code, "".join(text for name, text in log if name == "err")
        if not filters:
            return code, "".join(text for _, text in log)
        for each in filters:
            args = shlex.split(each)
            args[0] = sys.executable if args[0] == "python3" else args[0]
            stdout = subprocess.run(  # noqa: S603 (the README's own filters)
                args, input=stdout, capture_output=True, text=True, check=False
            ).stdout
        return code, _interleave(log, stdout)


def _interleave(log: list[tuple[str, str]], piped: str) -> str:
    """What a terminal shows of ``cmd 2>&1-to-terminal | filter``: the command's stderr as
    it was written; a line the filter passed on unchanged where the command wrote it; any
    other output of the filter (which may need all its input first) after everything."""
    left = piped.splitlines(True)
    shown: list[str] = []
    for name, text in log:
        if name == "err":
            shown.append(text)
            continue
        for line in text.splitlines(True):
            if left and line == left[0]:
                shown.append(left.pop(0))
    return "".join(shown + left)


@contextlib.contextmanager
def scenario(**sandbox_options: Any) -> Iterator[tuple[Sandbox, Shell]]:
    """A sandbox reached as the quick start's URL, and a shell in a fresh folder."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("LOOM_SCIM_")}
    with (
        Sandbox(token=TOKEN, clock=lambda: STOPPED, **sandbox_options) as sandbox,
        tempfile.TemporaryDirectory() as tmp,
        contextlib.chdir(tmp),
        forwarded(sandbox),
        stopped_clock(),
    ):
        (Path(tmp) / "tests").mkdir()
        (Path(tmp) / "tests" / "data").symlink_to(ROOT / "tests" / "data")
        for key in saved:
            del os.environ[key]
        os.environ.update(
            LOOM_SCIM_BRIDGE_URL=URL,
            LOOM_SCIM_API_KEY=TOKEN,
            LOOM_SCIM_CONFIG=str(Path(tmp) / "no-connections.toml"),
        )
        try:
            yield sandbox, Shell(Path(tmp))
        finally:
            for key in [k for k in os.environ if k.startswith("LOOM_SCIM_")]:
                del os.environ[key]
            os.environ.update(saved)


def samples() -> dict[str, str]:
    """Every sample block's text, by name."""
    from .readme_walkthrough import quick_start, reconcile_and_offboard

    return quick_start() | reconcile_and_offboard(README.read_text())


def render(readme: str, found: dict[str, str]) -> str:
    """The README with each sample block's body replaced by its fresh text (indented as
    the block is). A block whose name no scenario makes is an error, not left as is."""

    def fill(match: re.Match[str]) -> str:
        name, indent = match.group("name"), match.group("indent")
        if name not in found:
            raise KeyError(f"README sample {name!r}: no scenario in tests/readme_walkthrough.py")
        body = "".join(
            indent + line if line.strip() else line for line in found[name].splitlines(True)
        )
        return indent + match.group("open") + body + match.group("close")

    return BLOCK.sub(fill, readme)


def main() -> int:
    current = README.read_text()
    fresh = render(current, samples())
    if "--write" in sys.argv:
        README.write_text(fresh)
        print("README samples regenerated")
        return 0
    print("up to date" if fresh == current else "stale: run make docs")
    return 0 if fresh == current else 1


if __name__ == "__main__":
    raise SystemExit(main())
