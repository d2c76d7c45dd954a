"""Bearer-token authentication: a fixed token, checked on every request (no sessions).

django-scim2 leaves authentication to the project: its ``SCIMAuthCheckMiddleware``
answers 401 unless an earlier middleware set an authenticated ``request.user``.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import AnonymousUser


class ServiceAccount:
    """The identity provider's client: authenticated, not a row in the user table."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    pk = None


class BearerTokenMiddleware:
    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response
        self.expected = f"Bearer {os.environ['DJANGOSCIM_TOKEN']}".encode()

    def __call__(self, request: Any) -> Any:
        given = request.META.get("HTTP_AUTHORIZATION", "").encode()
        ok = hmac.compare_digest(given, self.expected)
        request.user = ServiceAccount() if ok else AnonymousUser()
        return self.get_response(request)
