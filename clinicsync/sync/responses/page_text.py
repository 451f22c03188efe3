"""The words of the patients' answer page, per language. A site adds a language by adding
a dict with the same keys (a test checks they match English); dates, times and zone names
come from babel in the same language."""

from __future__ import annotations

from babel import Locale, UnknownLocaleError, negotiate_locale

from clinicsync.sync.responses.keywords import base_language

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Your appointment", "hello": "Hello {name},",
        "when": "When", "doctor": "Doctor", "visit": "Visit", "where": "Where",
        "join": "How to join", "map": "Open in a map", "times_in": "Time shown in",
        "ask": "Will you come?", "confirm_button": "Yes, I will come",
        "cancel_link": "I cannot come: cancel the appointment", "reschedule_link": "Ask for another time",
        "cancel_title": "Cancel this appointment?",
        "cancel_explain": "The clinic will be told, and the time can be given to another patient.",
        "cancel_button": "Yes, cancel it", "keep": "No, keep my appointment",
        "reschedule_title": "Ask for another time",
        "reschedule_explain": "The front desk will call you to agree a new time. Until then this appointment "
                              "stays booked.",
        "note_label": "Days and times that suit you (optional)",
        "note_hint": "For example: mornings, or any day after the 20th.",
        "reschedule_button": "Send my request", "back": "Back",
        "accepted": "Thank you, your appointment is confirmed.",
        "declined": "Your appointment is cancelled. The clinic has been told.",
        "requested": "Thank you. The front desk will call you to find another time.",
        "used": "This link was already used.",
        "answered_confirm": "You confirmed this appointment.",
        "answered_decline": "You cancelled this appointment.",
        "answered_reschedule": "You asked for another time.",
        "expired": "This link has expired.",
        "expired_explain": "Links in our messages work for a limited time.",
        "closed": "This appointment can no longer be answered online.",
        "closed_explain": "It has passed, or it was cancelled or changed.",
        "moved": "This appointment has changed since this message was sent.",
        "moved_explain": "This link answered for the time in that message, which no longer holds.",
        "moved_newer": "We sent you a newer message for the new time.",
        "moved_newer_button": "Answer for the new time",
        "invalid": "This link is not valid.",
        "invalid_explain": "Please check that the whole link was copied from the message.",
        "call": "To change or ask anything, please call the clinic",
        "call_no_phone": "To change or ask anything, please contact the clinic by phone.",
        "not_allowed": "This choice is not offered online. Please call the clinic.",
        "note_too_long": "Please keep the note under 500 characters.",
        "how": "How", "mode_in_person": "In person", "mode_video": "Video visit", "mode_phone": "Phone visit",
        "place_unknown": "Please ask the clinic where this visit takes place.",
        "join_button": "Join the video visit", "join_opens": "The link to join appears here from {time}.",
        "join_pending": "The link to join is not ready yet. It will appear here before your visit.",
        "dial_in": "At the time of your visit, please call",
        "calls_you": "We will call you on your number ending in {digits}.",
        "calls_you_plain": "We will call you at the time of your visit.",
        "changed_mind": "Changed your mind?",
        "standing_reschedule": "Until the front desk calls you, this appointment stays booked.",
        "cancelled": "This appointment is cancelled.",
        "cancelled_explain": "To book another time, please call the clinic.",
        "started": "Your visit has started.",
        "add_calendar": "Add to your calendar", "ics": "Calendar file (.ics)", "google": "Google Calendar",
        "outlook": "Outlook", "appointment": "Appointment", "page_link": "Your appointment page",
    },
    "es": {
        "title": "Su cita", "hello": "Hola, {name}:",
        "when": "Cuándo", "doctor": "Médico", "visit": "Consulta", "where": "Dónde",
        "join": "Cómo conectarse", "map": "Abrir en un mapa", "times_in": "Hora mostrada en",
        "ask": "¿Vendrá a su cita?", "confirm_button": "Sí, iré",
        "cancel_link": "No puedo ir: cancelar la cita", "reschedule_link": "Pedir otra hora",
        "cancel_title": "¿Cancelar esta cita?",
        "cancel_explain": "Avisaremos a la clínica y la hora podrá darse a otro paciente.",
        "cancel_button": "Sí, cancelarla", "keep": "No, mantener mi cita",
        "reschedule_title": "Pedir otra hora",
        "reschedule_explain": "La recepción le llamará para acordar una nueva hora. Mientras tanto esta cita "
                              "sigue reservada.",
        "note_label": "Días y horas que le vienen bien (opcional)",
        "note_hint": "Por ejemplo: por las mañanas, o cualquier día después del 20.",
        "reschedule_button": "Enviar mi petición", "back": "Volver",
        "accepted": "Gracias, su cita está confirmada.",
        "declined": "Su cita está cancelada. La clínica ha sido avisada.",
        "requested": "Gracias. La recepción le llamará para buscar otra hora.",
        "used": "Este enlace ya se usó.",
        "answered_confirm": "Usted confirmó esta cita.",
        "answered_decline": "Usted canceló esta cita.",
        "answered_reschedule": "Usted pidió otra hora.",
        "expired": "Este enlace ha caducado.",
        "expired_explain": "Los enlaces de nuestros mensajes funcionan durante un tiempo limitado.",
        "closed": "Esta cita ya no se puede responder en línea.",
        "closed_explain": "Ya pasó, o se canceló o cambió.",
        "moved": "Esta cita ha cambiado desde que se envió este mensaje.",
        "moved_explain": "Este enlace respondía a la hora de ese mensaje, que ya no es válida.",
        "moved_newer": "Le enviamos un mensaje más reciente para la nueva hora.",
        "moved_newer_button": "Responder para la nueva hora",
        "invalid": "Este enlace no es válido.",
        "invalid_explain": "Compruebe que copió el enlace completo del mensaje.",
        "call": "Para cambiar algo o preguntar, llame a la clínica",
        "call_no_phone": "Para cambiar algo o preguntar, llame por teléfono a la clínica.",
        "not_allowed": "Esta opción no está disponible en línea. Llame a la clínica.",
        "note_too_long": "Escriba menos de 500 caracteres, por favor.",
        "how": "Cómo", "mode_in_person": "En persona", "mode_video": "Videoconsulta",
        "mode_phone": "Consulta por teléfono",
        "place_unknown": "Pregunte a la clínica dónde es esta consulta.",
        "join_button": "Entrar en la videoconsulta", "join_opens": "El enlace para entrar aparecerá aquí a partir "
                                                                  "de las {time}.",
        "join_pending": "El enlace para entrar aún no está listo. Aparecerá aquí antes de su consulta.",
        "dial_in": "A la hora de su consulta, llame al",
        "calls_you": "Le llamaremos a su número terminado en {digits}.",
        "calls_you_plain": "Le llamaremos a la hora de su consulta.",
        "changed_mind": "¿Ha cambiado de idea?",
        "standing_reschedule": "Hasta que le llame la recepción, esta cita sigue reservada.",
        "cancelled": "Esta cita está cancelada.",
        "cancelled_explain": "Para pedir otra cita, llame a la clínica.",
        "started": "Su consulta ya ha empezado.",
        "add_calendar": "Añadir a su calendario", "ics": "Archivo de calendario (.ics)",
        "google": "Google Calendar", "outlook": "Outlook", "appointment": "Cita", "page_link": "La página de su cita",
    },
}


def page_locale(language: str | None, accept_language: str | None = None) -> Locale:
    """The patient's language when the page has it (es-MX keeps its regional formats), else the
    browser's preferred one among ours, else English."""
    if language and base_language(language) in TEXT:
        try:
            return Locale.parse(language.replace("-", "_"))
        except (UnknownLocaleError, ValueError):
            return Locale.parse(base_language(language))
    if accept_language:
        wanted = [part.split(";")[0].strip().replace("-", "_") for part in accept_language.split(",")]
        chosen = negotiate_locale([w for w in wanted if w], list(TEXT), sep="_")
        if chosen is None:
            chosen = negotiate_locale([w.split("_")[0] for w in wanted if w], list(TEXT), sep="_")
        if chosen:
            return Locale.parse(chosen)
    return Locale.parse("en")


def page_words(locale: Locale) -> dict[str, str]:
    return TEXT.get(locale.language, TEXT["en"])
