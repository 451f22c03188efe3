"""A ``Proposal`` as files: the connector block for settings.yaml and the mapping file, every
line commented with where it came from, secrets only as ``${VAR}`` placeholders.

Writing never overwrites: a connector of the same name in settings.yaml, or an existing
mapping file, stops it with the reason. The block is inserted as text under the file's
``connectors:`` key (comments and order of the admin's file are kept), and the result is
parsed again before it replaces the file. A settings file without a ``connectors:`` key is
left alone: the block is printed for the admin to place.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from clinicsync.sync.discover.proposal import Proposal

STATUS_HELP = "booked, pending, arrived, checked-in, fulfilled, cancelled, noshow"


class WriteRefused(Exception):
    """The proposal was not written; the message says why and what to do."""


@dataclass(frozen=True)
class Written:
    block: str  # the connector block (as inserted, or to be placed by hand)
    mapping_text: str | None
    settings: Path | None  # the settings file the block went into, None when only printed
    mapping: Path | None  # the mapping file written


def _scalar(value: Any) -> str:
    dumped = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10_000, sort_keys=False).strip()
    return dumped.removesuffix("\n...").removesuffix("...").strip()


def _comment(note: str | None) -> str:
    return f"  # {' '.join(note.split())}" if note else ""


# What a key's value came from when the discoverer left no note of its own.
_DEFAULT_NOTES = {"name": "the connector's name (--name)", "kind": "the kind of source given ({kind})",
                  "query": "built by discover from the schema", "timezone": "the zone of the source's wall-clock times",
                  "url": "the source given", "mode": "how deletes are seen (docs/connectors/sql.md)"}


def settings_block(proposal: Proposal, mapping_ref: str | None, indent: int = 2) -> str:
    """The connector as one item of ``connectors:``, each key commented with its origin."""
    pad = " " * indent
    connector = dict(proposal.connector)
    notes = dict(proposal.connector_notes)
    if mapping_ref is not None:
        connector["mapping"] = mapping_ref
        notes["mapping"] = "the mapping file discover wrote (edit it there)"
    elif proposal.mapping_preset and "query_preset" not in connector:
        connector["mapping"] = proposal.mapping_preset
        notes.setdefault("mapping", "the shipped mapping preset")
    what = (f"{proposal.product} (confidence {proposal.product_confidence:.2f})" if proposal.product
            else "an unknown schema, read by its shape")
    lines = [f"{pad}# proposed by `clinicsync discover`: {what}"]
    for var, meaning in proposal.secret_env.items():
        lines.append(f"{pad}# set ${{{var}}} in the environment: {meaning}")
    first = True
    for key, value in connector.items():
        lead = f"{pad}- " if first else f"{pad}  "
        first = False
        note = _comment(notes.get(key) or _DEFAULT_NOTES.get(key, "proposed by discover").format(kind=proposal.kind))
        if isinstance(value, str) and "\n" in value:
            lines.append(f"{lead}{key}: |{note}")
            lines.extend(f"{pad}    {line}" if line else "" for line in value.rstrip("\n").split("\n"))
        elif isinstance(value, dict | list) and value:
            lines.append(f"{lead}{key}:{note}")
            dumped = yaml.safe_dump(value, default_flow_style=False, allow_unicode=True, sort_keys=False)
            lines.extend(f"{pad}    {line}" for line in dumped.rstrip("\n").split("\n"))
        else:
            lines.append(f"{lead}{key}: {_scalar(value)}{note}")
    for note in proposal.notes:
        lines.append(f"{pad}  # note: {' '.join(note.split())}")
    return "\n".join(lines) + "\n"


def mapping_text(proposal: Proposal) -> str | None:
    """The mapping file: extends a preset when one fits, else fields placed by the scorer;
    status words with their counts; the columns nothing took, listed at the end."""
    if proposal.mapping is None:
        return None
    mapping = proposal.mapping
    extends = mapping.get("extends")
    origin = (f"known product {proposal.product} (confidence {proposal.product_confidence:.2f})"
              if proposal.product else "an unknown schema, read by its shape")
    lines = [f"# Proposed by `clinicsync discover` for connector {proposal.name!r}: {origin}.",
             "# Each line says where it came from. Correct what is wrong, then run `clinicsync check`.",
             f"name: {_scalar(proposal.name)}"]
    if extends:
        lines.append(f"extends: {_scalar(extends)}{_comment(f'the preset of {origin}')}")
    formats = mapping.get("datetime_formats")
    if formats:
        lines.append(f"datetime_formats: {_scalar(list(formats))}"
                     f"{_comment('how the source writes its local date-times, read from its values')}")
    status_map = mapping.get("status_map") or {}
    words: list[str] = []
    for word in proposal.status_words:
        where = f"{word.count} row(s), confidence {word.confidence:.2f}"
        key = _scalar(word.value)
        if word.value in status_map:
            why = ", not in the preset: a known status word" if extends else ""
            words.append(f"  {key}: {status_map[word.value]}{_comment(where + why)}")
        elif word.status is not None:
            words.append(f"  # {key}: {word.status}{_comment(where + (', from the preset' if extends else ''))}")
        else:
            unknown = f"{where}: unknown word: give its status ({STATUS_HELP}), else these rows are quarantined"
            words.append(f"  # {key}: ?{_comment(unknown)}")
    seen = {w.value for w in proposal.status_words}
    words += [f"  {_scalar(word)}: {status}" for word, status in status_map.items() if word not in seen]
    lines += _section("status_map", bool(status_map), words,
                      "the status words of the source, each with how many rows carry it")
    fields = mapping.get("fields") or {}
    placed = []
    for guess in proposal.guesses:
        note = f"{guess.why} (confidence {guess.confidence:.2f})"
        spec = guess.spec or {"from": guess.source}
        if guess.field in fields:
            placed.append(f"  {guess.field}: {_scalar(fields[guess.field])}{_comment(note)}")
        else:
            placed.append(f"  # {guess.field}: {_scalar(spec)}{_comment(note)}")
    lines += _section("fields", bool(fields), placed,
                      f"the fields of the preset {extends}" if extends else "the fields discover placed")
    if proposal.unplaced:
        lines.append(f"# Not placed (no field took these columns): {', '.join(proposal.unplaced)}")
    return "\n".join(lines) + "\n"


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


_CONNECTORS = re.compile(r"^connectors:[ \t]*(\[\s*\])?[ \t]*(#.*)?$")
_TOP_KEY = re.compile(r"^[^\s#-]")
_ITEM = re.compile(r"^( *)- ")


def insert_block(settings_text: str, proposal: Proposal, mapping_ref: str | None) -> tuple[str, str] | None:
    """``settings_text`` with the connector block under its ``connectors:`` key and the block
    as inserted; None when the file has no such key."""
    lines = settings_text.splitlines()
    at = next((i for i, line in enumerate(lines) if _CONNECTORS.match(line)), None)
    if at is None:
        return None
    if _CONNECTORS.match(lines[at]).group(1):  # type: ignore[union-attr]
        lines[at] = "connectors:"
    end = next((i for i in range(at + 1, len(lines)) if _TOP_KEY.match(lines[i])), len(lines))
    indent = next((len(m.group(1)) for line in lines[at + 1:end] if (m := _ITEM.match(line))), 2)
    while end > at + 1 and not lines[end - 1].strip():
        end -= 1
    block = settings_block(proposal, mapping_ref, indent)
    new = lines[:end] + block.rstrip("\n").split("\n") + lines[end:]
    return "\n".join(new) + "\n", block


def _existing_names(settings_text: str) -> set[str]:
    try:
        data = yaml.safe_load(settings_text) or {}
    except yaml.YAMLError as exc:
        raise WriteRefused(f"the settings file is not valid YAML: {exc}") from None
    connectors = data.get("connectors") if isinstance(data, dict) else None
    return {str(c.get("name")) for c in connectors or [] if isinstance(c, dict)}


def write_proposal(proposal: Proposal, settings_path: Path, mapping_dir: Path | None = None,
                   print_only: bool = False) -> Written:
    """Write the mapping file (``mappings/NAME.yaml`` beside settings.yaml, or in
    ``mapping_dir``) and add the connector block to ``settings_path``; with ``print_only``,
    or when the file has no ``connectors:`` key, the block is returned for printing and the
    settings file is not touched."""
    text = mapping_text(proposal)
    base = settings_path.resolve().parent
    folder = (mapping_dir if mapping_dir is not None else base / "mappings").resolve()
    mapping_path = folder / f"{proposal.name}.yaml" if text is not None else None
    mapping_ref = None
    if mapping_path is not None:
        mapping_ref = (str(mapping_path.relative_to(base)) if mapping_path.is_relative_to(base)
                       else str(mapping_path))
    settings_text = settings_path.read_text(encoding="utf-8") if settings_path.is_file() else None
    if settings_text is not None and proposal.name in _existing_names(settings_text):
        raise WriteRefused(f"settings.yaml already has a connector named {proposal.name!r}: nothing was written "
                           "(choose another with --name)")
    if mapping_path is not None and mapping_path.exists():
        raise WriteRefused(f"{mapping_path} exists already: nothing was written (choose another --name, or "
                           "move the file away)")
    inserted = None if print_only or settings_text is None else insert_block(settings_text, proposal, mapping_ref)
    if inserted is not None:
        new_text, block = inserted
        names = _existing_names(new_text)
        if proposal.name not in names:
            raise WriteRefused("the connector block could not be placed under `connectors:` (an unusual layout): "
                               "nothing was written; run with --print and place it by hand")
    if mapping_path is not None and text is not None:
        folder.mkdir(parents=True, exist_ok=True)
        mapping_path.write_text(text, encoding="utf-8")
    if inserted is None:
        return Written(settings_block(proposal, mapping_ref), text, None, mapping_path)
    temporary = settings_path.with_name(settings_path.name + ".discover-tmp")
    temporary.write_text(new_text, encoding="utf-8")
    os.replace(temporary, settings_path)
    return Written(block, text, settings_path, mapping_path)
