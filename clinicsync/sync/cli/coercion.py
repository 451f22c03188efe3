"""An option left out costs no pydantic TypeAdapter (cron's `sync --once` pays for every one).

typer 0.29 converts each option's value with a pydantic ``TypeAdapter`` that it builds the
first time the option is processed, and click processes every option of the invoked
commands, given or not: `sync --once` built eight adapters (the root's ``--config``,
``--log-level``, …, `sync`'s ``--connector``) to turn ``None`` into ``None``, about 28 ms of
CPU of an idle cron run. typer's own ``RuntimeParam.coerce`` answers ``None`` (or ``()`` for
a repeatable option) before it consults the adapter; this stands in for the adapter until
an option has a value, then builds typer's own and hands the value to it, so a given value
is converted, and refused, exactly as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from typer import _coercion
from typer.core import _TyperParameter


@dataclass(frozen=True)
class _OnFirstValue(_coercion.RuntimeParam):
    """typer's ``RuntimeParam`` for one option, its adapter built on the first value."""

    descriptor: _coercion.TypeDescriptor

    def _coerce_value(self, value: Any, param: _TyperParameter, ctx: Any) -> Any:
        built = _coercion.build_runtime_param(self.descriptor)
        param._runtime_param = built
        return built._coerce_value(value, param=param, ctx=ctx)


def _runtime_param(self: _TyperParameter) -> _coercion.RuntimeParam:
    if self._runtime_param is None:
        descriptor = self.type_descriptor
        self._runtime_param = _OnFirstValue(parameter_info=descriptor.parameter_info,
                                            annotation=descriptor.annotation, descriptor=descriptor)
    return self._runtime_param


def install() -> None:
    """Defer every typer option's adapter to its first value (idempotent)."""
    _TyperParameter.get_runtime_param = _runtime_param  # type: ignore[method-assign]
