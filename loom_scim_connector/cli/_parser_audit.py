"""The command line of the audit commands (reconcile, offboard, review): only argparse
here, so that building the parser imports none of what the commands run."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from loom_scim_connector._constants import DEFAULT_STORE, RECONCILE_MAX_CHANGES

from ._exit import EXIT_FAILURE, EXIT_FINDINGS, EXIT_NOT_FOUND, EXIT_OK

D = " (default: %(default)s)"
DESCRIPTION = (
    "Sync users (unless --no-sync), match Loom's members to the roster on externalId, then "
    "email, and list the orphaned, unmanaged, role_drift, missing and duplicates. A dry run "
    "by default: --apply deactivates the orphaned active accounts (the workspace's "
    "deprovisioning setting decides whether that deletes them; --delete sends DELETE) and, "
    "with --apply-roles, fixes role drift; each change is read back and kept as evidence in "
    "the store. --apply is refused whole (exit 2, nothing changed) beyond --max-changes or "
    "for a roster that looks truncated (unless --force). Exit 0: done; 1: a change failed; "
    f"2: a bad roster or a refused --apply; {EXIT_FINDINGS}: findings, with --fail-on-findings."
)


def add_reconcile_parser(sub: Any) -> None:
    p = sub.add_parser(
        "reconcile",
        help="compare Loom's members with the IdP's roster; --apply fixes",
        description=DESCRIPTION,
    )
    add = p.add_argument
    add("--roster", required=True, type=Path, metavar="FILE", help="Okta, Entra ID, Google "
        "Workspace users export, or a CSV, JSON or JSONL file with an email column")  # fmt: skip
    add("--map", metavar="FIELD=COLUMN,...", help="the roster's columns: email=Work Email,"
        "externalId=Employee ID,status=State,name=Full Name,role=Team")  # fmt: skip
    add("--role-map", type=Path, metavar="FILE",
        help="YAML or JSON: IdP group or role -> creator, viewer or admin")  # fmt: skip
    add("--format", choices=["table", "json", "csv"], default="table", help="(default: table)")
    add("--seat-price", type=_price, metavar="PRICE", help="a seat's monthly price: prints "
        "the monthly cost of the orphaned seats")  # fmt: skip
    add("--store", default=str(DEFAULT_STORE), help="a SQLite file, or a postgresql:// URL "
        "(default: %(default)s)")  # fmt: skip
    add("--no-sync", action="store_true",
        help="reuse the store's users instead of syncing (without --apply, the store is "
        "only read: a read-only copy will do)")  # fmt: skip
    add("--apply", action="store_true", help="carry out the plan (default: a dry run)")
    add("--delete", action="store_true", help="orphans: DELETE instead of deactivate")
    add("--apply-roles", action="store_true", help="also fix role drift")
    add("--max-changes", type=_count, default=RECONCILE_MAX_CHANGES, metavar="N",
        help="refuse an --apply of more changes (default: %(default)s)")  # fmt: skip
    add("--force", action="store_true", help="apply even if the roster looks truncated")
    add("--actor", metavar="NAME", help="who applies, for the evidence (default: your full "
        "name and login@host, e.g. 'Jane Doe (jane@laptop)')")  # fmt: skip
    add("--fail-on-findings", action="store_true",
        help=f"exit {EXIT_FINDINGS} when anything is found (for monitors)")  # fmt: skip


def add_offboard_parsers(sub: Any) -> None:
    """Register ``offboard`` and ``review`` on the CLI's subparsers."""
    off = sub.add_parser(
        "offboard",
        help="deactivate (or delete) people by email, verify, and keep the evidence",
        description="Deactivate every account that carries each email (its userName or any "
        "of its emails; found whatever the server's filters do, and the store's accounts of "
        "that email too), each read again just before and changed only if it still carries "
        "the email (else skipped); the workspace's deprovisioning setting decides whether "
        "Loom deactivates or deletes. Each is read back and its evidence (who, when, outcome, "
        "which requests) recorded in the store, one line an account. Exit "
        f"{EXIT_OK}: everyone is offboarded or already gone; {EXIT_FAILURE}: an account could "
        "not be, or a search was incomplete (not found in the first N users read); "
        f"{EXIT_NOT_FOUND}: an email no account carries (and nothing failed).",
    )
    off.add_argument("emails", nargs="*", metavar="EMAIL", help="who to offboard")
    off.add_argument(
        "--file",
        type=Path,
        metavar="FILE",
        help="one email a line (# comments allowed), or a roster export listing leavers "
        "(Okta, Entra ID, Google Workspace, CSV/JSON/JSONL with an email column)",
    )
    off.add_argument("--delete", action="store_true", help="DELETE the users instead")
    off.add_argument(
        "--dry-run",
        action="store_true",
        help="look everyone up, say what would happen, change nothing",
    )
    off.add_argument("--json", action="store_true", help="print one JSON object for programs")
    _store_and_actor(off)

    review = sub.add_parser(
        "review",
        help="the access review: a self-contained HTML report (and CSV) from the store",
        description="Sync users (unless --no-sync), then write the access review: one HTML "
        "page that opens offline, and with --csv one row a member. A member is an account "
        "the workspace still has, active or not, managed or not; an account deleted by "
        "offboarding is counted apart and shown in the evidence. The page, the CSV and the "
        "summary printed count the same members. The page ends with a sign-off block: a "
        "decision for each member with a finding (keep, remove or investigate), a note, the "
        "reviewer, the date and a signature.",
    )
    review.add_argument(
        "--html",
        type=Path,
        metavar="FILE",
        help="where to write the report (default: loom-access-review-YYYY-MM-DD.html)",
    )
    review.add_argument(
        "--csv",
        type=Path,
        metavar="FILE",
        help="also write the members as CSV, one row each; its decision and decidedOn "
        "columns are left empty for the reviewer",
    )
    review.add_argument(
        "--roster",
        type=Path,
        metavar="FILE",
        help="the IdP roster: adds each member's roster status",
    )
    review.add_argument(
        "--map", metavar="FIELD=COLUMN,...", help="the roster's columns, for other exports"
    )
    review.add_argument(
        "--reviewer",
        metavar="NAME",
        help="who signs the review off, printed in the page's sign-off block and the CSV's "
        "reviewer column (default: left blank, to be filled in by hand)",
    )
    review.add_argument(
        "--no-sync", action="store_true", help="use the store as it is; do not sync users first"
    )
    review.add_argument(
        "--store",
        default=str(DEFAULT_STORE),
        help="a SQLite file, or a postgresql:// URL (the fleet extra)" + D,
    )


def _store_and_actor(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        default=str(DEFAULT_STORE),
        help="where the evidence is kept: a SQLite file or a postgresql:// URL" + D,
    )
    parser.add_argument(
        "--actor",
        metavar="NAME",
        help="who acts, for the evidence (default: your full name and login@host, as in "
        "'Jane Doe (jane@laptop)', or login@host when the account has no name)",
    )


def _price(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number such as 12.50, not {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a price of at least 0, not {text!r}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, not {value}")
    return value


EVIDENCE_ALGORITHM = """\
The evidence of offboarding is a hash chain per connection, so a changed, deleted or
reordered record shows. To check an export (`loom-scim evidence export`, JSON Lines)
without loom-scim (examples/verify_evidence.py does this with Python's standard library):

  1. Take the lines in order and group them by their "connection"; within one, the
     "evidence_id"s ascend. The first record's "prev_hash" is 64 zeros ("0" * 64); every
     other's is the "hash" of the record before it (same connection).
  2. A record's "hash" is SHA-256, lower-case hex, of the canonical JSON of the line
     without its "hash" key: keys sorted, no spaces (separators "," and ":"), non-ASCII
     characters as themselves, encoded as UTF-8. In Python:
       hashlib.sha256(json.dumps(line_without_hash, sort_keys=True,
           separators=(",", ":"), ensure_ascii=False).encode("utf-8")).hexdigest()
  3. The first line where either check fails is the first broken record. A chain shows
     that records were not changed after they were written, not that the newest were not
     removed: keep the last hash `evidence verify` prints, and check a later chain still
     contains it.

An offboarding change is announced before it is sent (a record whose outcome is
"unknown"), and its outcome follows in a record whose "intent_id" is the announcement's
"evidence_id". An announcement nothing refers to is a change whose outcome the run never
learned (it was interrupted): `evidence resolve` (or the next offboard, or reconcile
--apply) reads the account and records the outcome, credited to the original actor.
"""


def add_evidence_parser(sub: Any) -> None:
    """Register ``evidence verify|export|resolve`` on the CLI's subparsers."""
    evidence = sub.add_parser(
        "evidence",
        help="verify, export or resolve the offboarding evidence of a store",
        description=EVIDENCE_ALGORITHM,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    what = evidence.add_subparsers(dest="evidence_command", required=True, metavar="WHAT")
    verify = what.add_parser(
        "verify",
        help="check the hash chain of every connection in the store",
        description="Check every record of the store's evidence chains (every connection). "
        f"Exit {EXIT_OK}: whole (the count and each connection's last hash are printed: keep "
        f"them); {EXIT_FAILURE}: broken (the first broken record is named, and why).\n\n"
        + EVIDENCE_ALGORITHM,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    export = what.add_parser(
        "export",
        help="write the evidence, with its chain, as JSON Lines",
        description="Write every record of the store's evidence (every connection), oldest "
        "first, one JSON object a line: its fields, prev_hash and hash.\n\n" + EVIDENCE_ALGORITHM,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    export.add_argument(
        "--output", type=Path, metavar="FILE", help="write here (default: standard output)"
    )
    resolve = what.add_parser(
        "resolve",
        help="record the outcome of changes an interrupted run sent but never learned",
        description="For each change announced and never settled (an interrupted offboard or "
        "reconcile --apply), read the account and record what it shows (deactivated, "
        "deleted, or not_applied), credited to the actor who sent the change. Exit "
        f"{EXIT_OK}: none is left unknown; {EXIT_FAILURE}: an account could not be read.",
    )
    for parser in (verify, export):
        parser.add_argument(
            "--store",
            default=str(DEFAULT_STORE),
            help="a SQLite file or a postgresql:// URL" + D,
        )
    _store_and_actor(resolve)
