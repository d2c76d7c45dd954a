"""Where the connector's time goes: a cProfile of one ``loom-scim sync users``, its
functions' own time (``tottime``) grouped into phases by where they live.

cProfile slows Python code more than C code, so only the *shares* are read from it; the
bench multiplies them by the unprofiled run's CPU seconds. A built-in (``from_json``,
``executemany``...) counts for the phase of the caller that spent most time in it. It
profiles the main thread only: with GETs on worker threads, their socket time is not
here (it overlaps the rest), and what the main thread waits for is not counted.
"""

from __future__ import annotations

import pstats

# (phase, substrings of the file or function name), the first that matches wins.
RULES: list[tuple[str, tuple[str, ...]]] = [
    (
        "start-up (imports, manifest, TLS)",
        ("<frozen importlib", "builtins.compile", "marshal", "<module>", "yaml/", "_ssl."),
    ),
    ("output (JSON lines)", ("cli/_output.py", "cli/_commands.py", "cli/_progress.py", "_io.")),
    ("SQLite save", ("store/", "sqlite3")),
    ("encode (JSON once)", ("host/context.py:", "store/base.py")),
    ("read + validate records", ("models/", "<reader of", "pydantic/", "validate_python")),
    ("pagination (cursor, ids)", ("pagination/",)),
    ("parse pages (JSON)", ("_exchange.py", "json/")),
    ("retry loop (tenacity)", ("tenacity/", "retry.py")),
    (
        "HTTP client",
        ("httpx/", "httpcore/", "h11/", "anyio/", "sniffio/", "_threaded.py", "_request.py"),
    ),
    ("event loop (asyncio)", ("asyncio/", "selectors", "select.", "socket", "_thread.")),
    ("sync loop and host", ("syncs/", "host/", "client.py", "contract.py")),
]


def _name(key: tuple[str, int, str]) -> str:
    filename, _, function = key
    return f"{filename}:{function}" if filename != "~" else function


def _phase(name: str) -> str | None:
    for phase, marks in RULES:
        if any(mark in name for mark in marks):
            return phase
    return None


def phases(profile: str) -> dict[str, float]:
    """Each phase's share (0..1) of the profiled time."""
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    totals: dict[str, float] = {}
    for key, (_, _, tottime, _, callers) in stats.items():
        name = _name(key)
        phase = _phase(name) if key[0] != "~" else None
        if phase is None and key[0] == "~" and callers:
            # a built-in: the phase of the caller that spent most time in it
            top = max(callers.items(), key=lambda item: item[1][2])[0]
            phase = _phase(_name(top)) or _phase(name)
        totals[phase or "other"] = totals.get(phase or "other", 0.0) + tottime
    whole = sum(totals.values()) or 1.0
    return {k: v / whole for k, v in sorted(totals.items(), key=lambda kv: -kv[1])}
