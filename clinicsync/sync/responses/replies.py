"""The short answer every reply gets, in the patient's language (English when we have none)."""

from __future__ import annotations

from clinicsync.sync.responses.keywords import base_language

ANSWERS: dict[str, dict[str, str]] = {
    "en": {
        "accepted": "Thank you, your appointment is confirmed.",
        "declined": "Thank you, we have noted that you will not come. The clinic has been told.",
        "opted_out": "You will receive no more messages. Reply START to receive them again.",
        "opted_in": "You will receive appointment messages again. Reply STOP to stop.",
        "help": "Reply C to confirm your appointment, X to cancel it, STOP to receive no more messages.",
        "no_appointment": "We found no upcoming appointment awaiting an answer. Please call the clinic.",
        "offer_link": "To take the earlier appointment we offered you, please tap the link in our message.",
        "unrecognized": "Sorry, we did not understand. Reply C to confirm or X to cancel.",
    },
    "es": {
        "accepted": "Gracias, su cita está confirmada.",
        "declined": "Gracias, hemos anotado que no vendrá. La clínica ha sido avisada.",
        "opted_out": "No recibirá más mensajes. Responda START para volver a recibirlos.",
        "opted_in": "Volverá a recibir mensajes de sus citas. Responda STOP para dejar de recibirlos.",
        "help": "Responda C para confirmar su cita, X para cancelarla, STOP para no recibir más mensajes.",
        "no_appointment": "No encontramos ninguna cita próxima pendiente de respuesta. Llame a la clínica.",
        "offer_link": "Para tomar la cita anterior que le ofrecimos, toque el enlace de nuestro mensaje.",
        "unrecognized": "Perdone, no le hemos entendido. Responda C para confirmar o X para cancelar.",
    },
}


def answer(key: str, language: str | None) -> str:
    return ANSWERS.get(base_language(language), ANSWERS["en"])[key]
