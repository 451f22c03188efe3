"""`clinicsync replies feed`: rehearse a patient's answer on one machine.

An inbound SMS (or WhatsApp) text from a number, or a choice on an email's answer link, is
fed through the very functions the webhooks and the answer page call
(responses.record.handle_reply, responses.link_page.answer): the same keyword reading, the
same appointment lookup, the same recorded answer, decline notice and write-back. It
prints what was recorded and what the patient would be texted back; nothing is sent.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer
from sqlalchemy import select

from clinicsync.sync.cli.context import EXIT_CONFIG, app_context, err_console, out_console, print_json
from clinicsync.sync.store.model.responses import RESPONSES

app = typer.Typer(help="Patients' replies: rehearse one on this machine.", no_args_is_help=True)


def _recorded(store: Any, provider_id: str) -> dict[str, Any] | None:
    with store.engine.connect() as connection:
        row = connection.execute(select(RESPONSES.c.id, RESPONSES.c.channel, RESPONSES.c.action, RESPONSES.c.outcome,
                                        RESPONSES.c.appointment_id, RESPONSES.c.reminder_id)
                                 .where(RESPONSES.c.provider_id == provider_id)).first()
    return dict(row._mapping) if row is not None else None


def _link_token(link: str) -> tuple[str, bool]:
    """The token of an answer link (``…/r/<token>`` from an email, ``…/a/<token>`` from an SMS)."""
    parts = [p for p in urlsplit(link).path.split("/") if p]
    if len(parts) < 2 or parts[-2] not in ("r", "a"):
        err_console.print("--link: expected an answer link ending in /r/<token> or /a/<token>", highlight=False)
        raise typer.Exit(EXIT_CONFIG)
    return parts[-1], parts[-2] == "a"


@app.command("feed")
def feed(
    ctx: typer.Context,
    sms_from: Annotated[str | None, typer.Option("--from", help="the patient's number the text comes from")] = None,
    text: Annotated[str | None, typer.Option(help="the text, e.g. C, SI, NO, STOP")] = None,
    channel: Annotated[str, typer.Option(help="sms or whatsapp (with --from)")] = "sms",
    link: Annotated[str | None, typer.Option(help="an answer link from a message (the outbox shows them)")] = None,
    choice: Annotated[str | None, typer.Option(help="with --link: confirm, decline or reschedule")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Feed one reply through the webhooks' own recording path and print what was recorded
    (e.g. `clinicsync replies feed --from +12125550123 --text SI`). Nothing is sent."""
    if (sms_from is None) == (link is None) or (sms_from is not None and text is None):
        err_console.print("give --from NUMBER --text TEXT (a text message) or --link URL [--choice …] "
                          "(an answer link)", highlight=False)
        raise typer.Exit(EXIT_CONFIG)
    if channel not in ("sms", "whatsapp"):
        err_console.print("--channel: sms or whatsapp", highlight=False)
        raise typer.Exit(EXIT_CONFIG)
    context = app_context(ctx)
    settings, store = context.settings, context.store
    result: dict[str, Any]
    if sms_from is not None and text is not None:
        from clinicsync.sync.responses.record import handle_reply

        provider_id = f"rehearsal:{uuid.uuid4().hex}"
        reply = handle_reply(settings, store, channel, sms_from, text, provider_id)
        result = {"via": channel, "action": reply.action, "outcome": reply.outcome,
                  "appointment_id": reply.appointment_id, "language": reply.language,
                  "would_answer": reply.answer, "recorded": _recorded(store, provider_id)}
    else:
        from clinicsync.sync.responses.link_page import answer

        assert link is not None
        token, short = _link_token(link)
        page = answer(settings, store, token, {"choice": choice} if choice else {}, short=short)
        result = {"via": "link", "status": page.status_code, "recorded": _newest_link_answer(store)}
    if json_output:
        print_json(result)
    else:
        for key, value in result.items():
            out_console.print(f"{key}: {value}", highlight=False, soft_wrap=True, markup=False)
    if result.get("recorded") is None or result.get("outcome") == "duplicate":
        raise typer.Exit(1)


def _newest_link_answer(store: Any) -> dict[str, Any] | None:
    with store.engine.connect() as connection:
        found = connection.execute(select(RESPONSES.c.provider_id).where(RESPONSES.c.provider_id.like("link:%"))
                                   .order_by(RESPONSES.c.id.desc()).limit(1)).scalar()
    return _recorded(store, found) if found is not None else None
