"""Revocation by any reasonable means (docs/reference.md §5, FCC 24-24): a corpus of messages that
plainly ask to stop the texts, and of messages that merely contain such a word; every one
must be classified right (contacts/revocation.py)."""

import pytest

from contacts.revocation import revocation_rule, words_of

REVOKING = [
    # The keywords, and how people type them.
    "STOP", "Stop.", "stop!!!", "STOP STOP STOP", "«STOP»", "stp", "sotp", "stpo", "stopp",
    "Unsubscribe", "unsubscibe", "unsub", "Cancel", "END", "quit", "Opt out", "opt-out",
    "OPTOUT", "revoke", "remove", "Remove me", "STOPALL", "stop all",
    # Politely, or firmly.
    "stop please", "Please stop", "please stop now", "stop it please", "Stop now!", "STOP asap",
    "pls stop", "stop thanks", "ok stop", "stop. thank you", "Stop, seriously",
    # In a phrase.
    "stop texting me", "Stop texting me!", "please stop texting me", "stop sending me messages",
    "stop sending me texts", "Stop the texts", "stop these messages", "quit texting me",
    "stop messaging me", "stop contacting me", "stop spamming me", "no, stop texting me",
    "don't text me", "Don\u2019t text me again", "do not text me", "do not contact me", "never text me again",
    "no more texts", "No more messages please", "no more of these texts", "take me off your list",
    "take me off this list", "remove me from your list", "remove my number", "delete my number",
    "Please remove this number", "get me off this list", "unsubscribe me", "how do I unsubscribe",
    "I want to opt out", "leave me alone", "LEAVE ME ALONE", "I don't want these texts",
    "I do not want any more messages", "I no longer want your texts", "wrong number, please stop",
    "not interested, stop", "Not interested. Remove me.",
    # Spanish.
    "No más", "no mas", "NO MAS!", "alto", "Alto por favor", "baja", "Baja", "cancelar",
    "parar", "Para", "para ya", "basta", "basta ya", "no me envíen más mensajes", "no me manden mas",
    "No me escriban más", "no quiero más mensajes", "No quiero recibir mas mensajes",
    "no más mensajes", "dejen de escribirme", "Deja de enviarme mensajes", "dejen de molestarme",
    "quiero darme de baja", "darme de baja por favor", "bórrenme de la lista", "quítame de la lista",
    "sácame de la lista", "eliminar mi número", "cancelar suscripción", "cancelar mensajes",
]  # fmt: skip

NOT_REVOKING = [
    "stop by the store", "I'll stop by later", "can't stop smiling", "don't stop the deals",
    "Don't stop texting me, I love these!", "please don't stop sending deals", "never stop!",
    "stop sign at the corner", "the bus stop is closed", "non-stop flights?", "nonstop",
    "Cancel my order", "can I cancel my appointment?", "cancel the 3pm booking",
    "end of the month", "the end", "the weekend is great", "Happy ending!",
    "quit my job today lol", "I quit smoking", "remove the extra cheese",
    "How do I remove an item from my cart?", "opt in", "YES", "START", "QUOTE", "BUY", "5",
    "What's the price?", "Thanks!", "Ok", "sure", "HELP", "INFO", "is this legit?",
    "more texts please!", "send me more deals", "text me tomorrow", "I want more messages",
    "leave it at the door", "leave me a voicemail", "take me to the store", "take me there",
    "no, thanks, I already bought one", "no", "No thanks", "nope", "I'm not interested in red",
    "wrong size", "stopwatch", "unstoppable", "unsubscribed? no I want to stay",
    "I will not unsubscribe", "please don't unsubscribe me", "can you send it by email?",
    "stop at the pharmacy on your way", "we stop serving at 9?", "does the 5 bus stop here",
    "my heart won't stop racing, thanks for the gift", "stop light was broken", "a one stop shop!",
    "can you cancel the extra item and keep the rest", "cancel culture lol", "please don't cancel my account",
    "is this the end of the sale?", "end of season clearance?", "ends tomorrow?", "at the end of the day, yes",
    "I'll quit my gym and use your app", "quitting time!", "remove the onions please", "how do I remove my old address",
    "where is the unsubscribe link for emails?", "leave it on the porch", "leave a review where?",
    "take my money", "take it back to the store?", "no more stock?", "no more sizes in red?",
    "stopover in Denver", "I'll stop in tomorrow", "never stop learning",
    # Spanish.
    "el precio es muy alto", "alto y delgado", "la baja de precios", "precio más bajo",
    "para mañana", "para mi mamá", "no", "no gracias", "sí", "más información",
    "quiero más ofertas", "no dejen de escribirme", "¿cuándo abren?", "cancelar mi pedido",
    "basta de precios altos, bájenlos", "la parada del autobús", "¿hasta qué hora abren? paro ahí",
    "voy para allá", "no más de dos por cliente?", "quiero darle de alta a mi hermana", "baja la música",
    "¿puedo cancelar un artículo del pedido?", "dejen la caja en la puerta", "la oferta termina mañana?",
]  # fmt: skip


STOPPISH = {
    "stop", "stopping", "stops", "nonstop", "stopwatch", "stopover", "unstoppable", "cancel", "cancelar",
    "end", "ends", "ending", "weekend", "quit", "quitting", "remove", "unsubscribe", "unsubscribed",
    "leave", "take", "more", "alto", "altos", "baja", "bajo", "bajenlos", "para", "parada", "paro",
    "basta", "mas", "dejen", "termina", "opt", "no",
}  # fmt: skip


def test_the_corpus_is_big_enough():
    assert len(REVOKING) >= 60
    # At least 60 of the others hold a word that, elsewhere, could mean "stop".
    containing = [t for t in NOT_REVOKING if STOPPISH & set(words_of(t).split())]
    assert len(containing) >= 60, len(containing)
    assert not set(REVOKING) & set(NOT_REVOKING)


@pytest.mark.parametrize("text", REVOKING)
def test_a_message_that_asks_to_stop_revokes(text):
    assert revocation_rule(text), f"{text!r} plainly asks to stop the texts"


@pytest.mark.parametrize("text", NOT_REVOKING)
def test_a_message_that_merely_contains_a_stop_word_does_not(text):
    assert revocation_rule(text) is None, f"{text!r} was taken for a revocation: {revocation_rule(text)}"


def test_the_rule_that_fired_is_named():
    assert revocation_rule("Stop texting me!") == "en: “stop texting me”"
    assert revocation_rule("please stop") == "en: the word 'stop'"
    assert revocation_rule("No me envíen más") == "es: “no me envien mas”"
    assert words_of("¡No MÁS, por favor!") == "no mas por favor"
