"""Exit codes (the one table, printed in --help) and how an error maps to one."""

from __future__ import annotations

from loom_scim_connector.exits import (
    EXIT_AUTH,
    EXIT_BAD_INPUT,
    EXIT_BUSY,
    EXIT_FAILURE,
    EXIT_FINDINGS,
    EXIT_HELD,
    EXIT_INCOMPLETE,
    EXIT_INTERRUPTED,
    EXIT_KEY_EXPIRED,
    EXIT_KEY_EXPIRING,
    EXIT_NOT_FOUND,
    EXIT_NOT_SUPPORTED,
    EXIT_OK,
    HELD_SHOWN,
    UsageError,
    exit_code_for,
)

EPILOG = f"""\
connection (--connection NAME, else from the environment, else the file's default):
  LOOM_SCIM_BRIDGE_URL          the SCIM endpoint URL from Loom, e.g. https://scim.example.com/scim/v2
  LOOM_SCIM_API_KEY             the SCIM bearer token from Loom (never printed)
  LOOM_SCIM_API_KEY_EXPIRES_AT  optional ISO date of the key's expiry, for check's warning
  --connection NAME wins over these (a warning says so when they are set too); every command
  that talks to a workspace names it on stderr first: its name (or the environment) and URL

requests (any connection):
  LOOM_SCIM_REQUEST_DEADLINE    optional: seconds one attempt of a request may take in all
                                (connect, send, the whole answer; default 120); a server that
                                drips its answer past it fails as a timeout (retried, then exit 1)

exit codes:
  {EXIT_OK}  success
  {EXIT_FAILURE}  other failure (server error after retries, network, a lookup that cannot be
     trusted, ...); offboard: an account could not be offboarded, or a search was cut at its
     bound ("incomplete": not found in the first N users; each outcome is listed and recorded);
     evidence verify: a broken chain (the first broken record is named)
  {EXIT_BAD_INPUT}  bad input: invalid arguments, --input, --store or connection configuration
     (a URL with no SCIM behind it, https:// on a port without TLS, a duplicate name,
     a store that holds another workspace than the API key reaches: nothing synced)
  {EXIT_AUTH}  authentication or permission refused (expired or rotated key, plan without SCIM)
  {EXIT_NOT_FOUND}  not found; offboard: an email no Loom account carries, or whose accounts were
     all skipped (read again, they no longer carry it), and nothing failed
  {EXIT_HELD}  sync held: too many records were not seen, so nothing was deleted; review
     the listed records, then run the same sync with --release-held RUN_ID
  {EXIT_BUSY}  busy: another sync of the same model is running on this store (see --wait)
  {EXIT_NOT_SUPPORTED}  not supported by this SCIM server (501, or an unsupported filter, path or
     attribute): running again will not help
  {EXIT_KEY_EXPIRED}  check: the API key has expired (by LOOM_SCIM_API_KEY_EXPIRES_AT)
  {EXIT_KEY_EXPIRING}  check: the API key expires within --warn-days (30 by default)
  {EXIT_FINDINGS} reconcile --fail-on-findings: the roster and Loom disagree (findings listed)
  {EXIT_INCOMPLETE} incomplete: the sync could not read everything, or prove it did (the message
     says how many of how many, and what was tried); what it read is saved, nothing deleted
  {EXIT_INTERRUPTED} interrupted (Ctrl-C): a sync is cancelled and deletes nothing; offboard lists
     what it did, and a change sent whose outcome is not known yet is recorded as unknown
     (the next offboard or reconcile --apply, or evidence resolve, reads it and records it)
"""

__all__ = [
    "EPILOG",
    "EXIT_AUTH",
    "EXIT_BAD_INPUT",
    "EXIT_BUSY",
    "EXIT_FAILURE",
    "EXIT_FINDINGS",
    "EXIT_HELD",
    "EXIT_INCOMPLETE",
    "EXIT_INTERRUPTED",
    "EXIT_KEY_EXPIRED",
    "EXIT_KEY_EXPIRING",
    "EXIT_NOT_FOUND",
    "EXIT_NOT_SUPPORTED",
    "EXIT_OK",
    "HELD_SHOWN",
    "UsageError",
    "exit_code_for",
]
