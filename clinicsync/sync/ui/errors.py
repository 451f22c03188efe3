"""The status page's error page: a browser under /ui that asks for a missing
appointment, or for something its login may not do, reads one plain sentence in the page's
layout with a way back to Today, instead of problem+JSON. Scripts and the REST API keep the
problem details (sync/server/problems.py decides who gets which). A browser that is not logged
in is sent to the login page, never to the Basic-auth dialog a 401 challenge would open."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import escape

from clinicsync.sync.ui.render import render

SENTENCES = {
    400: "This request could not be read. Go back and try again.",
    403: "Your login may not do this. If you need it, ask IT for the front desk role.",
    404: "There is no such page, or the appointment is no longer there (it may have been removed at the source).",
    405: "This page cannot be opened this way. Use the buttons on the page instead.",
    409: "This changed while you were looking at it. Open it again to see it as it is now.",
    422: "Some of what was sent could not be used.",
    429: "Too many requests at once. Wait a moment, then try again.",
}
SERVER_TROUBLE = "Something went wrong on our side. Try again in a minute; if it keeps happening, tell IT."
TITLES = {400: "Could not read that", 403: "Not allowed", 404: "Not found", 405: "Not this way",
          409: "Changed meanwhile", 422: "Could not use that", 429: "Too busy"}


def sentence(status: int) -> str:
    return SENTENCES.get(status, SERVER_TROUBLE if status >= 500 else "This could not be done.")


def error_page(request: Request, status: int, detail: str | None) -> Response:
    """The answer to a browser's failed /ui request: the login page for 401, else the error page.
    ``detail`` is the refusal's fixed text (never the input); it is shown only for a 422, where it
    names what to fix."""
    if status == 401:
        return RedirectResponse(f"/ui/login?next={quote(request.url.path, safe='/')}", status_code=303)
    title = TITLES.get(status, "Something went wrong" if status >= 500 else "Not done")
    shown = detail if status == 422 else None
    try:
        return render(request, "error.html", status, title=title, sentence=sentence(status), detail=shown,
                      status=status)
    except Exception:  # the page's own layout failed (e.g. the store is down): a bare page, still readable
        body = (f"<!doctype html><html lang=en><meta charset=utf-8><title>{escape(title)}</title>"
                f"<h1>{escape(title)}</h1><p>{escape(sentence(status))}</p><p><a href=\"/ui/\">Back to Today</a></p>")
        return HTMLResponse(body, status_code=status)
