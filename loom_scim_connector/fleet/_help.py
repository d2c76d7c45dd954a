"""The text of ``loom-scim fleet --help``: written for the operator who runs the fleet."""

DESCRIPTION = """\
Run many Loom workspaces from one place. Each workspace is a connection kept in
PostgreSQL (its API key encrypted). Syncs run as Celery tasks that workers take from a
RabbitMQ queue (recommended: a worker lost whole has its syncs back at once) or a Redis
one; one beat process queues each connection's syncs when they are due.

commands:
  add-connection ID --url URL   add a workspace; the API key is read from
                                $LOOM_SCIM_API_KEY or, with --api-key-stdin, from
                                standard input (never from the command line)
  list                          the connections and their key expiry (never the keys)
  status                        per connection and sync: running (since, by which
                                worker), queued (since), last success, last error,
                                next run, held runs awaiting review; "never" if it
                                never ran
  sync-now ID... | --all        queue syncs now: --model users (the default); repeat
                                --model for several (--model users --model groups);
                                --wait prints their reports
  release-held ID SYNC RUN_ID   after review, apply the deletions a held run kept back
  rotate-keys                   re-encrypt every API key after putting a new Fernet
                                key first in $LOOM_SCIM_FLEET_FERNET_KEY
  remove ID                     remove a connection
  worker                        run a worker; as many as you like, on any machine
  beat                          queue the due syncs; run exactly one
  health                        exit 0 when the database and the broker answer and a
                                worker answers a ping (--hostname NAME@HOST for one
                                worker), else 1 with one line: a readiness or liveness
                                probe for a supervisor or Kubernetes

environment:
  LOOM_SCIM_FLEET_DATABASE_URL  PostgreSQL URL (or --database); required
  LOOM_SCIM_FLEET_BROKER_URL    amqp://... (RabbitMQ) or redis://... (default
                                redis://127.0.0.1:6379/0)
  LOOM_SCIM_FLEET_REDIS_URL     Redis for results and politeness (default: the broker's
                                URL if it is Redis, else redis://127.0.0.1:6379/0)
  LOOM_SCIM_FLEET_FERNET_KEY    the key(s) encrypting API keys at rest; several,
                                comma-separated, newest first, to rotate
  LOOM_SCIM_FLEET_QUEUE         the queue's name (default loom-scim)
  LOOM_SCIM_FLEET_DISPATCH_SECONDS    how often beat queues due syncs (default 60)
  LOOM_SCIM_FLEET_MAX_IN_FLIGHT       requests in flight per workspace (default 4)
  LOOM_SCIM_FLEET_BUSY_RETRY_SECONDS  wait before retrying a busy sync (default 30)
  LOOM_SCIM_FLEET_SYNC_TIME_LIMIT     a sync's time limit in seconds (default 3600)
  LOOM_SCIM_FLEET_LARGE_MEMBERS       a workspace this large is large (default 5000)
  LOOM_SCIM_FLEET_MAX_LARGE_SYNCS     large syncs at once, fleet-wide (default 2), so
                                      small workspaces never wait behind them

a schema of its own:
  The fleet's tables are all named loom_scim_* and made in the first schema of the
  database URL's search_path. To keep them apart, create a schema and name it in
  the URL: postgresql://loom@db/ops?options=-csearch_path%3Dloom_scim

exit codes: 0 done, 1 failed, 2 bad input, 4 no such connection, 5 a sync held
deletions for review.

More: the README's "Running a fleet" section.
"""
