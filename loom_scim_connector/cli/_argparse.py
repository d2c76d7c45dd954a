"""argparse as the command line wants it: a usage error in one line, an unknown option
refused with the option it most looks like, and the value types options share."""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time
from typing import NoReturn

from ._exit import UsageError


def every_subparser(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every command's parser, nested ones (``fleet status``) included, each once."""
    found: list[argparse.ArgumentParser] = []
    for option in parser._actions:
        if isinstance(option, argparse._SubParsersAction):
            for child in option.choices.values():
                if all(child is not seen for seen in found):
                    found += [child, *every_subparser(child)]
    return found


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a whole number of at least 1, not {text!r}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def timestamp(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = datetime.combine(date.fromisoformat(text), time())
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be a date such as 2027-03-31 or 2027-03-31T09:00:00+00:00, not {text!r}"
            ) from None
    return parsed if parsed.tzinfo else parsed.astimezone()


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming the command and its --help, and an
    unknown option is refused by the command that does not know it, with the option it
    most looks like (``--dryrun``: did you mean ``--dry-run``?)."""

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(_unrecognized(extras, self._option_string_actions))
        return parsed, extras

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)")


def _unrecognized(extras: list[str], known: Iterable[str]) -> str:
    first = extras[0].split("=", 1)[0]
    if first.startswith("--"):
        options = sorted(option for option in known if option.startswith("--"))
        close = difflib.get_close_matches(first, options, n=1, cutoff=0.75)
        if close:
            return f"unknown option {first}: did you mean {close[0]}?"
    return f"unrecognized arguments: {' '.join(extras)}"
