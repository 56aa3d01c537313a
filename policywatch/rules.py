"""Watched wording: which changes matter, and how loudly to announce them.

A seller does not need an alert for every comma, but must never miss Amazon
tightening what may be said to buyers. Rules name the words that make a change
important; `severity` turns a diff into one alert level (or None: stay quiet).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

from policywatch.models import DiffResult, Route, Rule, Severity

# Why these terms: they are the wording Seller Central uses for what a seller (or the
# messaging software acting for them) may send to buyers and when. A change touching
# them can turn a compliant message flow into a policy violation overnight, so it is
# critical. Reviews, feedback and buyer data are the next most enforced topics, and
# enforcement wording (suspension, deactivation) says what happens to offenders: major.
DEFAULT_RULES: tuple[Rule, ...] = (
    Rule(
        name="buyer-messaging",
        language="en",
        severity=Severity.CRITICAL,
        terms=(
            "unsolicited",
            "marketing communications",
            "marketing messages",
            "promotional messages",
            "promotional content",
            "Buyer-Seller Messaging",
            "permitted messages",
            "prohibited messages",
            "opt out",
            "opt-out",
            "direct buyers",
            "redirect*",
            "off Amazon",
            "outside of Amazon",
            "external links",
        ),
    ),
    Rule(
        name="review-requests",
        language="en",
        severity=Severity.CRITICAL,
        terms=(
            "request a review",
            "incentiv*",
            "4 and 30 days",
            "5 and 30 days",
            "positive review*",
            "in exchange for",
            "free or discounted",
            "compensat*",
            "manipulat*",
        ),
        # The "Request a Review" window is the number sellers' tools are built around,
        # whatever its bounds become ("between 4 and 30 days", "5-30 days").
        patterns=(r"\b\d+\s*(?:and|to|-|–)\s*\d+\s+(?:calendar\s+|business\s+)?days\b",),
    ),
    Rule(
        name="reviews",
        language="en",
        severity=Severity.MAJOR,
        terms=("feedback", "review", "reviews", "rating", "ratings", "star rating*"),
    ),
    Rule(
        name="buyer-data",
        language="en",
        severity=Severity.MAJOR,
        terms=(
            "contact customers",
            "contact buyers",
            "contacting buyers",
            "contacting customers",
            "personal information",
            "customer information",
            "buyer information",
            "customer data",
            "email address*",
            "phone number*",
        ),
    ),
    Rule(
        name="enforcement",
        language="en",
        severity=Severity.MAJOR,
        terms=("suspen*", "deactivat*", "selling privileges", "terminat*"),
    ),
)


# The same watched wording as sellers meet it in each marketplace's own language: the
# German page says "unaufgeforderte Nachrichten", not "unsolicited". Same rule names and
# severities as the English rules, so an alert reads the same whatever the page's language.
# fmt: off
_TRANSLATED: dict[str, dict[str, tuple[str, ...]]] = {
    "de": {
        "buyer-messaging": ("unaufgefordert*", "Werbenachricht*", "Marketingnachricht*",
                            "Werbebotschaft*", "Marketing-Kommunikation", "Werbe-E-Mail*",
                            "Werbeinhalt*", "werbliche Inhalte", "Käufer-Verkäufer-Kommunikation",
                            "zulässige Nachrichten", "unzulässige Nachrichten",
                            "außerhalb von Amazon", "externe Links", "umleiten", "abmelden"),
        "review-requests": ("Bewertung anfordern", "Bewertungsanfrage*", "Anreiz*",
                            "Gegenleistung", "im Austausch für", "positive Bewertung*",
                            "positive Rezension*", "kostenlos oder vergünstigt", "Vergütung",
                            "manipul*"),
        "reviews": ("Bewertung", "Bewertungen", "Rezension*", "Feedback", "Sternebewertung*"),
        "buyer-data": ("Käufer kontaktieren", "Kunden kontaktieren", "personenbezogene Daten",
                       "Kundendaten", "Käuferdaten", "Kundeninformationen", "E-Mail-Adresse*",
                       "Telefonnummer*"),
        "enforcement": ("Sperrung", "gesperrt", "sperren", "deaktivier*",
                        "Verkaufsberechtigung*", "kündig*", "suspendier*"),
    },
    "fr": {
        "buyer-messaging": ("non sollicité*", "communications marketing",
                            "communications commerciales", "messages marketing",
                            "messages promotionnels", "contenu promotionnel",
                            "messagerie acheteur-vendeur", "messages autorisés",
                            "messages interdits", "en dehors d'Amazon", "liens externes",
                            "rediriger", "désinscri*"),
        "review-requests": ("demander un avis", "incit*", "en échange d*", "avis positif*",
                            "gratuitement ou à prix réduit", "rémunér*", "compens*", "manipul*"),
        "reviews": ("avis", "commentaire*", "évaluation*"),
        "buyer-data": ("contacter les acheteurs", "contacter les clients", "données personnelles",
                       "données des clients", "informations client*", "adresse e-mail",
                       "adresses e-mail", "numéro de téléphone", "numéros de téléphone"),
        "enforcement": ("suspen*", "désactiv*", "privilèges de vente", "résili*"),
    },
    "es": {
        "buyer-messaging": ("no solicitado*", "comunicaciones de marketing",
                            "comunicaciones comerciales", "mensajes de marketing",
                            "mensajes promocionales", "contenido promocional",
                            "mensajería entre compradores y vendedores", "mensajes permitidos",
                            "mensajes prohibidos", "fuera de Amazon", "enlaces externos",
                            "redirigir*"),
        "review-requests": ("solicitar una reseña", "incentiv*", "a cambio de",
                            "reseña positiva", "reseñas positivas", "valoración positiva",
                            "valoraciones positivas", "gratis o con descuento", "compens*",
                            "manipul*"),
        "reviews": ("reseña*", "valoraci*", "opinión", "opiniones", "comentario*"),
        "buyer-data": ("contactar con los compradores", "contactar a los compradores",
                       "ponerse en contacto con los compradores", "datos personales",
                       "datos de los clientes", "información del cliente", "correo electrónico",
                       "número de teléfono", "números de teléfono"),
        "enforcement": ("suspen*", "desactiv*", "privilegios de venta", "rescind*"),
    },
    "it": {
        "buyer-messaging": ("non richiest*", "comunicazioni di marketing",
                            "comunicazioni commerciali", "messaggi di marketing",
                            "messaggi promozionali", "contenuti promozionali",
                            "messaggistica acquirente-venditore", "messaggi consentiti",
                            "messaggi vietati", "al di fuori di Amazon", "link esterni",
                            "reindirizz*"),
        "review-requests": ("richiedere una recensione", "richiedi una recensione", "incentiv*",
                            "in cambio di", "recensione positiva", "recensioni positive",
                            "gratuitamente o scontat*", "compens*", "manipol*"),
        "reviews": ("recension*", "feedback", "valutazion*"),
        "buyer-data": ("contattare gli acquirenti", "contattare i clienti", "dati personali",
                       "dati dei clienti", "informazioni sui clienti", "indirizzo e-mail",
                       "indirizzi e-mail", "numero di telefono", "numeri di telefono"),
        "enforcement": ("sospen*", "disattiv*", "privilegi di vendita", "risoluzione"),
    },
    "nl": {
        "buyer-messaging": ("ongevraagd*", "marketingcommunicatie", "marketingberichten",
                            "promotieberichten", "buiten Amazon", "externe links"),
        "review-requests": ("om een beoordeling vragen", "een beoordeling aanvragen",
                            "stimulans*", "in ruil voor", "positieve beoordeling*",
                            "positieve recensie*"),
        "reviews": ("beoordeling*", "recensie*", "feedback"),
    },
    "pl": {
        "buyer-messaging": ("niezamówion*", "niechcian*", "komunikacja marketingowa",
                            "wiadomości marketingowe", "wiadomości promocyjne", "poza Amazon",
                            "linki zewnętrzne"),
        "review-requests": ("poprosić o opinię", "zachęt*", "w zamian za", "pozytywną opinię",
                            "pozytywne opinie"),
        "reviews": ("opini*", "recenzj*"),
    },
    "sv": {
        "buyer-messaging": ("oönskade", "oombedda", "marknadsföringsmeddelanden",
                            "reklammeddelanden", "utanför Amazon", "externa länkar"),
        "review-requests": ("begära en recension", "incitament", "i utbyte mot",
                            "positiv recension", "positiva recensioner"),
        "reviews": ("recension*", "omdöme*"),
    },
    "tr": {
        "buyer-messaging": ("istenmeyen", "pazarlama mesaj*", "tanıtım mesaj*", "Amazon dışında*",
                            "harici bağlantı*"),
        "review-requests": ("değerlendirme iste*", "teşvik*", "karşılığında",
                            "olumlu değerlendirme*"),
        "reviews": ("değerlendirme*", "yorum*"),
    },
    "ar": {
        "buyer-messaging": ("غير المرغوب فيها", "غير مرغوب", "رسائل تسويقية", "التسويق",
                            "خارج أمازون", "روابط خارجية"),
        "review-requests": ("طلب مراجعة", "حوافز", "حافز", "مقابل", "مراجعة إيجابية"),
        "reviews": ("مراجعة", "مراجعات", "تقييم*"),
    },
    "ja": {
        "buyer-messaging": ("未承諾", "迷惑メッセージ", "マーケティング", "販促", "プロモーション",
                            "購入者と出品者間メッセージ", "許可されているメッセージ",
                            "禁止されているメッセージ", "Amazon以外", "外部リンク", "誘導"),
        "review-requests": ("レビューをリクエスト", "インセンティブ", "見返り", "引き換え",
                            "肯定的なレビュー", "高評価", "無料または割引", "報酬"),
        "reviews": ("レビュー", "評価", "フィードバック"),
        "buyer-data": ("購入者に連絡", "お客様に連絡", "個人情報", "購入者情報", "顧客情報",
                       "メールアドレス", "電話番号"),
        "enforcement": ("アカウントの停止", "アカウントが停止", "停止", "無効化", "出品権限",
                        "解約"),
    },
}
# fmt: on
# The "Request a Review" window in each language: "zwischen 5 und 30 Tagen", "5～30日".
_REVIEW_WINDOWS = {
    "de": r"\b\d+\s*(?:und|bis|-|–)\s*\d+\s+(?:Kalender|Werk)?tage",
    "fr": r"\b\d+\s*(?:et|à|-|–)\s*\d+\s+jours",
    "es": r"\b\d+\s*(?:y|a|-|–)\s*\d+\s+días",
    "it": r"\b\d+\s*(?:e|a|-|–)\s*\d+\s+giorni",
    "ja": r"\d+\s*(?:～|〜|~|-|–|から)\s*\d+\s*日",
}
_SEVERITIES = {rule.name: rule.severity for rule in DEFAULT_RULES}
DEFAULT_RULES += tuple(
    Rule(
        name=name,
        severity=_SEVERITIES[name],
        terms=terms,
        patterns=(_REVIEW_WINDOWS[code],)
        if name == "review-requests" and code in _REVIEW_WINDOWS
        else (),
        language=code,
    )
    for code, rules in _TRANSLATED.items()
    for name, terms in rules.items()
)
# Scripts written without spaces have no word boundaries to anchor a term on.
_UNSPACED_RE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")


def _term_regex(term: str) -> str:
    """One watched term as a regex: whole words, any whitespace, `*` suffix = any word ending."""
    text = term.strip()
    wildcard = text.endswith("*")
    words = text.rstrip("*").split()
    body = r"\s+".join(re.escape(word).replace("'", "['’]") for word in words)
    if wildcard:
        body += r"\w*"
    before = "" if _UNSPACED_RE.match(text) else r"(?<!\w)"
    after = "" if wildcard or _UNSPACED_RE.match(text.rstrip("*")[-1:]) else r"(?!\w)"
    return rf"{before}{body}{after}"


_WORD_RE = re.compile(r"\w+")
# The same words in ASCII text, found faster: the Unicode word test is skipped.
_ASCII_WORD_RE = re.compile(r"\w+", re.ASCII)


def words(text: str) -> list[str] | None:
    """The lower-case words (\\w+ runs) of an ASCII text, in order; None for any other text.

    Only for ASCII text do these words line up one-to-one with what a term's
    case-insensitive regex can match (no lower-casing that changes lengths, no
    Kelvin sign matching "k"), so only there may they stand in for a search.
    """
    return _ASCII_WORD_RE.findall(text.lower()) if text.isascii() else None


class _Term:
    """One compiled term or pattern, with what a text must hold for it to have a chance."""

    __slots__ = ("exact", "needle", "regex", "required", "rule", "term")

    def __init__(self, rule: Rule, term: str | None, needle: str, regex: re.Pattern[str]) -> None:
        self.rule, self.term, self.needle, self.regex = rule, term, needle, regex
        # The ASCII words a match always spans whole (a `*` word may run on, so it is left
        # out); None when ASCII text can never match (it never holds a non-ASCII needle).
        self.required: frozenset[str] | None = frozenset()
        # A single whole ASCII word: its presence among a text's words is the match.
        self.exact = False
        if term is None:
            return
        wildcard = term.strip().endswith("*")
        body = term.strip().rstrip("*")
        runs = _WORD_RE.findall(body)
        if wildcard and _WORD_RE.match(body[-1:]):
            runs.pop()
        self.required = frozenset(r.lower() for r in runs if r.isascii())
        if not needle.isascii():
            self.required = None
        self.exact = not wildcard and body.isascii() and _WORD_RE.fullmatch(body) is not None


class RuleSet:
    """Rules compiled once, so matching every changed sentence stays cheap."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)
        # The needle is a lower-case word the text must contain for the regex to have a
        # chance, a cheap substring test that skips most searches. A pattern has no needle
        # and no readable term: it is reported by what it matched.
        self._terms: list[_Term] = []
        for rule in self.rules:
            for term in rule.terms:
                pieces = re.split(r"['\s]+", term.strip().rstrip("*"))
                if any(pieces):
                    regex = re.compile(_term_regex(term), re.IGNORECASE)
                    needle = max(pieces, key=len).lower()
                    self._terms.append(_Term(rule, term, needle, regex))
            for pattern in rule.patterns:
                self._terms.append(_Term(rule, None, "", re.compile(pattern, re.IGNORECASE)))
        # For word lists: each term under its longest required word, and those without one.
        self._by_word: dict[str, list[int]] = {}
        self._unkeyed: list[int] = []
        for index, entry in enumerate(self._terms):
            if entry.required:
                key = max(sorted(entry.required), key=len)
                self._by_word.setdefault(key, []).append(index)
            elif entry.required is not None:
                self._unkeyed.append(index)

    def match(self, text: str, text_words: list[str] | None = None) -> list[tuple[Rule, str]]:
        """Every (rule, term) found in `text`, in rule order; a term is reported once.

        For a pattern the "term" is the text it matched ("between 4 and 30 days"), which
        is what a reader needs to see, not the regular expression. `text_words` is
        `words(text)` when the caller has it already.
        """
        if not text:
            return []
        if text_words is None:
            text_words = words(text)
        present = None if text_words is None else frozenset(text_words)
        lowered = text.lower()
        found = []
        if present is None:
            candidates = self._terms
        else:
            # Only terms whose longest word is in the text, in rule order.
            keyed = self._by_word.keys() & present
            indices = [i for key in keyed for i in self._by_word[key]]
            indices.extend(self._unkeyed)
            indices.sort()
            candidates = [self._terms[i] for i in indices]
        for entry in candidates:
            if present is not None and entry.required:
                if not entry.required <= present:
                    continue
                if entry.exact:
                    found.append((entry.rule, entry.term))
                    continue
            elif entry.needle not in lowered:
                continue
            if hit := entry.regex.search(text):
                found.append((entry.rule, entry.term if entry.term is not None else hit.group(0)))
        return found


@lru_cache(maxsize=64)
def _compiled(rules: tuple[Rule, ...]) -> RuleSet:
    return RuleSet(rules)


def compile_rules(rules: Iterable[Rule]) -> RuleSet:
    """The RuleSet for `rules`, compiled once per distinct list (every poll reuses it)."""
    return _compiled(tuple(rules))


def severity(diff: DiffResult, *, alert_on_cosmetic: bool = False) -> Severity | None:
    """How loudly to announce `diff`; None when nothing worth an alert changed.

    Per change: the highest severity of its watched terms; an obligation flip
    ("may" -> "may not") or a changed number or time limit is at least MAJOR;
    any other substantive edit (a renamed heading included) is MINOR. A moved
    section, or an added or removed one without text, is MINOR too: the
    reader's way through the policy changed. Cosmetic edits count (as MINOR)
    only when the user asked for them; a new link target under the same words
    counts only for a rule that opted in (`links: alert`), at its severity.
    """
    levels: list[Severity] = []
    for section in diff.sections:
        if section.kind == "moved" or (
            section.kind in ("added", "removed") and not section.changes
        ):
            levels.append(Severity.MINOR)
        for change in section.changes:
            if not change.substantive:
                if "link-only" in change.tags and change.matches:  # `links: alert` rules
                    levels.append(max(m.severity for m in change.matches))
                elif alert_on_cosmetic:
                    levels.append(Severity.MINOR)
                continue
            levels.append(_change_severity(change.tags, (m.severity for m in change.matches)))
    return max(levels, default=None)


def link_only_routes(diff: DiffResult, routes: Sequence[Route]) -> tuple[Route, ...]:
    """The routes told about `diff` when nothing else in it alerts: those that opted in to
    link changes (`links: alert`), when a link's target changed under the same words."""
    if not any("link-only" in c.tags for c in diff.changes):
        return ()
    return tuple(route for route in routes if route.links_alert)


def _change_severity(tags: Sequence[str], match_levels: Iterable[Severity]) -> Severity:
    """Severity of one substantive change from its tags and its watched-term matches."""
    level = max(match_levels, default=Severity.MINOR)
    if "obligation" in tags or "number" in tags:
        level = max(level, Severity.MAJOR)
    return level
