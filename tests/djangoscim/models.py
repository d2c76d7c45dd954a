"""A user and a group model with the SCIM fields django-scim2's default adapters read.

django-scim2 needs ``scim_id``, ``scim_external_id`` and ``scim_username`` on the user
(its ``AbstractSCIMUserMixin``) and ``scim_id``, ``scim_external_id``, ``name`` and a
``user_set`` relation on the group (``AbstractSCIMGroupMixin``); Django's own auth
models have neither, so the project defines its own, as django-scim2's docs describe.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractUser
from django.db import models
from django_scim.models import AbstractSCIMGroupMixin, AbstractSCIMUserMixin


class User(AbstractSCIMUserMixin, AbstractUser):  # type: ignore[misc]
    @property
    def scim_groups(self) -> Any:
        return self.scim_group_set


class Group(AbstractSCIMGroupMixin):  # type: ignore[misc]
    name = models.CharField(max_length=150, unique=True)
    user_set = models.ManyToManyField(User, related_name="scim_group_set", blank=True)
