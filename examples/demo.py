"""`make demo`: the connector at work against the local Loom SCIM sandbox.

It starts the sandbox with seeded users, then runs the real `loom-scim` CLI: check, the
users and groups syncs, onboarding, a role change, offboarding, a second sync that shows
the changes and the deletion tracking, a sync through injected rate limiting; then a
reconciliation against an identity provider's roster, an offboarding kept as evidence,
and the access review. The sandbox is stopped on exit, on failure and on Ctrl-C.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Literal

from loom_scim_connector.sandbox import Sandbox

BOLD, DIM, RESET = ("\033[1m", "\033[2m", "\033[0m") if sys.stdout.isatty() else ("", "", "")


class Demo:
    def __init__(self, sandbox: Sandbox, workdir: Path) -> None:
        self.sandbox = sandbox
        self.store = workdir / "demo.sqlite3"
        self.env = {
            **os.environ,
            "LOOM_SCIM_BRIDGE_URL": sandbox.url,
            "LOOM_SCIM_API_KEY": sandbox.token,
            "LOOM_SCIM_API_KEY_EXPIRES_AT": "2027-11-30",
        }

    def step(
        self, title: str, *, deprovisioning: Literal["deactivate", "delete"] | None = None
    ) -> None:
        """A step's title, with the workspace's Member Deprovisioning setting it runs
        under (what deactivating does depends on it); ``deprovisioning`` changes it for
        this step and what follows, and the title says so."""
        settings = self.sandbox.settings
        changed = deprovisioning is not None and deprovisioning != settings.deprovisioning
        if deprovisioning is not None:
            settings.deprovisioning = deprovisioning
        mode = settings.deprovisioning + (", changed here" if changed else "")
        print(f"\n{BOLD}== {title}{RESET} {DIM}[workspace deprovisioning: {mode}]{RESET}")

    def loom_scim(self, *args: str) -> subprocess.CompletedProcess[str]:
        shown = " ".join(a if " " not in a and "{" not in a else f"'{a}'" for a in args)
        print(f"{DIM}$ loom-scim {shown}{RESET}")
        result = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "loom_scim_connector", *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        for line in result.stderr.splitlines():
            print(f"  {DIM}{line}{RESET}")
        if result.returncode != 0:
            raise SystemExit(f"demo step failed with exit code {result.returncode}")
        return result

    def action(self, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(
            self.loom_scim("action", name, "--input", json.dumps(payload)).stdout
        )
        print("  " + json.dumps(out))
        return out

    def sync(self, name: str, *extra: str, show: str = "changed") -> list[dict[str, Any]]:
        result = self.loom_scim("sync", name, "--store", str(self.store), *extra)
        records = [json.loads(line) for line in result.stdout.splitlines()]
        shown = [r for r in records if show == "all" or r["_metadata"]["lastAction"] != "UNCHANGED"]
        for r in shown[:12]:
            print("  " + describe(r))
        if len(shown) > 12:
            print(f"  ... and {len(shown) - 12} more")
        return records


def describe(record: dict[str, Any]) -> str:
    action = record["_metadata"]["lastAction"]
    if "email" in record:
        origin = "IdP " + record["externalId"] if record.get("externalId") else "domain capture"
        state = "active" if record.get("active") else "INACTIVE"
        return f"{action:9} {record['email']:38} {record.get('role') or '-':8} {state:8} {origin}"
    return f"{action:9} {record['displayName']:20} {len(record['memberIds'])} members"


def main() -> None:
    with tempfile.TemporaryDirectory() as workdir, Sandbox(seed_users=25, seed=1) as sandbox:
        demo = Demo(sandbox, Path(workdir))
        print(
            f"{BOLD}Loom SCIM sandbox{RESET} on {sandbox.url}, 25 seeded users "
            "(every fifth joined by domain capture, with no externalId)"
        )

        demo.step("1. Check the connection")
        print(demo.loom_scim("check").stdout.rstrip())

        demo.step("2. Sync users (page size 10)")
        demo.sync("users", "--page-size", "10", show="all")

        demo.step("3. Sync groups")
        groups = {g["displayName"]: g["id"] for g in demo.sync("groups", show="all")}

        demo.step("4. Onboard a new hire as a creator, into the Loom Creators group")
        user = demo.action(
            "create-user",
            {
                "email": "new.hire@acme.example",
                "firstName": "New",
                "lastName": "Hire",
                "role": "creator",
                "externalId": "00uNEWHIRE",
            },
        )
        demo.action("add-group-members", {"id": groups["Loom Creators"], "memberIds": [user["id"]]})
        print("  Run again, create-user is exactly-once: the same user comes back (existed)")
        demo.action("create-user", {"email": "new.hire@acme.example", "role": "creator"})

        demo.step("5. Promote them to admin (the role is read back from Loom)")
        demo.action("set-user-role", {"id": user["id"], "role": "admin"})

        leaver, contractor = sandbox.seeded["all"][1], sandbox.seeded["all"][2]
        demo.step("6. Offboard a leaver (their content is kept)")
        off = demo.action("deactivate-user", {"id": leaver})
        print("  Onboarding them again does not undo it: they stay deactivated, untouched")
        again = demo.action("create-user", {"email": off["user"]["email"], "role": "creator"})
        assert again["outcome"] == "exists_deactivated", again
        demo.step("7. Offboard a contractor in a workspace set to delete", deprovisioning="delete")
        demo.action("deactivate-user", {"id": contractor})
        demo.action("deactivate-user", {"id": contractor})

        demo.step(  # back to Loom's default for the rest of the demo
            "8. Sync users again: what changed, and the deletion tracked",
            deprovisioning="deactivate",
        )
        demo.sync("users", "--page-size", "10")

        demo.step("9. Sync through injected rate limiting (30% of requests get 429)")
        sandbox.settings.fault_rate = 0.3
        sandbox.settings.retry_after_seconds = 1
        demo.sync("users", "--page-size", "5", show="changed")
        sandbox.settings.fault_rate = 0.0

        demo.step("10. When Loom silently ignores the role (loomMemberRole not mapped)")
        sandbox.settings.role_mapped = False
        result = subprocess.run(  # noqa: S603
            [
                sys.executable,
                "-m",
                "loom_scim_connector",
                "action",
                "set-user-role",
                "--input",
                json.dumps({"id": user["id"], "role": "viewer"}),
            ],
            env=demo.env,
            capture_output=True,
            text=True,
            check=False,
        )
        print(f"{DIM}$ loom-scim action set-user-role ...{RESET}")
        print(f"  exit {result.returncode}: {result.stderr.strip()}")

        sandbox.settings.role_mapped = True
        reconcile_and_review(demo, Path(workdir))

        print(f"\n{BOLD}Demo complete.{RESET} The sandbox is stopped.")


def reconcile_and_review(demo: Demo, workdir: Path) -> None:
    """Steps 11-13: the identity provider's roster against Loom, then proof."""
    demo.step("11. Reconcile Loom against the identity provider's roster (a dry run)")
    synced = demo.loom_scim("-q", "sync", "users", "--store", str(demo.store))
    records = [json.loads(line) for line in synced.stdout.splitlines()]
    managed = [r for r in records if r.get("active") and r.get("externalId")]
    gone = managed[0]  # removed from the IdP, still active in Loom
    roster = workdir / "roster.csv"
    rows = [f"{r['email']},{r['externalId']},active,{r.get('role') or ''}" for r in managed[1:]]
    roster.write_text("email,externalId,status,role\n" + "\n".join(rows) + "\n")
    print(f"  roster.csv: the IdP's {len(rows)} people (not {gone['email']}, who left)")
    report = demo.loom_scim("reconcile", "--roster", str(roster), "--store", str(demo.store))
    for line in report.stdout.rstrip().splitlines():
        print(f"  {line}")

    demo.step("12. Offboard the leaver, verified and kept as evidence")
    print(demo.loom_scim("offboard", gone["email"], "--store", str(demo.store)).stdout.rstrip())

    demo.step("13. The access review: one offline HTML page for the auditor")
    page = Path(tempfile.gettempdir()) / "loom-access-review-demo.html"
    demo.loom_scim(
        "review", "--roster", str(roster), "--store", str(demo.store), "--html", str(page)
    )
    print(f"  open {page} in a browser (no network needed)")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("\ninterrupted: the sandbox is stopped")
        sys.exit(130)
