"""The base every settings section derives from: unknown keys are errors, and a
secret may come from a file (``password_file:``) as Kubernetes mounts them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationInfo, model_validator


def base_dir_from(info: ValidationInfo) -> Path:
    """The folder relative paths in settings are read against (the settings file's)."""
    context = info.context or {}
    return Path(context.get("base_dir", "."))


def resolve_path(value: Path, info: ValidationInfo) -> Path:
    value = value.expanduser()
    return value if value.is_absolute() else base_dir_from(info) / value


class SettingsModel(BaseModel):
    """Strict: a misspelt key is reported, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

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
                out[name] = path.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ValueError(f"{file_key}: cannot read {path}: {exc.strerror}") from None
        return out
