"""No Docker engine runs here: check that the compose file only uses commands and settings Parley has."""

from pathlib import Path

import click
import yaml

from config.settings import Settings
from server.cli import main

ROOT = Path(__file__).resolve().parents[1]


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_production_services_are_described_with_healthchecks() -> None:
    services = compose()["services"]
    assert {"postgres", "redis", "server", "worker", "beat"} <= set(services)
    for name in ("postgres", "redis", "server", "worker", "beat"):
        assert "healthcheck" in services[name], name


def resolve(argv: list[str]) -> click.Command:
    command: click.Command = main
    ctx = click.Context(main)
    for word in argv:
        if word.startswith("-") or not isinstance(command, click.Group):
            break
        sub = command.get_command(ctx, word)
        assert sub is not None, f"`parley {' '.join(argv)}`: no command {word!r}"
        command = sub
    return command


def test_every_parley_command_in_compose_exists_in_the_cli() -> None:
    seen = 0
    for name, service in compose()["services"].items():
        commands = [service.get("command") or []]
        test = (service.get("healthcheck") or {}).get("test") or []
        if test[:2] == ["CMD", "parley"]:
            commands.append(test[1:])
        for command in commands:
            if command and command[0] == "parley":
                resolved = resolve(command[1:])
                assert not isinstance(resolved, click.Group), f"{name}: `{' '.join(command)}` is a group"
                seen += 1
    assert seen >= 5


def test_every_parley_variable_in_compose_is_a_known_setting() -> None:
    known = {f"PARLEY_{name.upper()}" for name in Settings.model_fields}
    data = compose()
    env_blocks = [s.get("environment") or {} for s in data["services"].values()]
    variables = {k for block in env_blocks for k in block if k.startswith("PARLEY_")}
    assert variables, "compose sets no PARLEY_ variable"
    assert variables <= known, variables - known


def test_a_websocket_proxy_fronts_the_replicas_without_sticky_sessions() -> None:
    services = compose()["services"]
    proxy, server = services["proxy"], services["server"]
    assert "ports" not in server, "the replicas are reached through the proxy only"
    assert proxy["depends_on"]["server"] == {"condition": "service_healthy"}
    assert "healthcheck" in proxy
    mounted = [v.split(":")[0] for v in proxy["volumes"]]
    conf = "\n".join(line.split("#")[0] for line in (ROOT / mounted[0]).read_text().splitlines())
    ws = conf.split("location /ws/")[1].split("}")[0]
    for line in (
        "proxy_http_version 1.1",
        "proxy_set_header Upgrade $http_upgrade",
        "proxy_set_header Connection $connection_upgrade",
        "proxy_buffering off",
    ):
        assert line in ws, line
    timeout = int(ws.split("proxy_read_timeout ")[1].split("s;")[0])
    assert timeout > Settings.model_fields["idle_timeout_s"].default, "the proxy must outlast the idle timeout"
    assert "server server:8000" in conf and "ip_hash" not in conf and "sticky" not in conf
