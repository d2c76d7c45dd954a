"""Facts the package states once: environment variable names, the SCIM collections, paging,
loopback hosts, and the numbers behind the deletion guarantee. Every other module imports
them here."""

from __future__ import annotations

from typing import Literal

# The SCIM collections the client speaks (it treats them alike: just resource names).
Resource = Literal["Users", "Groups"]

# The connection, from the environment.
ENV_URL = "LOOM_SCIM_BRIDGE_URL"
ENV_KEY = "LOOM_SCIM_API_KEY"
ENV_EXPIRES = "LOOM_SCIM_API_KEY_EXPIRES_AT"
ENV_CONFIG = "LOOM_SCIM_CONFIG"  # the named connections file
# Seconds one attempt of a request may take in all (see _timeouts.py).
ENV_DEADLINE = "LOOM_SCIM_REQUEST_DEADLINE"

# Plain http is allowed only for these hosts (a local sandbox).
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# Tried in this order when the admin gives a bare host with no path.
DISCOVERY_PREFIXES = ("/scim/v2", "/scim")
EXPIRY_WARNING_DAYS = 30

# Paging.
DEFAULT_PAGE_SIZE = 100
DEFAULT_STORE = "loom-scim.sqlite3"  # the SQLite store file, in the current folder
MANIFEST_NAME = "integrations.yaml"
MAX_PAGES = 1_000_000  # a hard stop against a server that never ends
# List pages in flight at once once the first page allows a plan (1: sequential).
PAGE_CONCURRENCY = 8
SAVE_BATCH = 1000  # records a sync hands the store at once: one transaction each
# How many resources a lookup reads when a filter finds nothing (or is not supported).
SCAN_LIMIT = 2000

# Deletions: the lease of a running sync, how many lookups confirm at once, and when
# candidates are too many to confirm (more than MIN and more than FRACTION of the live).
LEASE_SECONDS = 30.0
CONFIRM_CONCURRENCY = 8
# Candidates looked up between two control lookups (records the server is known to
# hold): every 404 that deletes sits between two controls that found their record.
CONFIRM_CONTROL_EVERY = 50
# How many known records a confirmation tries as controls.
CONFIRM_CONTROLS = 3
GUARD_MIN_COUNT = 25
GUARD_MAX_FRACTION = 0.10

# Reconcile (loom-scim reconcile --roster): the most changes one --apply may make, and
# when a roster looks truncated (fewer entries, or fewer of Loom's active members
# matched, than this share of Loom's active members).
RECONCILE_MAX_CHANGES = 10
RECONCILE_MIN_ROSTER_FRACTION = 0.5
# `loom-scim mcp --max-total-changes`: changes one MCP server may make in all.
MCP_MAX_TOTAL_CHANGES = 50

# The headers a server may say "wait" with, first found first: RFC 9110's Retry-After
# (delta seconds or an HTTP date); X-RateLimit-Reset (Atlassian: an ISO 8601 time;
# others: epoch seconds); the IETF draft's RateLimit-Reset (delta seconds). Kept on the
# error as sent; retry.server_wait is the one place that reads what they mean.
RATE_LIMIT_HEADERS = ("retry-after", "x-ratelimit-reset", "ratelimit-reset")

# Characters that are never text of a value (re character-class fragments, one place for
# every module that refuses, strips or escapes them): the C0 controls, DEL and the C1
# controls (Unicode category Cc: NUL, ESC, tab, newline...); the line and paragraph
# separators; the bidirectional embeddings, overrides and isolates (they reorder what a
# terminal shows).
CONTROL_CHARS = "\x00-\x1f\x7f-\x9f"
LINE_SEPARATORS = "\u2028\u2029"
BIDI_CONTROLS = "\u202a-\u202e\u2066-\u2069"
