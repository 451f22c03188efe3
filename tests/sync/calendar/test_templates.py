"""Templates rendered by shape (sync/calendar/templates.py) say exactly what Jinja says."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2 import meta

from clinicsync.sync.calendar.templates import Memoized, opaque_names
from clinicsync.sync.config.settings.calendar import DEFAULT_DESCRIPTION, DEFAULT_SUMMARY, template_environment

NAMES = ("type", "patient_initials", "join_url", "dial_in", "visit_mode", "cancelled", "noshow")
TEMPLATES = [
    DEFAULT_SUMMARY,
    DEFAULT_DESCRIPTION,
    "{{ patient_initials }}-{{ patient_initials }} {{ type }}",  # printed twice
    "{{ patient_initials|upper }} {{ type }}",  # a filter: not by shape
    "{% if patient_initials == 'A.B.' %}same{% endif %}{{ patient_initials }}",  # compared
    "{{ patient_initials ~ '!' }} {{ patient_initials|length }}",  # concatenated, measured
    "{% for c in patient_initials %}[{{ c }}]{% endfor %}",  # iterated
    "{% set patient_initials = 'X' %}{{ patient_initials }}{{ type }}",  # assigned
    "  {% if type %}{{ type }}{% else %}none{% endif %} {{ join_url }} ",  # stripped
    "{{ type or 'Appointment' }} ({{ dial_in }})",
]
# Values with the marker character, spaces to strip, empty strings, None and booleans (not
# integers too: a memo key cannot tell True from 1, before this change as after).
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(["", " ", "A.B.", "\x1e0\x1e", "\x1e"]),
    st.text(alphabet="AB. \x1e0,;é\n", max_size=6),
)


def _env() -> Any:
    return template_environment()


def test_opaque_names_of_the_defaults() -> None:
    env = _env()

    def opaque(source: str) -> frozenset[str]:
        tree = env.parse(source)
        return opaque_names(tree, frozenset(meta.find_undeclared_variables(tree)))

    assert opaque(DEFAULT_SUMMARY) == {"cancelled", "noshow", "patient_initials"}
    assert opaque(DEFAULT_DESCRIPTION) == {"patient_initials", "join_url", "dial_in"}
    assert opaque("{{ patient_initials|upper }}{% if type == 'x' %}{{ type }}{% endif %}") == set()


@pytest.mark.parametrize("source", TEMPLATES)
@settings(max_examples=40, deadline=None)
@given(contexts=st.lists(st.fixed_dictionaries({name: VALUES for name in NAMES}), min_size=1, max_size=8))
def test_same_text_as_jinja(source: str, contexts: list[dict[str, Any]]) -> None:
    """Each context rendered through one memo (shapes shared between them) gives Jinja's text."""
    env = _env()
    memoized = Memoized(env, source, frozenset(NAMES))
    plain = env.from_string(source)
    for context in contexts:
        try:
            expected = plain.render(context).strip()
        except Exception as exc:  # a template error is raised the same way
            with pytest.raises(type(exc)):
                memoized.render(context)
            continue
        assert memoized.render(context) == expected


def test_rendered_once_per_shape() -> None:
    """Many initials, one render of the template: the point of it."""
    env = _env()
    memoized = Memoized(env, DEFAULT_SUMMARY, frozenset(NAMES))
    calls = []
    render = memoized.template.render
    memoized.template.render = lambda context: calls.append(1) or render(context)  # type: ignore[method-assign]
    base = dict.fromkeys(NAMES, None) | {"type": "Checkup", "cancelled": False, "noshow": False}
    texts = [memoized.render(base | {"patient_initials": f"{a}.{b}."}) for a in "ABC" for b in "XYZ"]
    assert texts[0] == "Checkup (A.X.)" and len(set(texts)) == 9
    assert len(calls) == 1


@pytest.mark.parametrize(("source", "context"), [
    ("{% filter upper %}{{ patient_initials }}{% endfilter %}", {"patient_initials": "j.d."}),
    ("{% set t %}{{ join_url }}{% endset %}{{ t|truncate(10, True, '') }}", {"join_url": "https://meet.example/abc"}),
    ("{% autoescape true %}{{ join_url }}{% endautoescape %}", {"join_url": "https://x.example/?a=1&b=2"}),
    ("{% macro m() %}{{ type }}{% endmacro %}{{ m()|upper }}", {"type": "check-up"}),
    ("{{ type }}0{{ location }}", {"type": "A", "location": "B"}),
    ("{{ type }}1{{ location }}0{{ type }}", {"type": "x", "location": "y"}),
])
def test_text_transformed_around_a_name_or_digits_between_names_render_as_jinja(
        source: str, context: dict[str, Any]) -> None:
    """Review finds: a filter block, a captured set, autoescape or a macro around a printed
    name would transform the marker, not the value; digits between two markers read as a third."""
    env = template_environment()
    for known in (frozenset(), frozenset(context)):  # a key by a lookup per name, and by itemgetter
        memo = Memoized(env, source, known)
        assert memo.render(context) == env.from_string(source).render(context).strip()
        assert memo.render(context) == env.from_string(source).render(context).strip()  # from the memo
