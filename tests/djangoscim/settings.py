"""Settings of the throwaway project; read only inside the server process (serve.py)."""

from __future__ import annotations

import os

SECRET_KEY = "django-scim2-test-server-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
ROOT_URLCONF = "tests.djangoscim.urls"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
AUTH_USER_MODEL = "djangoscim.User"
AUTH_PASSWORD_VALIDATORS: list[dict[str, str]] = []

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django_scim",
    "tests.djangoscim.apps.DjangoScimTestConfig",
]

MIDDLEWARE = [
    "tests.djangoscim.auth.BearerTokenMiddleware",
    "django_scim.middleware.SCIMAuthCheckMiddleware",
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["DJANGOSCIM_DB"],
    }
}

SCIM_SERVICE_PROVIDER = {
    "NETLOC": os.environ["DJANGOSCIM_NETLOC"],
    "SCHEME": "http",
    "GROUP_MODEL": "tests.djangoscim.models.Group",
    "AUTHENTICATION_SCHEMES": [
        {
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "A fixed bearer token in the Authorization header",
            "primary": True,
        }
    ],
    "WWW_AUTHENTICATE_HEADER": 'Bearer realm="django-scim2"',
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["stderr"], "level": "WARNING"},
}
