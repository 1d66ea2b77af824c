"""Revocation by any reasonable means (FCC 24-24, docs/reference.md §5): does a message plainly ask
us to stop texting? Pure and table-driven: the tables below are the whole of it, in
English and Spanish, and `revocation_rule` says which rule fired (the consent log keeps
it with the exact text).

A message is judged on its *words*: case folded, accents and punctuation dropped
(`¡No más!` → `no mas`, `STOP!!!` → `stop`). It revokes when

1. its words are a stop word (with the misspellings people type) and nothing else but
   politeness and filler: `stop`, `stop please`, `STOP STOP`, `please stop now`, `stpo`,
   `alto`, `baja por favor`; or
2. it says so in a phrase: `stop texting me`, `take me off your list`, `don't text me`,
   `no more texts`, `leave me alone`, `unsubscribe me`, `no me envíen más mensajes`,
   `dejen de escribirme`, `darme de baja` … — unless a negation comes right before it
   (`don't stop texting me`, `no dejen de escribirme`).

A message that merely contains such a word does not: `stop by the store`, `can't stop
smiling`, `don't stop the deals`, `cancel my order`, `el precio es muy alto`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Words that ask to stop, alone (with what people mistype). English, then Spanish.
STOP_WORDS = {
    "en": {
        "stop", "stopp", "stpo", "sotp", "stp", "stoop", "stopall", "stop all",
        "unsubscribe", "unsubscibe", "unsubcribe", "unsuscribe", "unsubsribe", "unsubscrive", "unsub",
        "cancel", "cancell", "end", "quit", "optout", "opt out", "revoke", "remove", "remove me",
        "no more", "leave me alone",
    },
    "es": {
        "alto", "baja", "parar", "para", "pare", "cancelar", "no mas", "basta", "detener", "quitar",
        "darme de baja", "dar de baja", "de baja",
    },
}  # fmt: skip

# Words that may stand around a stop word without changing what the message asks.
FILLER = {
    "please", "pls", "plz", "pleas", "now", "right", "it", "asap", "thanks", "thank", "you", "ty",
    "thx", "immediately", "already", "ok", "okay", "just", "me", "seriously", "all", "hey", "hi",
    "sir", "maam", "guys", "por", "favor", "porfa", "porfavor", "ya", "gracias", "ahora",
}  # fmt: skip

# Words that, right before a phrase, turn it around ("don't stop texting me").
NEGATIONS = {
    "en": {"dont", "never", "wont", "cant", "not", "didnt", "wouldnt", "shouldnt", "couldnt"},
    "es": {"no", "nunca", "jamas"},
}

TEXTS = r"(?:texts?|txts?|texting|txting|messages?|messaging|msgs?|sms|spam|emails?|alerts?|promos?|ads)"
ME = r"(?:me|us|this number|my number|my phone|this phone)"
ES_MSGS = r"(?:mensajes?|textos?|sms|msjs?|mensajitos)"


@dataclass(frozen=True)
class Phrase:
    name: str
    language: str
    pattern: re.Pattern[str]


def _phrase(name: str, language: str, pattern: str) -> Phrase:
    return Phrase(name, language, re.compile(pattern))


PHRASES = (
    _phrase("stop texting me", "en", rf"\b(?:stop|quit|cease|halt)\s+(?:(?:sending|texting|messaging|contacting|bothering|spamming|harassing)(?:\s+{ME})?|(?:the|these|those|your|ur|all|all the|all of the|all these)\s+{TEXTS})\b"),
    _phrase("stop sending texts", "en", rf"\b(?:stop|quit)\s+(?:sending|texting)\s+(?:me\s+)?(?:any\s+)?(?:more\s+)?{TEXTS}\b"),
    _phrase("don't text me", "en", r"\b(?:dont|do not|never)\s+(?:text|txt|message|msg|contact|sms|call or text|text or call|send)\s+(?:me|us|this number|my number|anything|any more|anymore)\b"),
    _phrase("no more texts", "en", rf"\bno\s+more\s+(?:of\s+(?:these|your|this)\s+)?{TEXTS}\b"),
    _phrase("take me off your list", "en", r"\b(?:take|get|remove|delete|drop|erase|scratch)\s+(?:me|my number|this number|my phone|my name)\s+(?:off|from|out of)\b"),
    _phrase("remove me", "en", r"\b(?:remove|delete|unenroll|unsubscribe|unsub|opt)\s+(?:me|my number|this number|my phone)\b"),
    _phrase("unsubscribe", "en", r"\b(?:unsubscribe|unsubscibe|unsubcribe|unsuscribe|opt\s?out|optout)\b(?!\s+(?:link|button|page)\b)"),
    _phrase("leave me alone", "en", r"\bleave\s+me\s+alone\b"),
    _phrase("i don't want these texts", "en", rf"\b(?:i\s+)?(?:dont|do not|no longer)\s+(?:want|wish|need)\s+(?:to\s+(?:get|receive)\s+)?(?:any\s+)?(?:more\s+)?(?:these|your|the|this|any|them)?\s*{TEXTS}\b"),
    _phrase("not interested, stop", "en", r"\bnot\s+interested\b.*\b(?:stop|remove|unsubscribe)\b"),
    _phrase("wrong number, stop", "en", r"\bwrong\s+(?:number|person)\b.*\b(?:stop|remove|delete)\b"),
    _phrase("no me envien mas", "es", r"\bno\s+(?:me\s+)?(?:envien?|envies|manden?|mandes|escriban?|escribas|contacten?)\s+(?:mas|nada)\b"),
    _phrase("no quiero mas mensajes", "es", rf"\bno\s+quiero\s+(?:recibir\s+)?(?:mas\s+)?(?:sus\s+|tus\s+|estos\s+|los\s+)?{ES_MSGS}\b"),
    _phrase("no mas mensajes", "es", rf"\bno\s+mas\s+{ES_MSGS}\b"),
    _phrase("dejen de escribirme", "es", r"\b(?:dejen|deja|deje|dejar)\s+de\s+(?:escribirme|enviarme|mandarme|contactarme|molestarme|escribir|enviar|mandar)\b"),
    _phrase("darme de baja", "es", r"\b(?:darme|denme|dame|deme|dar|doy|me doy)\s+de\s+baja\b"),
    _phrase("borrame de la lista", "es", r"\b(?:borrame|borrenme|quitame|quitenme|sacame|saquenme|eliminame|eliminenme|eliminar mi numero|borrar mi numero)\b"),
    _phrase("cancelar suscripcion", "es", rf"\b(?:cancelar|cancela|cancelen|anular)\s+(?:la\s+|mi\s+)?(?:suscripcion|subscripcion|{ES_MSGS})\b"),
)  # fmt: skip

_NON_WORD = re.compile(r"[^\w]+")
# Apostrophes: ASCII, right and left single quotation marks, grave and acute accents.
_APOSTROPHES = str.maketrans(dict.fromkeys("'\u2019\u2018`\u00b4"))


def words_of(text: str) -> str:
    """`¡No MÁS!` → `no mas`; `Don't text me!!` → `dont text me`: case folded, accents,
    apostrophes and punctuation dropped, one space between words."""
    text = unicodedata.normalize("NFKD", (text or "")[:400].translate(_APOSTROPHES).casefold())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(w for w in _NON_WORD.split(text) if w)


def _negated(words: str, start: int, language: str) -> bool:
    """A negation among the two words before a phrase ("don't stop texting me")."""
    before = words[:start].split()[-2:]
    return any(w in NEGATIONS[language] for w in before)


def _only_stop_word(words: str) -> str | None:
    """The stop word a message consists of (with filler around it), or None."""
    for language, stops in STOP_WORDS.items():
        for stop in sorted(stops, key=len, reverse=True):
            found = re.search(rf"(?:^|\s){re.escape(stop)}(?:\s|$)", words)
            if found is None:
                continue
            rest = (words[: found.start()] + " " + words[found.end() :]).split()
            # Repeats of the word itself ("STOP STOP STOP") count as filler.
            if all(w in FILLER or w in stops for w in rest):
                return f"{language}: the word {stop!r}"
    return None


def revocation_rule(text: str) -> str | None:
    """The rule by which `text` asks to stop the texts, or None when it does not."""
    words = words_of(text)
    if not words:
        return None
    rule = _only_stop_word(words)
    if rule:
        return rule
    for phrase in PHRASES:
        for found in phrase.pattern.finditer(words):
            if not _negated(words, found.start(), phrase.language):
                return f"{phrase.language}: “{phrase.name}”"
    return None
