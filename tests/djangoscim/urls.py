"""The SCIM API at /scim/v2/ (django-scim2's own URLconf) and the test-only /control/."""

from __future__ import annotations

from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from . import control

urlpatterns = [
    path("scim/v2/", include("django_scim.urls", namespace="scim")),
    path("control/state", control.state),
    path("control/reset", csrf_exempt(control.reset_view)),
    path("control/users", csrf_exempt(control.restore_user)),
]
