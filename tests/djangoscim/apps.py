"""The project's one app: the user and group models django-scim2's adapters expect."""

from __future__ import annotations

from django.apps import AppConfig


class DjangoScimTestConfig(AppConfig):  # type: ignore[misc]
    name = "tests.djangoscim"
    label = "djangoscim"
    default_auto_field = "django.db.models.AutoField"
