"""The README's sample output is what the commands print today (see readme_samples.py)."""

from __future__ import annotations

from .readme_samples import README, render, samples


def test_the_readme_samples_are_not_stale() -> None:
    current = README.read_text()
    fresh = render(current, samples())
    assert fresh == current, "the README's sample output is stale: run `make docs`"


def test_the_quick_start_comes_first_and_is_short() -> None:
    text = README.read_text()
    start = text.index("## Quick start")
    end = text.index("\n## ", start + 1)
    assert start < text.index("## Configure a connection")
    samples_lines = sum(block.count("\n") for block in samples().values())
    assert text[start:end].count("\n") - samples_lines <= 75


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
