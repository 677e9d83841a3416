"""docker-compose.yml, as a real Compose parser reads it, holds SPEC §3's values.

`docker compose config` (or Debian's docker-compose) interpolates and
normalizes the file without a Docker engine; the assertions run on its output.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml

from ailawyer.redis_target import RedisTarget
from tests.deploy.support import REPO, TEST_AUTH_SECRET
from tests.fixtures.services import RedisServer, free_port, redis_server_binary
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.slow

COMPOSE_FILE = REPO / "docker-compose.yml"
PEERS = {"minio", "meilisearch", "onlyoffice"}
SENTINELS = {"redis-sentinel-1", "redis-sentinel-2", "redis-sentinel-3"}
HA = {"redis-replica", *SENTINELS}
CORE = {"db", "redis", "app", "worker"}
OBSERVABILITY = {"jaeger"}
# The plan's Redis: append-only file, snapshots, and never evict a job.
PLAN_REDIS = ["--appendonly", "yes", "--maxmemory-policy", "noeviction", "--save", "60", "1000"]
REQUIRED = {"AUTH_SECRET": TEST_AUTH_SECRET, "POSTGRES_PASSWORD": "0123abcd0123abcd"}


def compose_command() -> list[str]:
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy:
        return [legacy]
    pytest.fail("no Compose on PATH: `bash scripts/bootstrap.sh --test` installs docker-compose")


def run_config(
    tmp_path: Path, variables: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    """`compose config` with exactly `variables` (no developer .env, no inherited env)."""
    env_file = tmp_path / "compose.env"
    env_file.write_text("")
    # Only what finds the binary and its plugins (HOME, DOCKER_CONFIG), plus `variables`.
    inherited = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "DOCKER_CONFIG")}
    env = {**inherited, **variables}
    return subprocess.run(
        [
            *compose_command(),
            "--project-directory",
            str(REPO),
            "-f",
            str(COMPOSE_FILE),
            "--env-file",
            str(env_file),
            *args,
            "config",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def config(tmp_path: Path, *args: str, **variables: str) -> dict[str, Any]:
    result = run_config(tmp_path, {**REQUIRED, **variables}, *args)
    assert result.returncode == 0, result.stderr
    parsed: dict[str, Any] = yaml.safe_load(result.stdout)
    return parsed


# Compose v1 and v2 normalize a few fields differently; these bring both to one form.
def command_of(service: dict[str, Any]) -> list[str]:
    command = service["command"]
    return shlex.split(command) if isinstance(command, str) else [str(c) for c in command]


def ports_of(service: dict[str, Any]) -> list[str]:
    found = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            found.append(f"{port['published']}:{port['target']}")
        else:
            found.append(str(port))
    return found


def volumes_of(service: dict[str, Any]) -> set[tuple[str, str]]:
    found = set()
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            found.add((volume["source"], volume["target"]))
        else:
            source, target, *_ = volume.split(":")
            found.add((source, target))
    return found


def healthy_dependencies(service: dict[str, Any]) -> set[str]:
    return {
        name
        for name, how in service.get("depends_on", {}).items()
        if how.get("condition") == "service_healthy"
    }


@pytest.fixture
def services(tmp_path: Path) -> dict[str, Any]:
    parsed = config(tmp_path)
    found: dict[str, Any] = parsed["services"]
    return found


def test_redis_is_the_plans_redis(services: dict[str, Any]) -> None:
    redis = services["redis"]
    assert redis["image"] == "redis:7-alpine"
    assert redis["container_name"] == "ailawyer-redis"
    assert redis["restart"] == "unless-stopped"
    assert command_of(redis) == [
        "redis-server",
        "--appendonly",
        "yes",
        "--maxmemory-policy",
        "noeviction",
        "--save",
        "60",
        "1000",
    ]
    assert ports_of(redis) == ["6379:6379"]
    assert ("redisdata", "/data") in volumes_of(redis)
    check = redis["healthcheck"]
    assert check["test"] == ["CMD", "redis-cli", "ping"]
    assert (check["interval"], check["timeout"], int(check["retries"])) == ("5s", "3s", 5)


def test_database_is_postgres_with_a_readiness_check(services: dict[str, Any]) -> None:
    db = services["db"]
    assert db["image"] == "postgres:16-alpine"
    assert db["restart"] == "unless-stopped"
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert ("pgdata", "/var/lib/postgresql/data") in volumes_of(db)
    assert db["environment"]["POSTGRES_PASSWORD"] == REQUIRED["POSTGRES_PASSWORD"]


def test_worker_runs_the_app_image_with_the_plans_settings(services: dict[str, Any]) -> None:
    app, worker = services["app"], services["worker"]
    assert worker["build"] == app["build"]
    assert worker["image"] == app["image"]
    assert Path(worker["build"]["context"]) == REPO
    assert (REPO / worker["build"].get("dockerfile", "Dockerfile")).is_file()
    assert command_of(worker) == ["ailawyer", "worker"]
    assert worker["container_name"] == "ailawyer-worker"
    assert worker["restart"] == "unless-stopped"
    assert worker["stop_grace_period"] == "30s"
    env = worker["environment"]
    assert env["NODE_ENV"] == env["APP_ENV"] == "production"
    assert env["REDIS_URL"] == "redis://redis:6379"
    assert re.fullmatch(r"postgresql://ailawyer:[0-9a-f]+@db:5432/ailawyer", env["DATABASE_URL"])
    assert env["LOG_LEVEL"] == "info"
    assert env["LOG_FILE_PATH"] == "/var/log/ai-lawyer/worker"
    assert env["AUTH_SECRET"] == TEST_AUTH_SECRET
    assert healthy_dependencies(worker) == {"redis", "db"}
    assert ("worker_logs", "/var/log/ai-lawyer") in volumes_of(worker)
    assert command_of({"command": worker["healthcheck"]["test"]}) == [
        "CMD",
        "ailawyer",
        "worker",
        "--check",
    ]


def test_app_serves_on_8000_after_redis_and_db(services: dict[str, Any]) -> None:
    app = services["app"]
    assert command_of(app) == ["ailawyer", "serve", "--host", "0.0.0.0", "--port", "8000"]
    assert ports_of(app) == ["8000:8000"]
    env = app["environment"]
    assert env["REDIS_URL"] == "redis://redis:6379"
    assert env["DATABASE_URL"] == services["worker"]["environment"]["DATABASE_URL"]
    assert env["AUTH_SECRET"] == TEST_AUTH_SECRET
    assert env["APP_ENV"] == "production"
    assert env["LOG_FILE_PATH"] == "/var/log/ai-lawyer/app"
    assert healthy_dependencies(app) == {"redis", "db"}
    assert ("app_logs", "/var/log/ai-lawyer") in volumes_of(app)


def test_named_volumes_are_declared(tmp_path: Path) -> None:
    parsed = config(tmp_path)
    used = {
        source
        for service in parsed["services"].values()
        for source, _ in volumes_of(service)
        if not source.startswith(("/", "."))
    }
    assert used >= {"redisdata", "pgdata", "app_logs", "worker_logs"}
    assert used <= set(parsed["volumes"])


def test_peers_sit_behind_a_profile_and_are_not_configured_by_default(
    services: dict[str, Any], tmp_path: Path
) -> None:
    # Compose v2 leaves inactive profiles out of `config`; v1 lists them.
    assert CORE <= set(services) <= CORE | PEERS | HA | OBSERVABILITY
    with_peers = config(tmp_path, "--profile", "peers")["services"]
    assert CORE | PEERS <= set(with_peers) <= CORE | PEERS | HA | OBSERVABILITY
    for name in PEERS:
        assert with_peers[name].get("profiles") == ["peers"], name
    for name in CORE:
        assert not with_peers[name].get("profiles"), name
    env = services["app"]["environment"]
    for variable in ("MINIO_ENDPOINT", "MEILISEARCH_URL", "ONLYOFFICE_INTERNAL_URL"):
        # Empty is what the app's settings read as "not configured".
        assert env[variable] in ("", None), variable


def test_documented_peer_urls_reach_the_peer_services(tmp_path: Path) -> None:
    """The URLs .env.example suggests land in the app and name a compose service."""
    example = (REPO / ".env.example").read_text()
    urls = {}
    for variable in ("MINIO_ENDPOINT", "MEILISEARCH_URL", "ONLYOFFICE_INTERNAL_URL"):
        match = re.search(rf"^# {variable}=(\S+)$", example, re.MULTILINE)
        assert match, f"{variable} is not documented in .env.example"
        urls[variable] = match.group(1)
    parsed = config(tmp_path, COMPOSE_PROFILES="peers", **urls)
    env = parsed["services"]["app"]["environment"]
    for variable, url in urls.items():
        assert env[variable] == url
        host = re.sub(r"^https?://", "", url).split(":")[0].split("/")[0]
        assert host in PEERS and host in parsed["services"], url


def test_traces_go_to_the_observability_profiles_jaeger_when_told(tmp_path: Path) -> None:
    """Off by default; the endpoint .env.example suggests reaches app and worker and
    names the profile's Jaeger, whose UI is published on loopback only."""
    default = config(tmp_path)["services"]
    for name in ("app", "worker"):
        # Empty is what the settings read as "no tracing".
        assert default[name]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"] in ("", None), name
    example = (REPO / ".env.example").read_text()
    match = re.search(r"^# OTEL_EXPORTER_OTLP_ENDPOINT=(http://jaeger:\S+)$", example, re.MULTILINE)
    assert match, "the observability profile's endpoint is not documented in .env.example"
    url = match.group(1)
    parsed = config(tmp_path, COMPOSE_PROFILES="observability", OTEL_EXPORTER_OTLP_ENDPOINT=url)[
        "services"
    ]
    assert CORE | OBSERVABILITY <= set(parsed) <= CORE | PEERS | HA | OBSERVABILITY
    assert parsed["jaeger"].get("profiles") == ["observability"]
    assert parsed["jaeger"]["image"].startswith("jaegertracing/")
    for name in ("app", "worker"):
        assert parsed[name]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == url
    assert url == "http://jaeger:4318"  # Jaeger's OTLP/HTTP port, inside the network
    [published] = parsed["jaeger"]["ports"]
    if isinstance(published, dict):  # Compose v2's long form
        published = f"{published['host_ip']}:{published['published']}:{published['target']}"
    assert published.removesuffix("/tcp") == "127.0.0.1:16686:16686"


def test_the_trace_sampler_reaches_app_and_worker(tmp_path: Path) -> None:
    """Unset, compose passes an empty value, which the settings read as the default."""
    default = config(tmp_path)["services"]
    chosen = config(
        tmp_path, OTEL_TRACES_SAMPLER="parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG="0.1"
    )["services"]
    for name in ("app", "worker"):
        env = default[name]["environment"]
        assert env["OTEL_TRACES_SAMPLER"] in ("", None), name
        assert env["OTEL_TRACES_SAMPLER_ARG"] in ("", None), name
        assert chosen[name]["environment"]["OTEL_TRACES_SAMPLER"] == "parentbased_traceidratio"
        assert chosen[name]["environment"]["OTEL_TRACES_SAMPLER_ARG"] == "0.1"


@pytest.mark.parametrize("missing", sorted(REQUIRED))
def test_a_missing_secret_stops_compose_with_its_name(tmp_path: Path, missing: str) -> None:
    variables = {name: value for name, value in REQUIRED.items() if name != missing}
    result = run_config(tmp_path, variables)
    assert result.returncode != 0
    assert f"{missing} is required" in result.stderr


def documented_sentinel_url() -> str:
    example = (REPO / ".env.example").read_text()
    match = re.search(r"^# REDIS_URL=(redis\+sentinel://\S+)$", example, re.MULTILINE)
    assert match, "the ha profile's REDIS_URL is not documented in .env.example"
    return match.group(1)


def sentinel_script(service: dict[str, Any]) -> str:
    """The shell script a sentinel service runs (`sh -c <script>`)."""
    command = command_of(service)
    assert command[:2] == ["sh", "-c"], command
    return command[2]


def test_the_ha_profile_adds_a_replica_and_three_sentinels(tmp_path: Path) -> None:
    url = documented_sentinel_url()
    parsed = config(tmp_path, "--profile", "ha", REDIS_URL=url)
    services = parsed["services"]
    assert set(services) >= CORE | HA
    for name in HA:
        assert services[name].get("profiles") == ["ha"], name

    # The primary is the plan's `redis`, unchanged; the replica keeps its values.
    primary, replica = services["redis"], services["redis-replica"]
    assert command_of(primary) == ["redis-server", *PLAN_REDIS]
    replica_command = command_of(replica)
    assert replica_command[: len(PLAN_REDIS) + 1] == ["redis-server", *PLAN_REDIS]
    at = replica_command.index("--replicaof")
    assert replica_command[at + 1 : at + 3] == ["redis", "6379"]
    assert replica["image"] == primary["image"]
    assert replica["restart"] == "unless-stopped"
    assert healthy_dependencies(replica) == {"redis"}
    assert replica["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    data_volumes = [volumes_of(services[name]) for name in ("redis", *sorted(HA))]
    sources = [source for volumes in data_volumes for source, target in volumes]
    assert len(sources) == len(set(sources)) == 1 + len(HA), "a data volume each"
    assert set(sources) <= set(parsed["volumes"])

    # Three sentinels watch `redis` under the URL's master name, two must agree.
    target = RedisTarget.parse(url)
    assert set(target.sentinels) == {(name, 26379) for name in SENTINELS}
    for name in SENTINELS:
        sentinel = services[name]
        script = sentinel_script(sentinel)
        assert f"sentinel monitor {target.service_name} redis 6379 2" in script
        assert "port 26379" in script and "sentinel resolve-hostnames yes" in script
        assert "--sentinel" in script
        assert [target for _, target in volumes_of(sentinel)] == ["/data"]
        assert healthy_dependencies(sentinel) == {"redis"}
        assert sentinel["restart"] == "unless-stopped"
        assert sentinel["healthcheck"]["test"] == ["CMD", "redis-cli", "-p", "26379", "ping"]

    # App and worker ask the sentinels; the worker's health check is unchanged.
    for name in ("app", "worker"):
        assert services[name]["environment"]["REDIS_URL"] == url, name
    assert command_of({"command": services["worker"]["healthcheck"]["test"]})[-1] == "--check"


def test_without_the_profile_app_and_worker_use_the_plain_redis(services: dict[str, Any]) -> None:
    for name in ("app", "worker"):
        env = services[name]["environment"]
        assert env["REDIS_URL"] == "redis://redis:6379"
        assert env["REDIS_SENTINEL_PASSWORD"] in ("", None)


@pytest.mark.slow
def test_a_sentinel_service_starts_and_follows_the_primary(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    """The sentinel's script, run for real: its config is written once, and the
    sentinel it starts knows the primary (loopback and free ports for the
    container's names and ports)."""
    services = config(tmp_path, "--profile", "ha")["services"]
    port = free_port()
    data = tmp_path / "sentinel-data"
    data.mkdir()
    script = (
        sentinel_script(services["redis-sentinel-1"])
        .replace("/data/", f"{data}/")
        .replace("port 26379", f"port {port}")
        .replace(" redis 6379 ", f" 127.0.0.1 {redis_server.port} ")
        .replace("exec redis-server", f"exec {shlex.quote(redis_server_binary())}")
    )
    process = subprocess.Popen(["sh", "-c", script])
    try:
        client = redis.Redis(port=port, socket_connect_timeout=0.5, decode_responses=True)

        def primary() -> object:
            try:
                return client.sentinel_get_master_addr_by_name("ailawyer")
            except redis.RedisError:
                return None

        assert wait_until(lambda: primary() is not None, 15)
        assert primary() == ("127.0.0.1", redis_server.port)
        client.close()
    finally:
        process.terminate()
        process.wait(10)
    written = (data / "sentinel.conf").read_text()
    assert "sentinel monitor ailawyer 127.0.0.1" in written or "sentinel myid" in written
    # A second start keeps what the sentinel wrote (the current primary after a failover).
    before = written
    subprocess.run(["sh", "-c", script.replace("exec ", "true ")], check=True, timeout=10)
    assert (data / "sentinel.conf").read_text() == before
