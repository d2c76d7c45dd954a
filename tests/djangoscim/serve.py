"""Serve the django-scim2 test project on 127.0.0.1, in this process only.

    python -m tests.djangoscim.serve --db PATH --token TOKEN [--port 0]

It binds first (port 0: any free port), so that django-scim2's ``NETLOC`` (used in
``meta.location``) is the real address, then sets up Django, creates the tables,
seeds them (see ``control.reset``) and prints ``LISTENING <port>`` on stdout.
It serves one request at a time (wsgiref) until it is terminated.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # no access log
        return


class Server(WSGIServer):
    allow_reuse_address = False


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)

    def not_ready(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("503 Service Unavailable", [])
        return []

    httpd = make_server(
        "127.0.0.1", args.port, not_ready, server_class=Server, handler_class=QuietHandler
    )
    port = httpd.server_address[1]
    os.environ["DJANGOSCIM_DB"] = args.db
    os.environ["DJANGOSCIM_TOKEN"] = args.token
    os.environ["DJANGOSCIM_NETLOC"] = f"127.0.0.1:{port}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.djangoscim.settings"

    import django
    from django.core.management import call_command
    from django.core.wsgi import get_wsgi_application

    django.setup()
    call_command("migrate", run_syncdb=True, verbosity=0, interactive=False)
    from . import control

    control.reset()
    httpd.set_app(get_wsgi_application())
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"LISTENING {port}", flush=True)
    try:
        httpd.serve_forever()
    finally:
        httpd.server_close()


if __name__ == "__main__":
    main()
