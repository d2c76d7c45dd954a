"""Loom's SCIM schema: RFC 7643's, with Loom's custom ``loomMemberRole`` on the User.

The same documents configure the unmodified third-party ``scim2-server`` in the tests
(``scim2-server --schema FILE``), so both servers accept the attribute the same way.
"""

from __future__ import annotations

import copy
from typing import Any

from loom_scim_connector.models.inputs import ROLES
from loom_scim_connector.models.scim import CORE_USER, ENTERPRISE_USER

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


ROLE_EXTENSION = "urn:ietf:params:scim:schemas:extension:loom:2.0:User"


def role_schema_id(location: str) -> str:
    """The schema that declares where Loom reads the role: ``top``, ``enterprise``, ``custom``."""
    return {"top": CORE_USER, "enterprise": ENTERPRISE_USER}.get(location, ROLE_EXTENSION)


def loom_schema_documents(role_location: str = "top") -> list[dict[str, Any]]:
    """Every default schema of scim2-server, the User one with ``loomMemberRole``; with
    ``role_location`` ``enterprise`` or ``custom``, that extension declares it too (the
    core one still does: a server that maps the role to an extension may keep and echo a
    top-level value it does not act on)."""
    from scim2_server.utils import load_json_resource

    documents: list[dict[str, Any]] = copy.deepcopy(load_json_resource("default-schemas.json"))
    if role_location == "custom":
        documents.append(
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
                "id": ROLE_EXTENSION,
                "name": "LoomUser",
                "description": "Custom attributes the identity provider maps for Loom",
                "attributes": [],
                "meta": {"resourceType": "Schema", "location": f"/v2/Schemas/{ROLE_EXTENSION}"},
            }
        )
    for document in documents:
        if document.get("id") in (CORE_USER, role_schema_id(role_location)):
            document["attributes"].append(copy.deepcopy(LOOM_MEMBER_ROLE))
    return documents
