"""Loom's SCIM schema: RFC 7643's, with Loom's custom ``loomMemberRole`` on the User.

The same documents configure the unmodified third-party ``scim2-server`` in the tests
(``scim2-server --schema FILE``), so both servers accept the attribute the same way.
"""

from __future__ import annotations

import copy
from typing import Any

from loom_scim_connector.models.inputs import ROLES
from loom_scim_connector.models.scim import CORE_USER

LOOM_MEMBER_ROLE: dict[str, Any] = {
    "name": "loomMemberRole",
    "type": "string",
    "multiValued": False,
    "description": "The member's Loom workspace role. 'default' keeps the existing role.",
    "required": False,
    "caseExact": False,
    "canonicalValues": list(ROLES),
    "mutability": "readWrite",
    "returned": "default",
    "uniqueness": "none",
}


def loom_schema_documents() -> list[dict[str, Any]]:
    """Every default schema of scim2-server, the User one with ``loomMemberRole``."""
    from scim2_server.utils import load_json_resource

    documents: list[dict[str, Any]] = copy.deepcopy(load_json_resource("default-schemas.json"))
    for document in documents:
        if document.get("id") == CORE_USER:
            document["attributes"].append(copy.deepcopy(LOOM_MEMBER_ROLE))
    return documents
