import re
from pathlib import Path

import pytest
from pydantic import ValidationError
from pydantic_core import PydanticUndefined

from dictation.settings import PLACEHOLDER_SECRET, Settings
from tests.conftest import ROOT

# | `DICTATION_X` | `default` | What it does |
_ROW = re.compile(r"^\|\s*`(DICTATION_[A-Z0-9_]+)`\s*\|\s*`([^`]*)`\s*\|\s*(.*?)\s*\|\s*$")


def _readme_settings_table() -> dict[str, tuple[str, str]]:
    """README's configuration table: variable -> (default as shown, description)."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Configuration", 1)[1].split("\n## ", 1)[0]
    return {m[1]: (m[2], m[3]) for m in map(_ROW.match, section.splitlines()) if m}


def _shown_default(name: str) -> str:
    field = Settings.model_fields[name]
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "—"
    if isinstance(value, Path) and value.is_relative_to(Path.home()):
        return "~/" + str(value.relative_to(Path.home()))
    assert value is not PydanticUndefined, f"{name} has no default: say in README what it must be"
    return str(value)


def test_document_every_setting_in_readme_table():
    table = _readme_settings_table()
    variables = {f"DICTATION_{name.upper()}": name for name in Settings.model_fields}
    assert sorted(set(variables) - set(table)) == [], "settings without a row in README's configuration table"
    assert sorted(set(table) - set(variables)) == [], "README rows for settings that do not exist"
    for variable, name in variables.items():
        default, description = table[variable]
        assert default == _shown_default(name), f"{variable}: README shows another default"
        assert description == Settings.model_fields[name].description, (
            f"{variable}: README's description differs from the one in dictation/settings.py"
        )


def test_every_setting_has_help_text():
    assert all(field.description for field in Settings.model_fields.values())


def test_refuse_placeholder_secret_in_production():
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(environment="production", secret_key=PLACEHOLDER_SECRET)
    key = "kq3V9wYt7pZr2LmXc8NbHs4JdFg6Ae1RuTo5WiEyQxKvUjPn0MlBhCa"  # 58 varied characters: 348 bits
    assert Settings(environment="production", secret_key=key).secret_key == key


def test_read_setting_from_environment(monkeypatch):
    monkeypatch.setenv("DICTATION_MAX_UPLOAD_MB", "7")
    assert Settings().max_upload_mb == 7


def test_get_settings_replaces_placeholder_secret_with_local_key(data_dir):
    from dictation.settings import get_settings

    first = get_settings().secret_key
    assert first != PLACEHOLDER_SECRET and len(first) > 40
    assert (data_dir / "secret.key").stat().st_mode & 0o777 == 0o600
    get_settings.cache_clear()
    assert get_settings().secret_key == first  # the same key after a restart


# Every setting that may hold a secret, each with one the refusal must not print.
_SECRET_SETTINGS = {
    "DICTATION_SMTP_USER": "smtp-user-SECRET1",
    "DICTATION_SMTP_PASSWORD": "smtp-pass-SECRET2",
    "DICTATION_IMAP_URL": "imaps://u:IMAPSECRET3@imap.example/INBOX",
    "DICTATION_DATABASE_URL": "postgresql+psycopg://desk:DBSECRET4@db.example/desk",
    "DICTATION_QUEUE_URL": "redis://:REDISSECRET5@redis.example:6379/0",
    "DICTATION_METRICS_TOKEN": "metrics-SECRET6",
    "DICTATION_MAIL_IN_ADDRESS": "memo+MAILINSECRET7@desk.example",
}
_WEAK_KEY = "hunter2hunter2hunter2"


def _refused_start(tmp_path, *args: str, **extra: str):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("DICTATION_")}
    env.update(_SECRET_SETTINGS, DICTATION_ENVIRONMENT="production", DICTATION_SECRET_KEY=_WEAK_KEY,
               DICTATION_DATA_DIR=str(tmp_path), PYTHONPATH=str(ROOT), **extra)
    return subprocess.run([sys.executable, "-m", "dictation", *args], capture_output=True, text=True, env=env,
                          timeout=120, cwd=tmp_path)  # cwd: no .env of the checkout's


@pytest.mark.parametrize("command", [["serve", "--port", "0"], ["worker"], ["migrate"], ["doctor", "--skip-model"]])
def test_refuse_weak_key_with_a_sentence_that_repeats_no_setting(tmp_path, command):
    done = _refused_start(tmp_path, *command)
    said = done.stdout + done.stderr
    assert done.returncode == 2, said
    for secret in [*_SECRET_SETTINGS.values(), _WEAK_KEY, "hunter2"]:
        assert secret not in said, f"the refusal printed {secret}"
    assert "DICTATION_SECRET_KEY is too weak" in said and "Make one with" in said
    assert "Traceback" not in said and "input_value" not in said


def test_refuse_a_malformed_setting_by_its_name_only(tmp_path):
    done = _refused_start(tmp_path, "worker", DICTATION_SMTP_PORT="587-SECRET8")
    said = done.stdout + done.stderr
    assert done.returncode == 2, said
    assert "DICTATION_SMTP_PORT" in said and "integer" in said
    for secret in [*_SECRET_SETTINGS.values(), "587-SECRET8", _WEAK_KEY]:
        assert secret not in said, f"the refusal printed {secret}"
    assert "Traceback" not in said
