"""The cassettes themselves: coverage of the manifest, no secrets, strict matching."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import vcr
from vcr.errors import CannotOverwriteExistingCassetteException

from loom_scim_connector import LoomConnection, LoomScimClient, RetryPolicy, no_wait
from loom_scim_connector.host import LocalHost
from loom_scim_connector.manifest import load_manifest

from .replay import CASSETTES, PLACEHOLDER_BASE, REPLAY_KEY, Scrubber, vcr_config

TESTS = Path(__file__).parent
REPLAY_MODULES = sorted(TESTS.glob("test_replay_*.py"))
_BEARER = re.compile(r"[Bb]earer\s+(?!<REDACTED>)\S{6,}")
_TOKENISH = re.compile(r"[A-Za-z0-9_\-+/=~.]{24,}")


def looks_secret(text: str) -> list[str]:
    """Bearer tokens, and long strings mixing cases and digits (hex ids are fine)."""
    found = [m.group(0) for m in _BEARER.finditer(text) if "realm=" not in m.group(0)]
    without_urls = re.sub(r"[a-z]+://\S+", " ", text)
    for match in _TOKENISH.finditer(without_urls):
        word = match.group(0)
        if re.fullmatch(r"[0-9a-f]+", word) or word.startswith("urn"):
            continue
        if re.search(r"[a-z]", word) and re.search(r"[A-Z]", word) and re.search(r"\d", word):
            found.append(word)
    return found


def cassette_tests() -> dict[str, set[str]]:
    """Test id -> sync/action names it runs, read from the replay modules' source."""
    covered: dict[str, set[str]] = {}
    for module in REPLAY_MODULES:
        tree = ast.parse(module.read_text())
        for fn in tree.body:
            if isinstance(fn, ast.AsyncFunctionDef | ast.FunctionDef) and fn.name.startswith(
                "test_"
            ):
                names: set[str] = set()
                for node in ast.walk(fn):
                    if isinstance(node, ast.Call) and getattr(
                        node.func, "attr", getattr(node.func, "id", "")
                    ) in ("run_action", "run_sync", "act"):
                        names.update(
                            a.value
                            for a in node.args
                            if isinstance(a, ast.Constant) and isinstance(a.value, str)
                        )
                covered[f"{module.stem}/{fn.name}"] = names
    return covered


def test_every_manifest_entry_has_a_cassette() -> None:
    manifest = load_manifest()
    wanted = set(manifest.syncs) | set(manifest.actions)
    covered = set().union(*cassette_tests().values())
    assert wanted - covered == set(), "add a cassette-backed test (tests/test_replay_*.py)"


def test_every_cassette_test_has_its_cassette() -> None:
    missing = [t for t in cassette_tests() if not (CASSETTES / f"{t}.yaml").exists()]
    assert missing == [], "run `make record`"
    orphans = [
        p for p in CASSETTES.rglob("*.yaml") if f"{p.parent.name}/{p.stem}" not in cassette_tests()
    ]
    assert orphans == []


def test_the_required_scenarios_are_recorded() -> None:
    text = {p.stem: p.read_text() for p in CASSETTES.rglob("*.yaml")}
    assert text["test_users_sync_over_three_pages"].count("startIndex=") >= 3
    assert "code: 429" in text["test_429_then_success"]
    assert "code: 503" in text["test_503_then_success"]
    assert "code: 409" in text["test_create_user_hits_409_and_recovers"]
    # Two PATCHes only: deactivate, then reactivate on purpose; the 409 in between
    # (create-user on the offboarded user, no reactivate) changed nothing.
    offboarding = text["test_create_user_never_undoes_an_offboarding"]
    assert offboarding.count("code: 409") == 2 and offboarding.count("method: PATCH") == 2
    assert "code: 404" in text["test_deactivate_a_user_already_gone"]
    assert "code: 401" in text["test_expired_key_is_refused_once"]
    assert "loomMemberRole" in text["test_role_the_server_did_not_apply"]


@pytest.mark.parametrize("path", sorted(CASSETTES.rglob("*.yaml")), ids=lambda p: p.stem)
def test_no_secret_or_real_host_in_cassettes(path: Path) -> None:
    text = path.read_text()
    assert looks_secret(text) == []
    for needle in ("127.0.0.1", "localhost", "[::1]", REPLAY_KEY):
        assert needle not in text
    uris = re.findall(r"uri: (\S+)", text)
    assert uris and all(u.startswith(PLACEHOLDER_BASE) for u in uris)


def test_the_secret_scanner_catches_planted_secrets() -> None:
    assert looks_secret("authorization: Bearer abcd1234efgh")
    assert looks_secret('"detail": "token xZ3_kq9LmPw2vR8tYb5NcH7dJf0gTs"')
    assert not looks_secret(
        "Bearer <REDACTED> 0a5d2f346baa9455e3e70682 urn:ietf:params:scim:schemas:core:2.0:User"
    )


def test_scrubber_replaces_token_host_and_personal_data() -> None:
    scrubber = Scrubber(
        real_base="https://bridge.corp.example/scim/v2.0/ws-123",
        token="tok-SECRET-9",
        personal=True,
    )
    scrubber.sent.add("Sent Name")
    body = (
        '{"userName": "real.person@corp.example", "name": {"givenName": "Real", '
        '"familyName": "Sent Name"}, "meta": {"location": "https://bridge.corp.example/scim/v2.0/ws-123/Users/1"},'
        ' "phoneNumbers": [{"value": "+1 555"}], "detail": "tok-SECRET-9"}'
    )
    out = scrubber.response(
        {
            "headers": {"Location": ["https://bridge.corp.example/scim/v2.0/ws-123/Users/1"]},
            "body": {"string": body.encode()},
        }
    )
    text = out["body"]["string"].decode()
    for leaked in ("real.person", "Real", "corp.example", "ws-123", "tok-SECRET-9", "555"):
        assert leaked not in text
    assert "Sent Name" in text and "person1@example.invalid" in text
    assert out["headers"]["Location"] == [f"{PLACEHOLDER_BASE}/Users/1"]


def test_vcr_config_leaves_record_mode_to_the_command_line() -> None:
    config = vcr_config(Scrubber())
    assert "record_mode" not in config
    assert "body" in config["match_on"]


async def test_a_changed_write_body_fails_replay(tmp_path: Path) -> None:
    recorder = vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="none",
        **{k: v for k, v in vcr_config(Scrubber()).items() if k != "allow_playback_repeats"},
    )
    connection = LoomConnection.create(PLACEHOLDER_BASE, REPLAY_KEY)

    def factory(conn: LoomConnection) -> LoomScimClient:
        return LoomScimClient(conn, retry=RetryPolicy(sleep=no_wait))

    host = LocalHost(connection, store=tmp_path / "s.db", client_factory=factory)
    with (
        recorder.use_cassette("test_replay_users/test_set_user_role.yaml"),
        pytest.raises(CannotOverwriteExistingCassetteException),
    ):
        # The cassette holds a POST for cassette.role@...; any other body is unknown.
        await host.run_action(
            "create-user", {"email": "cassette.role@acme.example", "role": "creator"}
        )
    host.close()
