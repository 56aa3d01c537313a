"""The built-in rules' terms in each marketplace's own language.

The German page says "unaufgeforderte Nachrichten", not "unsolicited": the same
rule names and severities as the English rules (in rules.py), so an alert reads the
same whatever the page's language. Data only, kept apart from the matching code.
"""

from __future__ import annotations

# The same watched wording as sellers meet it in each marketplace's own language: the
# German page says "unaufgeforderte Nachrichten", not "unsolicited". Same rule names and
# severities as the English rules, so an alert reads the same whatever the page's language.
# fmt: off
TRANSLATED: dict[str, dict[str, tuple[str, ...]]] = {
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
REVIEW_WINDOWS = {
    "de": r"\b\d+\s*(?:und|bis|-|–)\s*\d+\s+(?:Kalender|Werk)?tage",
    "fr": r"\b\d+\s*(?:et|à|-|–)\s*\d+\s+jours",
    "es": r"\b\d+\s*(?:y|a|-|–)\s*\d+\s+días",
    "it": r"\b\d+\s*(?:e|a|-|–)\s*\d+\s+giorni",
    "ja": r"\d+\s*(?:～|〜|~|-|–|から)\s*\d+\s*日",
}
