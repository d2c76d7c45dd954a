"""Actions: one SCIM change each, verified by reading the resource back where it matters."""
