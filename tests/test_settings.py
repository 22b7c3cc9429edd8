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
