"""The manifest and the code never drift: every entry resolves to real code and models."""

from __future__ import annotations

import inspect
import typing
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from loom_scim_connector.contract import ActionContext, SyncContext
from loom_scim_connector.manifest import (
    GENERATED_MARKER,
    Manifest,
    ManifestError,
    load_manifest,
    manifest_path,
    manifest_text,
    parse_manifest,
    referenced_models,
    render_models,
)

ROOT = Path(__file__).resolve().parents[1]
ACTIONS = {
    "create-user",
    "get-user",
    "find-user",
    "update-user",
    "set-user-role",
    "deactivate-user",
    "reactivate-user",
    "delete-user",
    "create-group",
    "rename-group",
    "add-group-members",
    "remove-group-members",
    "delete-group",
}


def installed_manifest() -> Manifest:
    (found,) = [ep for ep in entry_points(group="integration_providers") if ep.name == "loom-scim"]
    loader = found.load()
    manifest = loader()
    assert isinstance(manifest, Manifest)
    return manifest


def test_the_installed_distribution_exposes_the_provider() -> None:
    manifest = installed_manifest()
    assert manifest.provider.name == "loom-scim"
    assert manifest.provider.auth_mode == "API_KEY"
    assert manifest.provider.credentials["apiKey"].secret is True
    assert set(manifest.syncs) == {"users", "groups"}
    assert set(manifest.actions) == ACTIONS


def test_syncs_resolve_and_track_deletes() -> None:
    for name, sync in installed_manifest().syncs.items():
        assert inspect.iscoroutinefunction(sync.function), name
        assert sync.spec.sync_type == "full" and sync.spec.track_deletes
        hints = typing.get_type_hints(sync.function)
        assert hints["ctx"] is SyncContext, name
        assert sync.output_model.__name__ == sync.spec.output


def test_action_signatures_match_their_declared_models() -> None:
    for name, action in installed_manifest().actions.items():
        hints = typing.get_type_hints(action.function)
        assert hints["ctx"] == ActionContext[action.input_model], name  # type: ignore[name-defined]
        assert hints["return"] is action.output_model, name
        assert issubclass(action.input_model, BaseModel)


def test_verification_entrypoint_resolves() -> None:
    assert inspect.iscoroutinefunction(installed_manifest().verify)


def test_model_schemas_are_fresh() -> None:
    text = manifest_text()
    head, _, generated = text.partition(GENERATED_MARKER)
    names = referenced_models(yaml.safe_load(head))
    assert generated.lstrip("\n") == render_models(names), "stale: run `make models`"
    assert set(load_manifest().models) == set(names), "every declared model is used"


def test_top_level_manifest_is_the_packaged_one() -> None:
    top = ROOT / "integrations.yaml"
    assert top.read_text() == manifest_text()
    assert top.resolve() == manifest_path().resolve()


def broken(old: str, new: str) -> str:
    text = manifest_text()
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("    sync_type: full\n", "    sync_type: full\n    colour: red\n", "syncs.users.colour"),
        ("    runs: every 1h\n", "", "syncs.users.runs"),
        (
            "loom_scim_connector.syncs.users:sync_users",
            "loom_scim_connector.syncs.users:nope",
            "syncs.users.entrypoint",
        ),
        (
            "loom_scim_connector.syncs.users:sync_users",
            "loom_scim_connector.nowhere:sync",
            "syncs.users.entrypoint",
        ),
        (
            "loom_scim_connector.actions.users:get_user",
            "loom_scim_connector.actions._read:user_of",
            "actions.get-user.entrypoint",
        ),
        ("loom_scim_connector.actions.users:get_user", "no-colon", "actions.get-user.entrypoint"),
        (
            "    input: UserIdInput\n    output: User\n    endpoint: {method: GET, path: /user}",
            "    input: Missing\n    output: User\n    endpoint: {method: GET, path: /user}",
            "actions.get-user.input",
        ),
        ("  auth_mode: API_KEY", "  auth_mode: OAUTH2", "provider.auth_mode"),
    ],
)
def test_a_broken_manifest_names_the_key(old: str, new: str, key: str) -> None:
    with pytest.raises(ManifestError) as caught:
        parse_manifest(broken(old, new))
    assert caught.value.key == key


def test_invalid_yaml() -> None:
    with pytest.raises(ManifestError, match="not valid YAML"):
        parse_manifest("provider: [unclosed")


def test_a_lazy_manifest_imports_an_entrypoint_only_when_used() -> None:
    """`sync users` loads the manifest lazily: a broken action does not stop it, and the
    action still fails, naming its key, when it is used."""
    text = broken(
        "loom_scim_connector.actions.users:get_user", "loom_scim_connector.nowhere:get_user"
    )
    manifest = parse_manifest(text, lazy=True)
    assert manifest.sync("users").function.__name__ == "sync_users"
    assert "get-user" in manifest.actions  # its name is known without importing it
    with pytest.raises(ManifestError) as caught:
        manifest.action("get-user")
    assert caught.value.key == "actions.get-user.entrypoint"
    with pytest.raises(ManifestError):
        manifest.resolve_all()


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("    confirm: loom_scim_connector.syncs.users:fetch_user\n", "", "syncs.users.confirm"),
        (
            "    input: UserIdInput\n    output: User\n    endpoint: {method: GET, path: /user}",
            "    input: Missing\n    output: User\n    endpoint: {method: GET, path: /user}",
            "actions.get-user.input",
        ),
    ],
)
def test_a_lazy_manifest_still_checks_every_rule_at_load(old: str, new: str, key: str) -> None:
    with pytest.raises(ManifestError) as caught:
        parse_manifest(broken(old, new), lazy=True)
    assert caught.value.key == key


def test_the_c_yaml_parser_reads_the_manifest_as_the_python_one_does() -> None:
    text = manifest_text()
    assert yaml.load(text, Loader=yaml.CSafeLoader) == yaml.safe_load(text)
