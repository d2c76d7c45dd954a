"""The fleet host: many Loom workspaces, syncs and actions as Celery tasks on RabbitMQ
(recommended) or Redis, records and connections in PostgreSQL, politeness and results in
Redis (``pip install 'loom-scim-connector[fleet]'``).

* :mod:`.connections`: the connections, each API key encrypted at rest (Fernet).
* :mod:`.app`: the Celery app (RabbitMQ or Redis, ``acks_late``, ``task_reject_on_worker_lost``).
* :mod:`.fairness`: at most a few syncs of large workspaces at once, so small ones never
  wait behind them.
* :mod:`.tasks`: ``sync(connection_id, model)`` and ``action(connection_id, name, input,
  idempotency_key)``; tasks carry a connection id, never a key.

This package imports nothing heavy itself: import its modules by name.
"""
