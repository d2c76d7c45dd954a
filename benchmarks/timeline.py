"""Where a ``loom-scim sync users`` spends its wall time, from exec to exit, by phase.

The CLI runs in a child process (``_child``) that stamps the time at each step: the
interpreter up (its first line), the CLI imported, then, by wrapping the functions and
methods that mark a step, the connection read, the manifest loaded, the store opened,
the URL discovered, the workspace checked, the run begun, the first request, the walk,
the deletion phase (candidates, confirmation, finish), the close, the process's exit.
Nothing in the connector knows about it: the wrappers are put in place by name, in
every module that imported the function, so the same script times any version of the
package (``PYTHONPATH=/tmp/old`` times an older copy). The child's CPU seconds and peak
RSS come from ``wait4``; ``-X importtime`` runs once more for the import totals.

    .venv/bin/python benchmarks/timeline.py URL [--repeat 5] [--store-dir DIR]
"""

from __future__ import annotations

import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
STEPS = [
    ("exec", "python up"),
    ("up", "imports (CLI)"),
    ("imported", "arguments, connection"),
    ("connected", "manifest"),
    ("manifest", "store open"),
    ("store", "discover, workspace check"),
    ("workspace", "begin run"),
    ("begun", "first page (network)"),
    ("first_page", "rest of the walk"),
    ("walked", "deletion phase, finish"),
    ("finished", "close, summary"),
    ("closed", "return to main"),
    ("returned", "exit (interpreter)"),
    ("exit", ""),
]


def _child(argv: list[str], stamps_path: str) -> None:
    stamps: dict[str, float] = {"up": time.time()}

    def stamp(name: str) -> None:
        stamps.setdefault(name, time.time())

    import loom_scim_connector.cli as cli
    from loom_scim_connector.cli import _commands

    stamps["imported"] = time.time()

    def wrap_everywhere(module_name: str, name: str, after: str) -> None:
        """Wrap ``module.name`` in every loaded module that holds it (imported by name)."""
        __import__(module_name)
        original = getattr(sys.modules[module_name], name)
        is_async = getattr(original, "__code__", None) and original.__code__.co_flags & 0x80

        if is_async:

            async def wrapper(*args: Any, **kwargs: Any) -> Any:
                result = await original(*args, **kwargs)
                stamp(after)
                return result
        else:

            def wrapper(*args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
                result = original(*args, **kwargs)
                stamp(after)
                return result

        for module in list(sys.modules.values()):
            if getattr(module, name, None) is original:
                setattr(module, name, wrapper)

    def wrap_method(cls: type, name: str, after: str, before: str | None = None) -> None:
        original = getattr(cls, name)

        async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            if before:
                stamp(before)
            result = await original(self, *args, **kwargs)
            stamp(after)
            return result

        setattr(cls, name, wrapper)

    wrap_everywhere("loom_scim_connector.cli._connect", "connect", "connected")
    wrap_everywhere("loom_scim_connector.manifest", "load_manifest", "manifest")
    wrap_everywhere("loom_scim_connector.host.local", "open_store", "store")
    wrap_everywhere("loom_scim_connector.host.workspace", "ensure_workspace", "workspace")
    from loom_scim_connector.client import LoomScimClient
    from loom_scim_connector.host.local import LocalHost
    from loom_scim_connector.host.syncrun import SyncRun

    wrap_method(LocalHost, "_begin", "begun")
    wrap_method(LoomScimClient, "list_page", "first_page")
    wrap_method(SyncRun, "_walk", "walked")
    wrap_method(SyncRun, "execute", "finished")
    original_run = _commands._sync

    async def sync(*args: Any, **kwargs: Any) -> Any:
        try:
            return await original_run(*args, **kwargs)
        finally:
            stamp("closed")

    _commands._sync = sync
    original_main_run = cli.run

    def run(*args: Any, **kwargs: Any) -> int:
        code = original_main_run(*args, **kwargs)
        Path(stamps_path).write_text(json.dumps({**stamps, "returned": time.time()}))
        return code

    cli.run = run
    sys.argv = ["loom-scim", *argv]
    cli.main()  # as the console script does, its exit included


def run_once(cmd: list[str], env: dict[str, str]) -> tuple[dict[str, float], float, float]:
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        env = {**env, "TIMELINE_STAMPS": f.name}
        started = time.time()
        proc = subprocess.Popen(  # noqa: S603
            [sys.executable, str(HERE), "_child", *cmd],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        ended = time.time()
        if os.waitstatus_to_exitcode(status) != 0:
            assert proc.stderr is not None
            raise SystemExit(proc.stderr.read().decode())
        stamps = json.loads(Path(f.name).read_text())
    stamps["exec"], stamps["exit"] = started, ended
    return stamps, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        _child(sys.argv[2:], os.environ["TIMELINE_STAMPS"])
        return
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    env = {**os.environ, "LOOM_SCIM_BRIDGE_URL": args.url, "LOOM_SCIM_API_KEY": "bench-key"}
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.repeat):
            store = str(Path(tmp) / f"s{n}.sqlite3")
            runs.append(run_once(["sync", "users", "--store", store, "--page-size", "100"], env))
    print(f"== loom-scim sync users, timeline, median of {args.repeat} (ms from exec)")
    for (name, label), (nxt, _) in itertools.pairwise(STEPS):
        spans = [(r[0][nxt] - r[0][name]) * 1000 for r in runs if name in r[0] and nxt in r[0]]
        if spans:
            print(f"  {label:<28} {statistics.median(spans):>8.1f} ms")
    total = statistics.median((r[0]["exit"] - r[0]["exec"]) for r in runs)
    cpu = statistics.median(r[1] for r in runs)
    rss = statistics.median(r[2] for r in runs)
    print(f"  {'total':<28} {total * 1000:>8.1f} ms; CPU {cpu:.2f} s; peak RSS {rss:.1f} MiB")
    with tempfile.TemporaryDirectory() as tmp:  # the same sync once more, its imports
        command = ["sync", "users", "--store", str(Path(tmp) / "i.sqlite3"), "--page-size", "100"]
        err = subprocess.run(  # noqa: S603 (in tmp: -m must not find ./loom_scim_connector)
            [sys.executable, "-X", "importtime", "-m", "loom_scim_connector", *command],
            capture_output=True,
            text=True,
            check=True,
            env=env,
            cwd=tmp,
        ).stderr.splitlines()
    lines = [line for line in err if line.startswith("import time:") and "|" in line]
    own = sum(int(line.split("|")[0].split(":")[1]) for line in lines[1:])
    print(f"  -X importtime: {len(lines) - 1} modules, {own / 1000:.0f} ms (self times summed)")


if __name__ == "__main__":
    main()
