"""A ``Proposal`` as files: the connector block for settings.yaml and the mapping file, every
line commented with where it came from, secrets only as ``${VAR}`` placeholders.

What the source gave (table and column names, status words, the query built from them) is
*data*, never text pasted into YAML: every key and value goes through PyYAML's safe emitter
(sync/discover/yaml_out.py), which quotes what needs quoting and writes a line break, U+2028,
NEL or a control character as an escape inside double quotes, so each emitted entry is whole
on its lines. Comments carry source text only escaped (``comment``). Before anything is
written, the text is read back and must equal what was proposed (``WriteRefused`` otherwise):
a hostile column name or status word cannot add a key, end a comment or change a status.

Writing never overwrites: a connector of the same name in settings.yaml, or an existing
mapping file, stops it with the reason. The block is inserted as text under the file's
``connectors:`` key (comments and order of the admin's file are kept), and the result is
parsed again before it replaces the file. A settings file without a ``connectors:`` key (the
minimal file of getting-started needs none: no source is known before discover) gets the key
at its end, with the block under it; one whose ``connectors`` is written in another form (a flow
list with items) is left alone: the block is printed for the admin to place.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from clinicsync.sync.discover.cliniclength import use_clinic_length
from clinicsync.sync.discover.proposal import Proposal
from clinicsync.sync.discover.yaml_out import comment, entry, inline

STATUS_HELP = "booked, pending, arrived, checked-in, fulfilled, cancelled, noshow"
# settings.yaml expands ${NAME} in every value (sync/config/config_loader.py) and has no escape for it:
# source text holding one would read the environment into the query.
_EXPANDED = re.compile(r"\$\{")


class WriteRefused(Exception):
    """The proposal was not written; the message says why and what to do."""


@dataclass(frozen=True)
class Written:
    block: str  # the connector block (as inserted, or to be placed by hand)
    mapping_text: str | None
    settings: Path | None  # the settings file the block went into, None when only printed
    mapping: Path | None  # the mapping file written


def _note(text: str | None) -> str:
    """`  # text` after an entry, the text escaped for a comment; '' for no text."""
    return f"  # {comment(text)}" if text else ""


def _with_note(lines: list[str], text: str | None) -> list[str]:
    """The emitted lines of one entry, the note on the first (after a block scalar's header
    or a mapping's key, where YAML allows a comment)."""
    return [lines[0] + _note(text), *lines[1:]]


# What a key's value came from when the discoverer left no note of its own.
_DEFAULT_NOTES = {"name": "the connector's name (--name)", "kind": "the kind of source given ({kind})",
                  "query": "built by discover from the schema", "timezone": "the zone of the source's wall-clock times",
                  "url": "the source given", "mode": "how deletes are seen (docs/connectors/sql.md)"}


def proposed_connector(proposal: Proposal, mapping_ref: str | None) -> dict[str, Any]:
    """The connector item exactly as settings.yaml must read it back."""
    connector = dict(proposal.connector)
    if mapping_ref is not None:
        connector["mapping"] = mapping_ref
    elif proposal.mapping_preset and "query_preset" not in connector:
        connector["mapping"] = proposal.mapping_preset
    return connector


def _refuse_expansions(proposal: Proposal, connector: dict[str, Any]) -> None:
    """A ``${`` in a value discover did not make itself (its secret placeholders) would be
    expanded from the environment by the settings loader: refuse, naming the key."""
    own = {"${" + var + "}" for var in proposal.secret_env}

    def strings(value: Any) -> list[str]:
        if isinstance(value, dict):
            return [s for k, v in value.items() for s in (str(k), *strings(v))]
        if isinstance(value, list):
            return [s for v in value for s in strings(v)]
        return [value] if isinstance(value, str) else []

    for key, value in connector.items():
        if any(_EXPANDED.search(s) and s not in own for s in strings(value)):
            raise WriteRefused(f"the proposed {key!r} holds '${{', which settings.yaml reads as an environment "
                               "variable: nothing was written (rename the table or column, or write this "
                               "connector by hand with a view whose names have no '${')")


def settings_block(proposal: Proposal, mapping_ref: str | None, indent: int = 2) -> str:
    """The connector as one item of ``connectors:``, each key commented with its origin; read
    back, the item equals ``proposed_connector`` (else ``WriteRefused``)."""
    pad = " " * indent
    connector = proposed_connector(proposal, mapping_ref)
    _refuse_expansions(proposal, connector)
    notes = dict(proposal.connector_notes)
    if mapping_ref is not None:
        notes["mapping"] = "the mapping file discover wrote (edit it there)"
    elif "mapping" in connector:
        notes.setdefault("mapping", "the shipped mapping preset")
    what = (f"{proposal.product} (confidence {proposal.product_confidence:.2f})" if proposal.product
            else "an unknown schema, read by its shape")
    lines = [f"{pad}# proposed by `clinicsync discover`: {comment(what)}"]
    for var, meaning in proposal.secret_env.items():
        lines.append(f"{pad}# set ${{{comment(var)}}} in the environment: {comment(meaning)}")
    for index, (key, value) in enumerate(connector.items()):
        note = notes.get(key) or _DEFAULT_NOTES.get(key, "proposed by discover").format(kind=proposal.kind)
        emitted = _with_note(entry(key, value, flow=False, literal=True), note)
        lead = f"{pad}- " if index == 0 else f"{pad}  "
        lines.append(lead + emitted[0])
        lines.extend(f"{pad}  {line}" if line else "" for line in emitted[1:])
    for extra in proposal.notes:
        lines.append(f"{pad}  # note: {comment(extra)}")
    block = "\n".join(lines) + "\n"
    _same(block, [connector], "the connector block")
    return block


def proposed_mapping(proposal: Proposal) -> dict[str, Any] | None:
    """The mapping file's content exactly as it must read back: the proposal's mapping with
    the connector's name, ``status_map`` and ``fields`` always present."""
    if proposal.mapping is None:
        return None
    mapping = dict(proposal.mapping)
    return {"name": proposal.name, **mapping, "status_map": dict(mapping.get("status_map") or {}),
            "fields": dict(mapping.get("fields") or {})}


def mapping_text(proposal: Proposal) -> str | None:
    """The mapping file: extends a preset when one fits, else fields placed by the scorer;
    status words with their counts; the columns nothing took, listed at the end. Read back,
    it equals ``proposed_mapping`` (else ``WriteRefused``)."""
    expected = proposed_mapping(proposal)
    if expected is None:
        return None
    extends = expected.get("extends")
    origin = (f"known product {proposal.product} (confidence {proposal.product_confidence:.2f})"
              if proposal.product else "an unknown schema, read by its shape")
    lines = [f"# Proposed by `clinicsync discover` for connector {comment(inline(proposal.name))}: {comment(origin)}.",
             "# Each line says where it came from. Correct what is wrong, then run `clinicsync check`.",
             *entry("name", proposal.name)]
    if extends is not None:
        lines += _with_note(entry("extends", extends), f"the preset of {origin}")
    if "datetime_formats" in expected:
        lines += _with_note(entry("datetime_formats", expected["datetime_formats"]),
                            "how the source writes its local date-times, read from its values")
    for key, value in expected.items():  # anything else a discoverer proposed, as it is
        if key not in ("name", "extends", "datetime_formats", "status_map", "fields"):
            lines += _with_note(entry(key, value), "proposed by discover")
    status_map: dict[str, Any] = expected["status_map"]
    words: list[str] = []
    for word in proposal.status_words:
        where = f"{word.count} row(s), confidence {word.confidence:.2f}"
        if word.value in status_map:
            why = ", not in the preset: a known status word" if extends else ""
            words += _indented(_with_note(entry(word.value, status_map[word.value]), where + why))
        elif word.status is not None:
            words += _commented(_with_note(entry(word.value, word.status),
                                           where + (", from the preset" if extends else "")))
        else:
            unknown = f"{where}: unknown word: give its status ({STATUS_HELP}), else these rows are quarantined"
            words.append(f"  # {comment(inline(word.value))}: ?{_note(unknown)}")
    seen = {w.value for w in proposal.status_words}
    for value, status in status_map.items():
        if value not in seen:
            words += _indented(entry(value, status))
    lines += _section("status_map", bool(status_map), words,
                      "the status words of the source, each with how many rows carry it")
    fields: dict[str, Any] = expected["fields"]
    placed: list[str] = []
    for guess in proposal.guesses:
        note = f"{guess.why} (confidence {guess.confidence:.2f})"
        if guess.field in fields:
            placed += _indented(_with_note(entry(guess.field, fields[guess.field]), note))
        else:
            placed += _commented(_with_note(entry(guess.field, guess.spec or {"from": guess.source}), note))
    guessed = {g.field for g in proposal.guesses}
    for field, spec in fields.items():
        if field not in guessed:
            placed += _indented(entry(field, spec))
    lines += _section("fields", bool(fields), placed,
                      f"the fields of the preset {extends}" if extends else "the fields discover placed")
    if proposal.unplaced:
        names = ", ".join(inline(name) for name in proposal.unplaced)
        lines.append(f"# Not placed (no field took these columns): {comment(names)}")
    text = "\n".join(lines) + "\n"
    _same(text, expected, "the mapping file")
    return text


def _indented(lines: list[str]) -> list[str]:
    return [f"  {line}" for line in lines]


def _commented(lines: list[str]) -> list[str]:
    """An entry shown but not taken: each of its emitted lines behind '# '."""
    return [f"  # {line}" for line in lines]


def _section(key: str, has_entries: bool, entries: list[str], what: str) -> list[str]:
    """A mapping section: ``key:`` with its entries (commented ones among them); a section with
    no entry of its own lists the commented ones first and ends with ``key: {}``, so that a line
    copied below it is never half inside a flow mapping."""
    if has_entries:
        return [f"{key}:", *entries]
    if not entries:
        return [f"{key}: {{}}"]
    head = f"# {what}; to change one, write it under `{key}:` (replacing the {{}}) without its '#':"
    return [head, *("#" + line.replace("  # ", "  ", 1) for line in entries), f"{key}: {{}}"]


def _same(text: str, expected: Any, what: str) -> None:
    """Refuse to write ``text`` unless YAML reads it back as ``expected``: the last guard that
    no name or value from the source became structure."""
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError:
        loaded = None
    if loaded != expected:
        raise WriteRefused(f"{what} did not read back as proposed (a table, column or status word the YAML "
                           "writer could not keep as data): nothing was written; please report it")


_CONNECTORS = re.compile(r"^connectors:[ \t]*(\[\s*\])?[ \t]*(#.*)?$")
_TOP_KEY = re.compile(r"^[^\s#-]")
_ITEM = re.compile(r"^( *)- ")


def insert_block(settings_text: str, proposal: Proposal, mapping_ref: str | None) -> tuple[str, str] | None:
    """``settings_text`` with the connector block under its ``connectors:`` key and the block
    as inserted; None when the file has no such key."""
    lines = settings_text.splitlines()
    at = next((i for i, line in enumerate(lines) if _CONNECTORS.match(line)), None)
    if at is None:
        if not _without_connectors(settings_text):
            return None
        while lines and not lines[-1].strip():
            lines.pop()
        lines.append("connectors:")
        at = len(lines) - 1
    if _CONNECTORS.match(lines[at]).group(1):  # type: ignore[union-attr]
        lines[at] = "connectors:"
    end = next((i for i in range(at + 1, len(lines)) if _TOP_KEY.match(lines[i])), len(lines))
    indent = next((len(m.group(1)) for line in lines[at + 1:end] if (m := _ITEM.match(line))), 2)
    while end > at + 1 and not lines[end - 1].strip():
        end -= 1
    block = settings_block(proposal, mapping_ref, indent)
    new = lines[:end] + block.rstrip("\n").split("\n") + lines[end:]
    return "\n".join(new) + "\n", block


def _without_connectors(settings_text: str) -> bool:
    """The file is a mapping of sections with no ``connectors`` key at all (nor an empty file):
    the key can be added at its end."""
    try:
        data = yaml.safe_load(settings_text)
    except yaml.YAMLError:
        return False
    return isinstance(data, dict) and "connectors" not in data


def _connectors(settings_text: str) -> list[dict[str, Any]]:
    try:
        data = yaml.safe_load(settings_text) or {}
    except yaml.YAMLError as exc:
        raise WriteRefused(f"the settings file is not valid YAML: {exc}") from None
    connectors = data.get("connectors") if isinstance(data, dict) else None
    return [c for c in connectors or [] if isinstance(c, dict)]


def _existing_names(settings_text: str) -> set[str]:
    return {str(c.get("name")) for c in _connectors(settings_text)}


def write_proposal(proposal: Proposal, settings_path: Path, mapping_dir: Path | None = None,
                   print_only: bool = False) -> Written:
    """Write the mapping file (``mappings/NAME.yaml`` beside settings.yaml, or in
    ``mapping_dir``) and add the connector block to ``settings_path`` (under a ``connectors:``
    key added at its end when it has none); with ``print_only``, or when its ``connectors`` is
    in a form the block cannot be placed in, the block is returned for printing and the settings
    file is not touched."""
    if not proposal.name or proposal.name != Path(proposal.name).name or proposal.name.startswith("."):
        raise WriteRefused(f"the connector name {proposal.name!r} cannot name a mapping file (no '/', '\\', or "
                           "leading '.'): nothing was written (choose another with --name)")
    settings_text = settings_path.read_text(encoding="utf-8") if settings_path.is_file() else None
    use_clinic_length(proposal, settings_text)
    text = mapping_text(proposal)
    base = settings_path.resolve().parent
    folder = (mapping_dir if mapping_dir is not None else base / "mappings").resolve()
    mapping_path = folder / f"{proposal.name}.yaml" if text is not None else None
    mapping_ref = None
    if mapping_path is not None:
        mapping_ref = (str(mapping_path.relative_to(base)) if mapping_path.is_relative_to(base)
                       else str(mapping_path))
    if settings_text is not None and proposal.name in _existing_names(settings_text):
        raise WriteRefused(f"settings.yaml already has a connector named {proposal.name!r}: nothing was written "
                           "(choose another with --name)")
    if mapping_path is not None and mapping_path.exists():
        raise WriteRefused(f"{mapping_path} exists already: nothing was written (choose another --name, or "
                           "move the file away)")
    block = settings_block(proposal, mapping_ref)
    inserted = None if print_only or settings_text is None else insert_block(settings_text, proposal, mapping_ref)
    if inserted is not None:
        new_text, block = inserted
        mine = [c for c in _connectors(new_text) if c.get("name") == proposal.name]
        if mine != [proposed_connector(proposal, mapping_ref)]:
            raise WriteRefused("the connector block could not be placed under `connectors:` (an unusual layout): "
                               "nothing was written; run with --print and place it by hand")
    if mapping_path is not None and text is not None:
        folder.mkdir(parents=True, exist_ok=True)
        mapping_path.write_text(text, encoding="utf-8")
    if inserted is None:
        return Written(block, text, None, mapping_path)
    temporary = settings_path.with_name(settings_path.name + ".discover-tmp")
    temporary.write_text(new_text, encoding="utf-8")
    os.replace(temporary, settings_path)
    return Written(block, text, settings_path, mapping_path)
