"""The base every settings section derives from: unknown keys are errors, and a
secret may come from a file (``password_file:``) as Kubernetes mounts them."""

from __future__ import annotations

import hashlib
import os
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationInfo, model_validator

from clinicsync.common.plugins import quiet_pydantic_plugins

quiet_pydantic_plugins()  # before the first settings model is built (plugins.py says why)


class FileRead(NamedTuple):
    """A file the settings were read from (settings.yaml, a ``*_file`` secret) as it was when
    read: a process that runs for months compares it with the file now (sync/runs/settings_watch.py).
    The digest is of the bytes read; never their content."""

    path: str
    mtime_ns: int
    size: int
    inode: int
    digest: str

    def same_stat(self, stat: os.stat_result) -> bool:
        return (stat.st_mtime_ns, stat.st_size, stat.st_ino) == (self.mtime_ns, self.size, self.inode)


def file_read(path: Path | str, stat: os.stat_result, data: bytes) -> FileRead:
    """What :class:`FileRead` keeps of ``data``, read from ``path`` after ``stat`` was taken (a
    write between the two leaves an older stat: the next look digests the file again)."""
    return FileRead(str(path), stat.st_mtime_ns, stat.st_size, stat.st_ino, hashlib.sha256(data).hexdigest())


def read_file(path: Path) -> tuple[bytes, FileRead]:
    """The file's bytes and what :class:`FileRead` keeps of them."""
    with path.open("rb") as handle:
        stat = os.fstat(handle.fileno())
        data = handle.read()
    return data, file_read(path, stat, data)


def base_dir_from(info: ValidationInfo) -> Path:
    """The folder relative paths in settings are read against (the settings file's)."""
    context = info.context or {}
    return Path(context.get("base_dir", "."))


def resolve_path(value: Path, info: ValidationInfo) -> Path:
    value = value.expanduser()
    return value if value.is_absolute() else base_dir_from(info) / value


def _section_class(default: Any, factory: Any) -> type[SettingsModel] | None:
    if isinstance(default, SettingsModel):
        return type(default)
    return factory if isinstance(factory, type) and issubclass(factory, SettingsModel) else None


@cache
def _reads_context(model: type[SettingsModel]) -> bool:
    """Does a default of ``model`` (or of a section inside it) depend on where the settings
    file is? Those are the fields marked ``validate_default=True`` (relative paths)."""
    for f in model.model_fields.values():
        if f.validate_default:
            return True
        section = _section_class(f.default, f.default_factory)
        if section is not None and section is not model and _reads_context(section):
            return True
    return False


class SettingsModel(BaseModel):
    """Strict: a misspelt key is reported, not silently ignored.

    One rule for relative paths, whoever wrote them (:func:`resolve_path`): a section the
    file leaves out that holds such a default is built from ``{}`` in the same validation
    context (a default instance was built without one), and a field whose
    default is a relative path says ``validate_default=True``, so a default such as
    ``.clinicsync/outbox`` or the default store URL is read against the settings file's
    folder too, never the process's working directory (a cron job started from ``/`` must
    open the same store). tests/sync/test_settings_paths.py checks every such default."""

    # defer_build: a section's own validator is not compiled when its class is defined; the
    # settings' one validator (built on first use) holds every section's schema anyway. An
    # idle `sync --once` compiles 13 fewer (~4 ms of CPU); a section whose instance
    # is some field's default is still built then.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    @model_validator(mode="before")
    @classmethod
    def _absent_sections(cls, data: Any) -> Any:
        """Each left-out section whose default is a settings model is validated from ``{}``,
        in this validation's context (a default instance was built without it)."""
        if not isinstance(data, dict):
            return data
        missing: dict[str, Any] = {
            name: {} for name, f in cls.model_fields.items()
            if name not in data and f.alias not in data
            and (section := _section_class(f.default, f.default_factory)) is not None and _reads_context(section)}
        return {**data, **missing} if missing else data

    @model_validator(mode="before")
    @classmethod
    def _secrets_from_files(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict):
            return data
        secret_fields = {name for name, f in cls.model_fields.items()
                         if f.annotation in (SecretStr, SecretStr | None)}
        out = dict(data)
        for name in secret_fields:
            file_key = f"{name}_file"
            if file_key not in out:
                continue
            if out.get(name) is not None:
                raise ValueError(f"give either {name} or {file_key}, not both")
            path = resolve_path(Path(str(out.pop(file_key))), info)
            try:
                data, read = read_file(path)
            except OSError as exc:
                raise ValueError(f"{file_key}: cannot read {path}: {exc.strerror}") from None
            out[name] = data.decode("utf-8").strip()
            files_read = (info.context or {}).get("files_read")
            if isinstance(files_read, list):  # the service watches it (sync/runs/settings_watch.py)
                files_read.append(read)
        return out
