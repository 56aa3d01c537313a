"""The watchlist's shape as typed models: one source for validation and the JSON Schema.

The models validate plain data (the loader keeps the YAML node tree for line
numbers) and say what each key means, which `policywatch schema` hands to
editors. Every failure is a `watchlist` error carrying our own sentence and
hint; `at` names the key or index inside the model the error points at.
Shorthands (`settle: 2h`, a bare route URL, one selector for a list) are
accepted as written and widened before the fields are read.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from policywatch.watchlist import checks, schedule
from policywatch.watchlist.checks import EXAMPLE_URL, did_you_mean, kind
from policywatch.watchlist.values import (
    Code,
    Codes,
    DigestDay,
    DigestPeriod,
    FetchMode,
    Flag,
    Interval,
    Links,
    Locale,
    Locales,
    ProfileName,
    Regex,
    Regexes,
    RemindDays,
    Selector,
    Selectors,
    SettleTime,
    SeverityName,
    Terms,
    Text,
    Texts,
    Timeout,
    Timezone,
    TranslationLag,
    Whole,
    checked,
    duration_schema,
    error,
    header_names,
    list_of,
    one_code,
)


class Entry(BaseModel):
    """A mapping in the watchlist: unknown keys are typos, some keys are required.

    A key left out reads as None ("not given": the default, the profile or
    `defaults:` apply); a key written with no value is an error, so the fields
    are typed without `| None` except where an empty value means something.
    """

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)
    required: ClassVar[tuple[tuple[str, str, str], ...]] = ()  # (key, message, example)

    @classmethod
    def widen(cls, data: Any) -> Any:
        """The long form of a shorthand the model accepts (none by default)."""
        return data

    @model_validator(mode="before")
    @classmethod
    def _keys(cls, data: Any) -> Any:
        data = cls.widen(data)
        if not isinstance(data, dict):
            raise error(f"expected a mapping (key: value lines), got {kind(data)}")
        allowed = [field.alias or name for name, field in cls.model_fields.items()]
        for key in data:
            if key not in allowed:
                raise error(f"unknown key {key!r}", did_you_mean(str(key), allowed), at=key)
        for key, message, example in cls.required:
            if key not in data:
                raise error(message, f"e.g. {key}: {example}")
        return data


class Settle(Entry):
    """How long a flapping page must stay on one version before you hear which: `2h` or
    `{polls: 3, for: 2h}` (default 2 polls and 1h); unset parts keep the default."""

    model_config = ConfigDict(
        json_schema_extra=lambda s, _: _or_shorthand(s, duration_schema(checks.MAX_SETTLE))
    )
    polls: Whole = Field(None, ge=1, description="polls in a row on the same version")
    for_: SettleTime = Field(None, alias="for", description="time since that version appeared")

    @classmethod
    def widen(cls, data: Any) -> Any:
        return data if isinstance(data, dict) else {"for": data}


def _doc(model: type[BaseModel]) -> str:
    """A model's docstring on one line, to describe the keys that hold it."""
    return " ".join((model.__doc__ or "").split())


def _or_shorthand(schema: dict[str, Any], shorthand: dict[str, Any]) -> None:
    """Let the model's JSON Schema also accept its one-value shorthand."""
    long = dict(schema)
    schema.clear()
    schema.update(description=long.pop("description", ""), anyOf=[shorthand, long])


class Validity(Entry):
    """What a real copy of the page looks like; anything else is `blocked`, not a version."""

    min_length: Whole = Field(None, ge=0, description="characters of extracted text, at least")
    language: Text = Field(None, description="expected <html lang> prefix, e.g. en")
    h1: Regex = Field(None, description="regular expression the page's h1 must match")
    required_headings: Texts = Field(None, description="headings the page must have")
    country: Text = Field(None, description="expected country banner, e.g. United Kingdom")


class PageRule(Entry):
    """Watched wording: a change that mentions a term is raised to the rule's severity."""

    required = (("name", "a rule needs a `name`", "buyer-contact"),)
    name: Text = Field(description="the rule's name, shown in alerts")
    terms: Terms = Field(None, description="whole words, case-insensitive; incentiv* = any ending")
    patterns: Regexes = Field(None, description="regular expressions, case-insensitive")
    severity: SeverityName = Field("major", description="minor < major < critical (default major)")
    links: Links = Field("record", description="alert: a new link target under its words alerts")
    language: Locale = Field(None, description="only pages in this language, e.g. de or de-CH")
    lang: Locale = Field(None, description="same as `language`")

    @model_validator(mode="after")
    def _sense(self) -> PageRule:
        if not self.terms and not self.patterns:
            raise error(f"rule {self.name!r} watches nothing", "give it `terms:` or `patterns:`")
        if self.language is not None and self.lang is not None:
            raise error("use either `language:` or `lang:`, not both", "e.g. language: de", "lang")
        return self


class Rule(PageRule):
    """A rule for every page, or for the pages it names."""

    pages: Texts = Field(None, description="page ids this rule is limited to (default: all)")


_PAGE_SETTINGS = {
    "select": "CSS selector of the policy text (replaces the profile's)",
    "remove": "CSS selectors of parts to drop (added to the profile's)",
    "ignore": "regular expressions of text to drop before comparing",
    "fetch": "http, browser or auto (default auto: the browser when HTTP gets a shell)",
    "allow_private": "true lets a page live on a private (intranet) address",
}

_LAG = "with `locale: [...]`: alert when one language has not followed another within this"


class Defaults(Entry):
    """Settings for every page; a page's own value wins."""

    interval: Interval = Field(None, description="how often `policywatch run` polls each page")
    timeout: Timeout = Field(None, description="connect and read timeout of one fetch")
    user_agent: Text = Field(None, description="User-Agent header of every fetch")
    per_host: Whole = Field(None, ge=1, description="at most this many fetches at once to a host")
    workers: Whole = Field(None, ge=1, description="at most this many fetches at once")
    browser_concurrency: Whole = Field(
        None, ge=1, le=32, description="at most this many pages rendered at once in the browser"
    )
    max_bytes: Whole = Field(None, ge=1024, description="largest page body read, in bytes")
    retries: Whole = Field(None, ge=0, description="retries of a failed fetch within one poll")
    failures_before_alert: Whole = Field(
        None, ge=1, description="failed polls in a row before an unreachable alert"
    )
    alert_on_cosmetic: Flag = Field(
        None, description="also alert when only punctuation or spacing changed"
    )
    translation_lag: TranslationLag = Field(None, description=_LAG)
    settle: Settle = Field(None, description=_doc(Settle))
    select: Selector = Field(None, description=_PAGE_SETTINGS["select"])
    remove: Selectors = Field(None, description=_PAGE_SETTINGS["remove"])
    ignore: Regexes = Field(None, description=_PAGE_SETTINGS["ignore"])
    fetch: FetchMode = Field(None, description=_PAGE_SETTINGS["fetch"])
    allow_private: Flag = Field(None, description=_PAGE_SETTINGS["allow_private"])
    base_url: Text = Field(
        None,
        description="root URL of the web view (policywatch serve or site); "
        "alerts and digests link each change there",
    )
    _base_url = field_validator("base_url")(checked(checks.url))


class Page(Entry):
    """One page to watch: an id and a URL; everything else has a default or a profile."""

    required = (
        ("id", "a page needs an `id`", "seller-code-of-conduct"),
        ("url", "a page needs an `url`", EXAMPLE_URL),
    )
    id: Annotated[Text, AfterValidator(checked(checks.page_id))] = Field(
        description="the page's name in history and alerts: letters, digits, . _ -"
    )
    url: Annotated[Text, AfterValidator(checked(checks.page_url))] = Field(
        description="the page's full http(s) address (no ${NAME}: put secrets in `headers`)"
    )
    title: Text = Field(None, description="a readable name for listings and alerts")
    select: Selector = Field(None, description=_PAGE_SETTINGS["select"])
    remove: Selectors = Field(None, description=_PAGE_SETTINGS["remove"])
    ignore: Regexes = Field(None, description=_PAGE_SETTINGS["ignore"])
    marketplace: Annotated[Code, BeforeValidator(checked(lambda v: one_code(v)))] = Field(
        None, description="the one Amazon marketplace this page is for, e.g. UK"
    )
    marketplaces: Codes = Field(
        None, description="one watch per marketplace (id@US, id@UK...), each on its own host"
    )
    locale: Locales = Field(
        None, description="pin the language (en-GB); a list watches the page once per language"
    )
    fetch: FetchMode = Field(None, description=_PAGE_SETTINGS["fetch"])
    interval: Interval = Field(None, description="how often `policywatch run` polls this page")
    timeout: Timeout = Field(None, description="connect and read timeout of one fetch")
    headers: dict[str, Annotated[Text, AfterValidator(checked(checks.header_value))]] = Field(
        None,
        description="extra HTTP request headers, sent to the page's own site only; "
        "${NAME} comes from the environment",
    )
    profile: ProfileName = Field(
        None, description="site profile; applied from the host without asking; none turns it off"
    )
    validity: Validity = Field(None, description=_doc(Validity))
    rules: list[PageRule] | None = Field(None, description="rules for this page only")
    allow_private: Flag = Field(None, description=_PAGE_SETTINGS["allow_private"])
    translation_lag: TranslationLag = Field(None, description=_LAG)
    settle: Settle = Field(None, description=_doc(Settle))

    @field_validator("headers", mode="before")
    @classmethod
    def _header_names(cls, value: Any) -> Any:
        return header_names(value)

    @field_validator("rules", mode="before")
    @classmethod
    def _rule_list(cls, value: Any) -> Any:
        return list_of("rules")(value)

    @model_validator(mode="after")
    def _markets(self) -> Page:
        if self.marketplace is not None and self.marketplaces is not None:
            raise error(
                "use either `marketplace:` (one) or `marketplaces:` (a list), not both",
                at="marketplaces",
            )
        markets = self.marketplace or self.marketplaces
        if markets and self.validity is not None and self.validity.country is not None:
            raise error(
                "`validity.country` comes from the marketplace on this page; remove it",
                at="validity",
            )
        return self


class RuleSet(Entry):
    """Your rules beside the built-in ones: `{builtin: true, add: [...]}` keeps the built-in
    rules and adds yours; `builtin: false` drops them."""

    builtin: Flag = Field(True, description="true (the default): the built-in rules apply too")
    add: list[Rule] | None = Field(None, description="your rules, added to the built-in ones")

    @field_validator("add", mode="before")
    @classmethod
    def _rule_list(cls, value: Any) -> Any:
        return list_of("rules")(value)


_RULE_LIST = TypeAdapter(list[Rule])


class Digest(Entry):
    """One message per period with the changes, the pages' health and what takes effect:
    `weekly` or `{every: weekly, day: monday, hour: 8, timezone: Europe/Berlin}`."""

    model_config = ConfigDict(json_schema_extra=lambda s, _: _or_shorthand(s, {"type": "string"}))
    every: DigestPeriod = Field("weekly", description="daily, weekly or monthly")
    day: DigestDay = Field(None, description="weekly: a weekday (monday); monthly: 1-28 (1)")
    hour: Whole = Field(None, ge=0, le=23, description="hour the period ends, 0-23 (default 8)")
    timezone: Timezone = Field(None, description="IANA name for day and hour (default UTC)")
    _day = model_validator(mode="after")(schedule.check_day)

    @classmethod
    def widen(cls, data: Any) -> Any:
        return data if isinstance(data, dict) else {"every": data}


class Route(Entry):
    """Where alerts go: an apprise URL (https://github.com/caronc/apprise/wiki), bare or as
    a mapping. ${NAME} is read from the environment so secrets stay out of the file."""

    model_config = ConfigDict(json_schema_extra=lambda s, _: _or_shorthand(s, {"type": "string"}))
    required = (
        (
            "url",
            "a notify route needs a `url`",
            "mailtos://${SMTP_USER}:${SMTP_PASSWORD}@smtp.example.com",
        ),
    )
    url: Text = Field(description="apprise URL; ${NAME} comes from the environment")
    name: Text = Field(None, description="the route's name (default: from the URL, never a secret)")
    min_severity: SeverityName = Field("minor", description="only changes at least this loud")
    optional: Flag = Field(False, description="skip it, with a warning, until its ${VARS} are set")
    links: Links = Field(
        "record", description="alert: also tell it when only a link target changed"
    )
    timeout: Timeout = Field(
        None, description="how long a send waits for the receiver (default 30s)"
    )
    digest: Digest = Field(None, description=_doc(Digest))
    instant: Flag = Field(None, description="with `digest`: also every alert as it happens")
    remind: RemindDays = Field(
        None, description="days before each effective date to send a reminder, e.g. [14, 1]"
    )

    @classmethod
    def widen(cls, data: Any) -> Any:
        return data if isinstance(data, dict) else {"url": data}


class Watchlist(Entry):
    """policywatch watchlist: the policy pages to watch, the wording that matters, and where
    alerts go. Check it with `policywatch validate`."""

    model_config = ConfigDict(
        title="policywatch watchlist", json_schema_extra={"required": ["pages"]}
    )
    defaults: Defaults | None = Field(None, description=_doc(Defaults))
    pages: list[Page] = Field(
        None, description="the pages to watch", json_schema_extra={"minItems": 1}
    )
    rules: RuleSet | list[Rule] | None = Field(
        None,
        description="watched wording; without it the built-in rules apply. "
        "{builtin: true, add: [...]} adds yours to them; a plain list replaces them, [] means none",
    )
    notify: list[Route] | None = Field(None, description="where alerts go: apprise URLs")

    @field_validator("rules", mode="wrap")
    @classmethod
    def _rule_forms(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        """One form or the other by its shape, so an error is that form's, at its line."""
        if isinstance(value, dict):
            return RuleSet.model_validate(value)
        if value is not None and not isinstance(value, list):
            raise error(
                f"expected a list of rules, or a mapping, got {kind(value)}",
                "e.g. rules: {builtin: true, add: [...]} to add yours to the built-in rules",
            )
        return _RULE_LIST.validate_python(value)

    @field_validator("pages", "notify", mode="before")
    @classmethod
    def _lists(cls, value: Any, info: ValidationInfo) -> Any:
        if info.field_name == "pages" and value in (None, []):
            raise _no_pages()
        return list_of("notify routes" if info.field_name == "notify" else info.field_name)(value)

    @model_validator(mode="after")
    def _has_pages(self) -> Watchlist:
        if "pages" not in self.model_fields_set:
            raise _no_pages()
        return self


def _no_pages() -> Exception:
    return error(
        "lists no pages to watch",
        f"add a page, e.g.\npages:\n  - id: seller-code-of-conduct\n    url: {EXAMPLE_URL}",
    )
