import pytest
from pydantic import ValidationError

from dictation.settings import PLACEHOLDER_SECRET, Settings
from tests.conftest import ROOT


def test_every_setting_documented_in_readme():
    readme = (ROOT / "README.md").read_text()
    missing = [f"DICTATION_{name.upper()}" for name in Settings.model_fields
               if f"DICTATION_{name.upper()}" not in readme]
    assert not missing, f"settings missing from README.md: {missing}"


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
