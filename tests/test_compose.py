"""``compose.yaml`` (not run by the tests): its services and the fleet's variables agree
with the settings module, so a renamed variable or a dropped service is caught here."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from loom_scim_connector.fleet import connections, settings

COMPOSE = Path(__file__).resolve().parent.parent / "compose.yaml"


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def test_the_services_the_tests_use_listen_where_the_tests_look() -> None:
    services = _compose()["services"]
    ports = {name: services[name]["ports"] for name in ("postgres", "redis", "rabbitmq")}
    assert ports == {
        "postgres": ["127.0.0.1:5432:5432"],
        "redis": ["127.0.0.1:6379:6379"],
        "rabbitmq": ["127.0.0.1:5672:5672"],
    }
    assert services["postgres"]["environment"]["POSTGRES_DB"] == "test"


def test_the_fleet_runs_on_rabbitmq_with_variables_the_settings_read() -> None:
    services = _compose()["services"]
    known = {
        value
        for name, value in vars(settings).items()
        if name.startswith("ENV_") and isinstance(value, str)
    } | {connections.ENV_FERNET_KEY}
    for name in ("worker", "beat"):
        env = services[name]["environment"]
        assert set(env) <= known, set(env) - known
        assert {settings.ENV_BROKER, settings.ENV_REDIS, settings.ENV_DATABASE} <= set(env)
        assert settings.broker_kind(env[settings.ENV_BROKER]) == "amqp"
        assert settings.broker_kind(env[settings.ENV_REDIS]) == "redis"
        assert "loom-scim fleet " + ("worker" if name == "worker" else "beat") in str(
            services[name]["command"]
        )
    assert services["beat"]["deploy"]["replicas"] == 1  # exactly one beat
    assert "loom-scim fleet health --hostname" in str(services["worker"]["healthcheck"]["test"])


def test_rabbitmqs_consumer_timeout_outlasts_the_longest_sync() -> None:
    args = _compose()["services"]["rabbitmq"]["environment"]["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"]
    found = re.search(r"-rabbit consumer_timeout (\d+)", args)
    assert found is not None
    assert int(found.group(1)) >= settings.CONSUMER_TIMEOUT_MS
    assert settings.CONSUMER_TIMEOUT_MS > 86400 * 1000 + settings.DEFAULT_BUSY_RETRY * 10 * 1000


def test_the_fleet_processes_come_back_when_killed() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    for name in ("worker", "beat"):
        assert services[name].get("restart") == "unless-stopped", name
