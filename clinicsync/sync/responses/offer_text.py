"""The words of the waitlist offer page, per language, beside the answer page's
own (page_text.py, whose words the page also uses: when, doctor, where, call the clinic). A
language missing here shows English; a test checks every language has English's keys."""

from __future__ import annotations

from babel import Locale

OFFER_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "An earlier appointment is free",
        "explain": "An appointment has become free, earlier than the one you are waiting for. Would you like it?",
        "take": "Take this slot", "decline": "No thanks",
        "held": "We keep it for you until {time}; after that it may go to the next patient.",
        "held_day": "We keep it for you until {day}, {time}; after that it may go to the next patient.",
        "first": "It goes to the first patient who takes it.",
        "won": "This slot is yours",
        "won_explain": "The clinic is booking it for you now; you will get a confirmation.",
        "taken": "This slot has just been taken",
        "taken_explain": "Another patient took it first. You stay on the waiting list.",
        "declined": "No problem",
        "declined_explain": "You stay on the waiting list; we will tell you when another appointment is free.",
        "closed": "This slot is no longer available",
        "closed_explain": "It was booked or changed, or it is too close now. You stay on the waiting list.",
        "have_one": "You already took an earlier slot",
        "have_one_explain": "You accepted another earlier appointment we offered you, so this one goes to the "
                            "next patient. The clinic is booking yours; you will get a confirmation.",
        "held_for_other": "This slot is held for another patient",
        "held_for_other_explain": "The time we kept it for you ran out and we offered it to the next "
                                  "patient, who has it for a while now. You stay on the waiting list.",
    },
    "es": {
        "title": "Hay una cita libre antes",
        "explain": "Ha quedado libre una cita, antes de la que usted espera. ¿La quiere?",
        "take": "Tomar esta cita", "decline": "No, gracias",
        "held": "Se la guardamos hasta las {time}; después puede ofrecerse al siguiente paciente.",
        "held_day": "Se la guardamos hasta el {day}, a las {time}; después puede ofrecerse al siguiente paciente.",
        "first": "Será para el primer paciente que la tome.",
        "won": "Esta cita es suya",
        "won_explain": "La clínica la está reservando para usted; recibirá una confirmación.",
        "taken": "Esta cita la acaba de tomar otro paciente",
        "taken_explain": "Otro paciente la tomó primero. Sigue en la lista de espera.",
        "declined": "De acuerdo",
        "declined_explain": "Sigue en la lista de espera; le avisaremos cuando quede libre otra cita.",
        "closed": "Esta cita ya no está disponible",
        "closed_explain": "Se reservó o cambió, o ya falta muy poco. Sigue en la lista de espera.",
        "have_one": "Ya aceptó otra cita antes",
        "have_one_explain": "Aceptó otra cita anterior que le ofrecimos, así que esta pasa al siguiente "
                            "paciente. La clínica está reservando la suya; recibirá una confirmación.",
        "held_for_other": "Esta cita está reservada para otro paciente",
        "held_for_other_explain": "Terminó el tiempo que se la guardamos y se la ofrecimos al siguiente "
                                  "paciente, que la tiene reservada por un rato. Sigue en la lista de espera.",
    },
}


def offer_words(locale: Locale) -> dict[str, str]:
    return OFFER_TEXT.get(locale.language, OFFER_TEXT["en"])
