"""Obligations and numbers in the page's own language.

English has its own tuned readers in policywatch.diff. For every other language the
same two questions are answered from the word lists below: which modal and duty words a
sentence holds, each with its polarity ("Sie dürfen … nicht" is a prohibition, "vous
ne pouvez pas" too), and which numbers, amounts and periods it names ("1.000,50 €",
"30 Tage", "14 jours", "30日間"), so a flip or a new time limit is tagged whatever the
marketplace.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

Signature = frozenset[tuple[str, str]]


@dataclass(frozen=True)
class Lexicon:
    """The words that state permission and duty in one language (all lower-case).

    `modals` maps each inflected form to its infinitive; `states` maps the start of a
    word ("verbot" for verboten, Verbot, Verbote) to the word reported; `duties` are the
    infinitives and states that make an added or removed sentence an obligation on
    their own (must, prohibited, only), unlike a plain "may".
    """

    modals: dict[str, str]
    states: dict[str, str]
    negators: frozenset[str]
    limiters: frozenset[str]
    duties: frozenset[str]


def _set(words: str) -> frozenset[str]:
    """A set of words written as one string, as a reader scans a word list."""
    return frozenset(words.split())


def _forms(**lemmas: str) -> dict[str, str]:
    """{"dürfen": "darf darfst dürfen"} written as keyword arguments -> form -> infinitive."""
    return {
        form: lemma.replace("_", " ") for lemma, forms in lemmas.items() for form in forms.split()
    }


# fmt: off
LEXICONS: dict[str, Lexicon] = {
    "de": Lexicon(
        modals=_forms(
            dürfen="darf darfst dürfen dürft durfte durften dürfe",
            können="kann kannst können könnt konnte konnten",
            müssen="muss musst müssen müsst musste mussten muß",
            sollen="soll sollst sollen sollt sollte sollten",
        ),
        states={"verbot": "verboten", "untersag": "untersagt", "unzulässig": "unzulässig",
                "erlaub": "erlaubt", "gestatt": "gestattet", "zulässig": "zulässig",
                "erforderlich": "erforderlich", "verpflicht": "verpflichtet",
                "pflicht": "pflicht"},
        negators=_set("nicht kein keine keinen keinem keiner keines keinesfalls nie niemals"),
        limiters=_set("nur ausschließlich lediglich"),
        duties=_set("müssen sollen verboten untersagt unzulässig erforderlich verpflichtet "
                         "pflicht nur ausschließlich lediglich"),
    ),
    "fr": Lexicon(
        modals=_forms(
            pouvoir="peux peut pouvez pouvons peuvent pourrez pourra pourront pouvoir puissiez",
            devoir="dois doit devez devons doivent devrez devra devront devoir",
        ),
        states={"interdi": "interdit", "autoris": "autorisé", "permis": "permis",
                "oblig": "obligatoire", "requis": "requis", "exig": "exigé"},
        negators=_set("ne n pas jamais aucun aucune ni"),
        limiters=_set("uniquement seulement exclusivement"),
        duties=_set("devoir interdit obligatoire requis exigé uniquement seulement "
                         "exclusivement"),
    ),
    "es": Lexicon(
        modals=_forms(
            poder="puede puedes pueden podrá podrán podrás podemos poder pueda puedan",
            deber="debe debes deben deberá deberán deber debemos",
        ),
        states={"prohib": "prohibido", "permit": "permitido", "autoriz": "autorizado",
                "obligatori": "obligatorio", "necesari": "necesario", "requerid": "requerido"},
        negators=_set("no nunca ningún ninguna ni jamás tampoco"),
        limiters=_set("solo sólo solamente únicamente exclusivamente"),
        duties=_set("deber prohibido obligatorio requerido solo sólo solamente "
                         "únicamente exclusivamente"),
    ),
    "it": Lexicon(
        modals=_forms(
            potere="puoi può possono potete potrai potrà potranno possiamo potere possa",
            dovere="devi deve devono dovete dovrai dovrà dovranno dovere debba",
        ),
        states={"vietat": "vietato", "proibit": "proibito", "consentit": "consentito",
                "permess": "permesso", "autorizzat": "autorizzato",
                "obbligatori": "obbligatorio", "necessari": "necessario", "richiest": "richiesto"},
        negators=_set("non mai nessun nessuna nessuno né"),
        limiters=_set("solo soltanto esclusivamente unicamente"),
        duties=_set("dovere vietato proibito obbligatorio richiesto solo soltanto "
                         "esclusivamente unicamente"),
    ),
    "pt": Lexicon(
        modals=_forms(
            poder="pode podem poderá poderão pode poder possa",
            dever="deve devem deverá deverão dever",
        ),
        states={"proibid": "proibido", "permitid": "permitido", "autorizad": "autorizado",
                "obrigatóri": "obrigatório", "necessári": "necessário"},
        negators=_set("não nunca nenhum nenhuma jamais nem"),
        limiters=_set("apenas somente exclusivamente"),
        duties=_set("dever proibido obrigatório apenas somente exclusivamente"),
    ),
    "nl": Lexicon(
        modals=_forms(
            mogen="mag mogen mocht mochten",
            kunnen="kan kunt kunnen kon konden",
            moeten="moet moeten moest moesten",
        ),
        states={"verbod": "verboden", "toegestaan": "toegestaan", "verplicht": "verplicht",
                "vereist": "vereist"},
        negators=_set("niet geen nooit niets"),
        limiters=_set("alleen uitsluitend slechts"),
        duties=_set("moeten verboden verplicht vereist alleen uitsluitend slechts"),
    ),
    "pl": Lexicon(
        modals=_forms(
            móc="możesz może mogą możecie można",
            musieć="musisz musi muszą musicie",
            należy="należy",
            wolno="wolno",
        ),
        states={"zabronion": "zabronione", "zakazan": "zakazane", "dozwolon": "dozwolone",
                "wymagan": "wymagane", "obowiązk": "obowiązkowe"},
        negators=_set("nie nigdy żaden żadne żadnych żadnej"),
        limiters=_set("tylko wyłącznie jedynie"),
        duties=_set("musieć należy zabronione zakazane wymagane obowiązkowe tylko "
                         "wyłącznie jedynie"),
    ),
    "sv": Lexicon(
        modals=_forms(få="får fick", kunna="kan kunde", måste="måste", ska="ska skall bör"),
        states={"förbjud": "förbjudet", "tillåt": "tillåtet", "obligatorisk": "obligatorisk",
                "krävs": "krävs"},
        negators=_set("inte ej aldrig inga ingen inget"),
        limiters=_set("endast bara enbart uteslutande"),
        duties=_set("måste ska förbjudet obligatorisk krävs endast enbart "
                         "uteslutande"),
    ),
    "tr": Lexicon(
        modals={},
        states={"yasak": "yasak", "zorunlu": "zorunlu", "gerek": "gerekli", "izin": "izin"},
        negators=_set("değil yok hiçbir asla verilmez verilmemektedir"),
        limiters=_set("yalnızca sadece"),
        duties=_set("yasak zorunlu gerekli yalnızca sadece"),
    ),
    "ar": Lexicon(
        modals=_forms(يمكن="يمكن يمكنك يمكنكم يمكنه", يجوز="يجوز", يجب="يجب ينبغي"),
        states={"يحظر": "يحظر", "محظور": "محظور", "ممنوع": "ممنوع", "يمنع": "يمنع",
                "مسموح": "مسموح", "يسمح": "يسمح"},
        negators=_set("لا لن ليس غير لم"),
        limiters=_set("فقط"),
        duties=_set("يجب يحظر محظور ممنوع يمنع فقط"),
    ),
}
# Japanese marks polarity inside the verb: the ending says it all. Longest endings first.
_JAPANESE = (
    ("できません", "できる", "-"), ("できない", "できる", "-"), ("できず", "できる", "-"),
    ("できます", "できる", "+"), ("できる", "できる", "+"),
    ("禁止されていません", "禁止", "-"), ("禁止しません", "禁止", "-"), ("禁止", "禁止", "+"),
    ("してはなりません", "禁止", "+"), ("してはいけません", "禁止", "+"),
    ("ないでください", "禁止", "+"),
    ("許可されていません", "許可", "-"), ("許可しません", "許可", "-"), ("許可", "許可", "+"),
    ("必要はありません", "必要", "-"), ("必要ありません", "必要", "-"), ("必要", "必要", "+"),
    ("なければなりません", "必要", "+"), ("義務", "義務", "+"),
    ("のみ", "のみ", "+"), ("に限り", "のみ", "+"),
)
# fmt: on
_JAPANESE_RE = re.compile("|".join(re.escape(ending) for ending, _, _ in _JAPANESE))
_JAPANESE_MEANING = {ending: (word, polarity) for ending, word, polarity in _JAPANESE}
_JAPANESE_DUTIES = frozenset({"禁止", "必要", "義務", "のみ"})
_TOKEN_RE = re.compile(r"\w+")
_ARABIC_MARKS_RE = re.compile(r"[\u064b-\u0652\u0640]")  # short vowels and tatweel
# How far a negator may be from its modal: "Sie dürfen Käufer nicht kontaktieren",
# "vous ne pouvez pas", "no puede".
_NEGATION_REACH = 4


def obligations(text: str, code: str) -> Signature:
    """The modal and duty words of `text` in language `code`, each with "+" or "-".

    Two versions of a sentence with different signatures changed what is allowed or
    required: "Sie dürfen Käufer kontaktieren" {("dürfen", "+")} against "… nicht
    kontaktieren" {("dürfen", "-")}.
    """
    if code == "ja":
        found = (_JAPANESE_MEANING[hit] for hit in _JAPANESE_RE.findall(text))
        return frozenset(found)
    lexicon = LEXICONS.get(code)
    if lexicon is None:
        return frozenset()
    tokens = _TOKEN_RE.findall(_ARABIC_MARKS_RE.sub("", text.casefold()))
    result: set[tuple[str, str]] = set()
    for i, token in enumerate(tokens):
        word = lexicon.modals.get(token) or _state(lexicon, token)
        if word is not None:
            near = tokens[max(0, i - _NEGATION_REACH) : i + _NEGATION_REACH + 1]
            negative = not lexicon.negators.isdisjoint(near)
            result.add((word, "-" if negative else "+"))
        elif token in lexicon.limiters:
            result.add((token, "+"))
    return frozenset(result)


def _state(lexicon: Lexicon, token: str) -> str | None:
    for start, word in lexicon.states.items():
        if token.startswith(start):
            return word
    return None


def is_deontic(signature: Signature, code: str) -> bool:
    """Whether an added or removed sentence with this signature states a duty or a ban."""
    duties = _JAPANESE_DUTIES if code == "ja" else LEXICONS[code].duties if code in LEXICONS else ()
    return any(polarity == "-" or word in duties for word, polarity in signature)


# --------------------------------------------------------------------------- numbers

# Units of time and percent in each language, by the English name the diff reports.
# fmt: off
_UNITS: dict[str, dict[str, str]] = {
    "de": {"werktag": "business day", "kalendertag": "calendar day", "arbeitstag": "working day",
           "tag": "day", "stunde": "hour", "minute": "minute", "woche": "week",
           "monat": "month", "jahr": "year", "prozent": "percent"},
    "fr": {"jours ouvrables": "business day", "jours ouvrés": "business day",
           "jours calendaires": "calendar day", "jour": "day", "heure": "hour",
           "minute": "minute", "semaine": "week", "mois": "month", "année": "year", "an": "year",
           "pour cent": "percent", "pourcent": "percent"},
    "es": {"días hábiles": "business day", "días naturales": "calendar day", "día": "day",
           "dia": "day", "hora": "hour", "minuto": "minute", "semana": "week", "mes": "month",
           "año": "year", "por ciento": "percent"},
    "it": {"giorni lavorativi": "business day", "giorni di calendario": "calendar day",
           "giorn": "day", "ora": "hour", "ore": "hour", "minut": "minute", "settiman": "week",
           "mes": "month", "ann": "year", "per cento": "percent"},
    "pt": {"dias úteis": "business day", "dia": "day", "hora": "hour", "minuto": "minute",
           "semana": "week", "mês": "month", "meses": "month", "ano": "year",
           "por cento": "percent"},
    "nl": {"werkdag": "business day", "dag": "day", "uur": "hour", "uren": "hour",
           "minu": "minute", "week": "week", "weken": "week", "maand": "month", "jaar": "year",
           "jaren": "year", "procent": "percent"},
    "pl": {"dni robocz": "business day", "dzień": "day", "dni": "day", "godzin": "hour",
           "minut": "minute", "tydzień": "week", "tygodni": "week", "miesiąc": "month",
           "miesięcy": "month", "rok": "year", "lat": "year", "procent": "percent"},
    "sv": {"arbetsdag": "business day", "dag": "day", "timm": "hour", "minut": "minute",
           "veck": "week", "månad": "month", "år": "year", "procent": "percent"},
    "tr": {"iş günü": "business day", "gün": "day", "saat": "hour", "dakika": "minute",
           "hafta": "week", "ay": "month", "yıl": "year"},
    "ar": {"يوم": "day", "أيام": "day", "ساعة": "hour", "ساعات": "hour", "أسبوع": "week",
           "شهر": "month", "أشهر": "month", "سنة": "year", "سنوات": "year"},
    "ja": {"営業日": "business day", "日間": "day", "日": "day", "時間": "hour", "分": "minute",
           "週間": "week", "か月": "month", "ヶ月": "month", "カ月": "month", "ヵ月": "month",
           "ケ月": "month", "年間": "year", "年": "year", "パーセント": "percent"},
}
# fmt: on
# Languages that group thousands with a comma and write decimals with a point, as English.
_POINT_DECIMALS = frozenset({"ja", "zh", "ko", "th", "he"})
_COMMA_NUMBER = r"\d{1,3}(?:[. \u00a0\u202f']\d{3})+(?:,\d+)?|\d+(?:,\d+)?"
_POINT_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"


@lru_cache(maxsize=32)
def _number_re(code: str) -> re.Pattern[str]:
    units = _UNITS.get(code, {})
    names = "|".join(re.escape(name) for name in sorted(units, key=len, reverse=True))
    number = _POINT_NUMBER if code in _POINT_DECIMALS else _COMMA_NUMBER
    # Japanese writes the unit straight after the number; elsewhere a unit is a whole word
    # that may be inflected ("Tagen", "jours", "giorni"), so any word ending is allowed.
    unit = rf"(?P<unit>{names})" if code == "ja" else rf"(?P<unit>{names})[^\W\d_]*"
    if not names:
        unit = "(?P<unit>(?!))"
    return re.compile(rf"(?<![\w.,])(?P<value>{number})(?P<pct>\s?%)?(?:[\s-]*{unit})?")


def numbers(text: str, code: str) -> list[tuple[str, str]]:
    """Numbers in `text` with their unit, in a form that does not depend on how they are written.

    "1.000,50 €" and "1 000,50 €" are ("1000.50", ""); "30 Tage" and "30 Tagen" are
    ("30", "day"); "３０日間" is ("30", "day").
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    units = _UNITS.get(code, {})
    found = []
    for match in _number_re(code).finditer(folded):
        value = match["value"]
        if code in _POINT_DECIMALS:
            value = value.replace(",", "")
        else:
            value = re.sub(r"[. \u00a0\u202f']", "", value).replace(",", ".")
        value = str(int(value)) if value.isdigit() else value  # Arabic-Indic digits too
        unit = units.get(match["unit"], "") if match["unit"] else ""
        if match["pct"] or unit == "percent":
            value, unit = value + "%", ""
        found.append((value, unit))
    return sorted(found)
