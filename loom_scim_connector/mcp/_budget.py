"""How many changes one server may make in all: ``--max-total-changes``.

``--max-changes`` bounds one call; an assistant can still make many calls, each small and
each confirmed (with the token path, the agent itself redeems the token). The budget
bounds the server's whole life: a call whose changes would take the total past it is
refused whole, at its plan (no token is issued for it) and again just before it acts
(two confirmed calls racing for the last changes: one acts). A call's changes are spent
when it starts to act, whatever comes of it: a write that failed half-way may have
changed something, so it is counted. Only a restart, a person's decision, gives more.
"""

from __future__ import annotations

from dataclasses import dataclass

from loom_scim_connector._constants import MCP_MAX_TOTAL_CHANGES
from loom_scim_connector.audit.plan import PlanRefusedError


@dataclass
class ChangeBudget:
    limit: int = MCP_MAX_TOTAL_CHANGES
    spent: int = 0

    def check(self, changes: int) -> None:
        """Refuse (``PlanRefusedError``) a call of ``changes`` that would exceed the budget."""
        if self.spent + changes > self.limit:
            left = self.limit - self.spent
            raise PlanRefusedError(
                "--max-total-changes",
                f"the call makes {changes} changes and this server may make {left} more "
                f"({self.spent} of {self.limit} made since it started): nothing was changed; "
                "a person can restart the server with a larger --max-total-changes",
            )

    def spend(self, changes: int) -> None:
        """Check and count, in one step (no await between: one event loop serves every call)."""
        self.check(changes)
        self.spent += changes
