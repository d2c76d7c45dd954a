"""The README's walk-throughs, step by step, as a reader would type them (see
``readme_samples.py`` for how each command is run and what is fixed beforehand).

Each function returns the sample blocks it makes, by the name the README gives them;
the steps run in the README's order, each on the state the step before it left.
"""

from __future__ import annotations

import json
import re
import shlex

from .readme_samples import scenario

SEED, USERS = 0, 8
ROSTER = "--roster tests/data/roster.csv --role-map tests/data/roles.yaml"


def quick_start() -> dict[str, str]:
    """The quick start: a sandbox of 8 seeded users, checked, synced, one person offboarded
    with an action and one removed in Loom itself, synced again."""
    found: dict[str, str] = {}
    with scenario(seed_users=USERS, seed=SEED) as (sandbox, sh):
        found["check"] = sh("loom-scim check")
        found["sync"] = sh("loom-scim sync users --format table")
        leaver = json.dumps({"id": sandbox.seeded["all"][1]})
        found["deactivate"] = sh(
            f"loom-scim action deactivate-user --input '{leaver}' | python3 -m json.tool"
        )
        sandbox.call("DELETE", f"/Users/{sandbox.seeded['all'][2]}")  # removed in Loom
        found["resync"] = sh("loom-scim sync users --format table | grep -v UNCHANGED")
    return found


def people(readme: str) -> list[str]:
    """The ``--input`` of each ``create-user`` in the README's step 2 (so the sandbox holds
    exactly the people the README tells a reader to create)."""
    loop = re.search(
        r"for person in \\\n(.*?)\n\s*do loom-scim -q action create-user", readme, re.S
    )
    if loop is None:
        raise ValueError("README: the step creating the walk-through's people is not found")
    return [shlex.split(line.strip().rstrip("\\"))[0] for line in loop.group(1).splitlines()]


def reconcile_and_offboard(readme: str) -> dict[str, str]:
    """ "Reconciling and offboarding": an empty sandbox, seven people created through the
    actions, reconcile (a dry run, the refusals, the apply), offboard, the evidence and
    the access review."""
    found: dict[str, str] = {}
    with scenario(seed_users=0, seed=SEED) as (_, sh):
        found["roster-errors"] = sh(
            "sed '3s/ben.marsh@acme.example//g' tests/data/okta_users.csv > okta.csv",
            "loom-scim reconcile --roster okta.csv",
            exit_code=2,
        ) + sh("loom-scim reconcile --roster tests/data/hr_export.csv", exit_code=2)
        for person in people(readme):
            sh(f"loom-scim -q action create-user --input '{person}' > /dev/null")
        found["reconcile"] = sh(f"loom-scim reconcile {ROSTER} --seat-price 15")
        # The refusals come after the findings' table; the README shows the refusal.
        found["max-changes"] = sh(
            f"loom-scim -q reconcile {ROSTER} --apply --apply-roles --max-changes 2 > /dev/null",
            exit_code=2,
        )
        found["truncated"] = sh(
            "head -n 3 tests/data/roster.csv > partial.csv",
            "loom-scim -q reconcile --roster partial.csv --apply > /dev/null",
            exit_code=2,
        )
        apply = f"loom-scim -q reconcile {ROSTER} --apply --apply-roles"
        found["apply"] = sh(f"{apply} | grep '^applied:'")
        again = sh.output(apply)  # the README: running it again finds nothing to change
        assert again.endswith("\napplied: nothing to change\n"), again
        leavers = "chloe.park@acme.example eli.novak@acme.example"
        found["offboard-dry-run"] = sh(f"loom-scim offboard --dry-run {leavers}")
        found["offboard"] = sh(f"loom-scim offboard {leavers} nobody@acme.example", exit_code=4)
        records = [json.loads(line) for line in sh.output("loom-scim evidence export").splitlines()]
        (deactivated,) = [
            r for r in records if r["email"] == leavers.split()[0] and r["outcome"] == "deactivated"
        ]
        found["offboard-request"] = deactivated["request"] + "\n"  # one field of its evidence
        found["offboard-bad-input"] = sh(
            r"printf '# leavers\nada.okafor@acme.example\nnot-an-email\n' > leavers.txt",
            "loom-scim offboard bob@ --file leavers.txt",
            exit_code=2,
        )
        found["review"] = sh("loom-scim review --roster tests/data/roster.csv --csv access.csv")
    return found
