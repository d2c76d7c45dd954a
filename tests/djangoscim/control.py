"""Test-only endpoints beside the SCIM API (same bearer token): the server's state as
the ORM sees it, a reset to the seed, and restoring a deleted user with the same id.

They read the database through Django's ORM, not through django-scim2's adapters, so
tests can check what the server really stored, independently of how it serializes it.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse

from .models import Group, User

SEED_USERS = 250
SEED_GROUPS = ("Loom Admins", "Loom Creators", "Loom Viewers")
JOINED = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def seed_user(i: int) -> dict[str, Any]:
    """The seed: user{i}@acme.example, every third with an externalId, every tenth inactive."""
    return {
        "id": i,
        "username": f"user{i}@acme.example",
        "email": f"user{i}@acme.example",
        "first_name": f"First{i}",
        "last_name": f"Last{i}",
        "is_active": i % 10 != 0,
        "external_id": f"00u{i:07d}" if i % 3 == 0 else None,
    }


def _user_row(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "scim_id": user.scim_id,
        "username": user.username,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "is_active": user.is_active,
        "external_id": user.scim_external_id,
    }


def _new_user(row: dict[str, Any]) -> User:
    return User(
        id=row["id"],
        scim_id=str(row["id"]),
        username=row["username"],
        scim_username=row["username"],
        email=row["email"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        is_active=row["is_active"],
        scim_external_id=row["external_id"],
        password="!unusable",
        date_joined=JOINED,
    )


def reset(users: int = SEED_USERS) -> None:
    """Empty the tables and seed them again: users 1..N, the three groups, members."""
    with transaction.atomic():
        Group.objects.all().delete()
        User.objects.all().delete()
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM sqlite_sequence")
        User.objects.bulk_create([_new_user(seed_user(i)) for i in range(1, users + 1)])
        for index, name in enumerate(SEED_GROUPS):
            group = Group.objects.create(name=name, scim_external_id=f"grp{index}")
            # admins: users 1-3; creators: 4-13; viewers: 14-33
            start, stop = [(1, 4), (4, 14), (14, 34)][index]
            group.user_set.add(*User.objects.filter(id__in=range(start, stop)))


def _authorized(request: HttpRequest) -> bool:
    return bool(getattr(request.user, "is_authenticated", False))


def state(request: HttpRequest) -> HttpResponse:
    if not _authorized(request):
        return HttpResponse(status=401)
    users = [_user_row(u) for u in User.objects.order_by("id")]
    groups = [
        {
            "id": g.id,
            "scim_id": g.scim_id,
            "name": g.name,
            "scim_display_name": g.scim_display_name,
            "external_id": g.scim_external_id,
            "members": sorted(u.id for u in g.user_set.all()),
        }
        for g in Group.objects.order_by("id").prefetch_related("user_set")
    ]
    return JsonResponse({"users": users, "groups": groups})


def reset_view(request: HttpRequest) -> HttpResponse:
    if not _authorized(request) or request.method != "POST":
        return HttpResponse(status=401 if not _authorized(request) else 405)
    reset()
    return HttpResponse(status=204)


def restore_user(request: HttpRequest) -> HttpResponse:
    """POST a row as ``state`` lists it: the user is created again with the same id."""
    if not _authorized(request) or request.method != "POST":
        return HttpResponse(status=401 if not _authorized(request) else 405)
    _new_user(json.loads(request.body)).save(force_insert=True)
    return HttpResponse(status=204)
