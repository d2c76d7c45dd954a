"""The README's sample output is what the commands print today (see readme_samples.py),
and every block in it that shows a command's output is one of those samples."""

from __future__ import annotations

import re
from functools import cache

import pytest

from .readme_samples import BLOCK, README, render, samples

FENCE = re.compile(
    r"^(?P<indent>[ ]*)```(?P<lang>[\w-]*)\n(?P<body>.*?)^(?P=indent)```$", re.S | re.M
)
OUTPUT_LANGS = {"console", "shell-session", "output"}  # a language that says "output"


@cache
def fresh_samples() -> dict[str, str]:
    return samples()  # about 6 s: made once for the tests below


def test_the_readme_samples_are_not_stale() -> None:
    current = README.read_text()
    fresh = render(current, fresh_samples())
    assert fresh == current, "the README's sample output is stale: run `make docs`"


def shows_output(lang: str, body: str) -> bool:
    """A block that shows what a command printed: typed commands (``$ ...``), a
    language that says so, or the CLI's own lines (``loom-scim: ...``)."""
    lines = [line.strip() for line in body.splitlines()]
    return (
        lang in OUTPUT_LANGS
        or any(line.startswith("$ ") for line in lines)
        or (lang in ("text", "") and any(line.startswith("loom-scim:") for line in lines))
    )


def unmade_output_blocks(readme: str) -> list[str]:
    """The first line of each block that shows command output but no scenario makes."""
    made = [m.span("body") for m in BLOCK.finditer(readme)]
    return [
        fence.group("body").splitlines()[0].strip()
        for fence in FENCE.finditer(readme)
        if shows_output(fence.group("lang"), fence.group("body"))
        and not any(start <= fence.start("body") < end for start, end in made)
    ]


def test_every_block_of_command_output_is_a_generated_sample() -> None:
    unmade = unmade_output_blocks(README.read_text())
    assert unmade == [], (
        "README blocks that show command output must be made by tests/readme_samples.py "
        f"(mark them <!-- sample: NAME --> and add a scenario): {unmade}"
    )


def test_every_sample_marker_is_a_block_the_generator_fills() -> None:
    text = README.read_text()
    names = re.findall(r"<!-- sample: (\S+) -->", text)
    assert len(names) == len(set(names)), "two README samples share a name"
    assert [m.group("name") for m in BLOCK.finditer(text)] == names  # none skipped
    assert set(names) == set(fresh_samples()), (
        "a sample is made but not shown, or shown but not made"
    )


def test_the_output_check_sees_what_it_must() -> None:
    unmarked = (
        "```text\n$ loom-scim check\nOK\n```\n"
        "   ```text\n   loom-scim: error: bad\n   ```\n"
        "```console\nanything\n```\n"
        "```sh\nmake test\n```\n"
        "```toml\ndefault = 1\n```\n"
    )
    assert unmade_output_blocks(unmarked) == [
        "$ loom-scim check",
        "loom-scim: error: bad",
        "anything",
    ]
    marked = "<!-- sample: x -->\n```text\n$ loom-scim check\n```\n<!-- /sample -->\n"
    assert unmade_output_blocks(marked) == []
    with pytest.raises(KeyError, match="no scenario"):
        render(marked, {})


def test_the_quick_start_comes_first_and_is_short() -> None:
    text = README.read_text()
    start = text.index("## Quick start")
    end = text.index("\n## ", start + 1)
    assert start < text.index("## Configure a connection")
    shown = "".join(m.group("body") for m in BLOCK.finditer(text[start:end]))
    assert text[start:end].count("\n") - shown.count("\n") <= 75


def test_make_help_lists_every_target() -> None:
    import re
    import shutil
    import subprocess

    import pytest

    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    root = README.parent
    run = subprocess.run  # the project's own Makefile
    shown = run([make, "-s", "help"], cwd=root, capture_output=True, text=True, check=True).stdout
    phony = re.search(r"^\.PHONY: (.*)$", (root / "Makefile").read_text(), re.M)
    assert phony is not None
    for target in phony.group(1).split():
        assert f"make {target} " in shown, target
