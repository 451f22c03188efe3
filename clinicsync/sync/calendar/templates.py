"""The event templates (calendar.summary, calendar.description), rendered as few times as exact.

Why: a Jinja render builds a context (~12 µs), and the default templates read the patient's
initials, so a 20,000-appointment first push rendered ~6,000 distinct (type, initials, …)
tuples per template. A name a template only prints as it is (``{{ name }}``) or tests for
truth (``{% if name %}``) does not change the rest of the text: the template is rendered once
per *shape* — that name replaced by a marker — and the marker replaced by each value. That is
the text Jinja writes (autoescape is off, a ``str`` prints as itself, two non-empty strings are
both true), so it is done only for non-empty ``str`` values, and only when no input and no
part of the template holds the marker character; anything else is rendered as before.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from operator import itemgetter
from typing import Any

from jinja2 import Template, meta, nodes

MEMO_SIZE = 20_000  # distinct renders kept per template (a few MB at most)
# A marker is _MARK, its number, _END: distinct ends, so no run of text between two markers
# (``{{ type }}0{{ location }}``) reads as a third. Neither character is in any template or
# value this is used with (checked).
_MARK, _END = "\x1e", "\x1f"
# The only nodes a rendered-by-shape name may sit under: anything else (a filter block, a
# captured ``set``, a macro or call block, a block, ``autoescape``) may transform the text
# printed there, and would transform the marker instead of the value.
_PLAIN = (nodes.Template, nodes.Output, nodes.If)


def opaque_names(tree: nodes.Template, names: frozenset[str]) -> frozenset[str]:
    """Those of ``names`` that ``tree`` reads only by printing them as they are or testing
    them for truth (and never assigns): rendering with any other non-empty string in their
    place changes only where they are printed."""
    bad: set[str] = set()

    def walk(node: nodes.Node, plain: bool) -> None:
        plain = plain and isinstance(node, _PLAIN)
        for child in node.iter_child_nodes():
            if isinstance(child, nodes.Name) and child.name in names:
                printed = isinstance(node, nodes.Output) and any(part is child for part in node.nodes)
                tested = isinstance(node, nodes.If) and node.test is child
                if child.ctx != "load" or not (printed or tested) or not plain:
                    bad.add(child.name)
            walk(child, plain)

    walk(tree, True)
    return names - bad


@lru_cache(maxsize=64)
def compiled(env: Any, source: str) -> tuple[Template, nodes.Template, frozenset[str]]:
    """``source`` compiled, parsed, and the names it reads, once per environment and source.

    Why: compiling is ~10 ms a template and every sync pass builds its renderer again with the
    same settings; a compiled Template is immutable and renders from any thread. Keyed by the
    environment object itself (held, so its id is never reused while cached)."""
    tree = env.parse(source)
    return env.from_string(source), tree, frozenset(meta.find_undeclared_variables(tree))


class Memoized:
    """A template rendered once per distinct value of the names it uses, per run, and once per
    shape for the names it prints as they are (:func:`opaque_names`)."""

    def __init__(self, env: Any, source: str, known: frozenset[str] = frozenset()) -> None:
        """``known``: names every context holds; when the template uses only those, a memo key
        is taken by one C-level ``itemgetter`` call instead of a lookup per name."""
        self.template, tree, names = compiled(env, source)
        self.names = tuple(sorted(names))
        self.memo: dict[Any, str] = {}
        self.shapes: dict[tuple[Any, ...], str] = {}
        self._key: Callable[[dict[str, Any]], Any] = (
            itemgetter(*self.names)
            if self.names and known.issuperset(self.names)
            else lambda context: tuple([context.get(name) for name in self.names])
        )
        # itemgetter of one name returns the value itself, not a 1-tuple
        self._bare = len(self.names) == 1 and known.issuperset(self.names)
        marked = _MARK in source or _END in source
        opaque = opaque_names(tree, frozenset(self.names)) if not marked and not env.finalize else ()
        # (position in the key, name, its marker) of each name rendered by shape
        self._opaque = [
            (at, name, f"{_MARK}{index}{_END}")
            for index, (at, name) in enumerate((at, n) for at, n in enumerate(self.names) if n in opaque)
        ]

    def render(self, context: dict[str, Any]) -> str:
        key = self._key(context)
        found = self.memo.get(key)
        if found is None:
            if len(self.memo) >= MEMO_SIZE:
                self.memo.clear()
            found = self.memo[key] = self._render(context, (key,) if self._bare else key)
        return found

    def _render(self, context: dict[str, Any], key: tuple[Any, ...]) -> str:
        if not self._opaque or any(isinstance(value, str) and (_MARK in value or _END in value) for value in key):
            return self.template.render(context).strip()
        shape = list(key)
        values = []
        for at, _name, marker in self._opaque:
            value = key[at]
            if type(value) is str and value:
                shape[at] = marker
                values.append((marker, value))
        if not values:
            return self.template.render(context).strip()
        shape_key = tuple(shape)
        text = self.shapes.get(shape_key)
        if text is None:
            if len(self.shapes) >= MEMO_SIZE:
                self.shapes.clear()
            text = self.shapes[shape_key] = self.template.render(
                {**context, **{name: marker for at, name, marker in self._opaque if shape[at] == marker}}
            )
        for marker, value in values:
            text = text.replace(marker, value)
        return text.strip()
