"""Languages of the pages: zh-CN (the message ids themselves) and English (a gettext
catalog), and figures and dates written the way the user's locale writes them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_skeleton
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations

from coalwatch.auth.permissions import BUILTIN_ROLES

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "messages"
#: the languages a user can choose: code → its own name
LANGUAGES = {"zh_CN": "中文", "en": "English"}
DEFAULT = "zh_CN"
_BABEL = {"zh_CN": "zh_Hans_CN", "en": "en"}
DASH = "—"
TONNES = Decimal("0.001")


@cache
def translations(language: str) -> NullTranslations:
    """The compiled catalog (``make assets`` compiles it); the .po if it is not compiled."""
    if language == DEFAULT or language not in LANGUAGES:
        return NullTranslations()
    folder = LOCALE_DIR / language / "LC_MESSAGES"
    mo = folder / f"{DOMAIN}.mo"
    po = folder / f"{DOMAIN}.po"
    if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as handle:
            return Translations(handle, domain=DOMAIN)
    if not po.exists():
        return NullTranslations()
    import io

    with po.open("rb") as handle:
        catalog = read_po(handle, locale=language, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


def choose(language: str | None) -> str:
    return language if language in LANGUAGES else DEFAULT


@dataclass(frozen=True)
class Formats:
    """Figures and instants for one locale and time zone."""

    language: str
    tz: ZoneInfo

    @property
    def locale(self) -> Locale:
        return _locale(self.language)

    @property
    def html_lang(self) -> str:
        return "zh-CN" if self.language == "zh_CN" else "en"

    def gettext(self, message: str) -> str:
        return translations(self.language).gettext(message)

    def label(self, text: object) -> str:
        """A label the application defines (a menu, a status, an alarm type ...) in this
        language; any other text (what a user or a station typed) comes back as it is.
        Always plain text, which the templates escape."""
        return str(translations(self.language).gettext(str(text)))

    def role_label(self, code: str, name: str) -> str:
        """A role's name: a built-in role's own name is translated, any other name (typed
        by an administrator) is shown as it is."""
        builtin = BUILTIN_ROLES.get(code)
        return self.label(name) if builtin is not None and builtin[0] == name else name

    def number(self, value: Any, places: int = 0) -> str:
        if value is None:
            return DASH
        quantum = Decimal(1).scaleb(-places)
        exact = Decimal(str(value)).quantize(quantum, rounding=ROUND_HALF_UP)
        pattern = "#,##0" + ("." + "0" * places if places else "")
        return format_decimal(exact, pattern, locale=self.locale, decimal_quantization=False)

    def tonnes(self, value: Any) -> str:
        """Tonnes with thousands separators and 3 decimals (kg), rounded half-up."""
        return self.number(value, 3)

    def capacity(self, value: Any) -> str:
        """A capacity in tonnes: whole tonnes as set (900,000), else to the kg (3,636.364)."""
        if value is None:
            return DASH
        exact = Decimal(str(value))
        return self.number(exact, 0 if _places(exact) == 0 else 3)

    def plain(self, value: Any) -> str:
        """A setting as set: a number without trailing zeros (10.0 is 10, 2.5 stays 2.5),
        anything else as text."""
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            return str(value)
        exact = Decimal(str(value))
        return self.number(exact, _places(exact))

    def rate(self, value: Any) -> str:
        """A rate in yuan per tonne: the fen always, down to 4 decimals where given."""
        if value is None:
            return DASH
        exact = Decimal(str(value))
        return self.number(exact, min(4, max(2, _places(exact))))

    def percent(self, ratio: Any, places: int = 1) -> str:
        if ratio is None:
            return DASH
        return self.number(Decimal(str(ratio)) * 100, places) + "%"

    def _local(self, value: datetime) -> datetime:
        return value.astimezone(self.tz)

    def instant(self, value: datetime | None, seconds: bool = False) -> str:
        if value is None:
            return DASH
        local = self._local(value)
        day = format_skeleton("yMd", local, locale=self.locale)
        time = format_skeleton("Hms" if seconds else "Hm", local, locale=self.locale)
        return f"{day} {time}"

    def clock(self, value: datetime | None, seconds: bool = True) -> str:
        if value is None:
            return DASH
        return format_skeleton("Hms" if seconds else "Hm", self._local(value), locale=self.locale)

    def day(self, value: date | datetime | None, style: str = "short") -> str:
        if value is None:
            return DASH
        if isinstance(value, datetime):
            value = self._local(value).date()
        if style == "full":
            return format_date(value, "full", locale=self.locale)
        return format_skeleton("yMd", value, locale=self.locale)

    def month(self, value: date | datetime) -> str:
        if isinstance(value, datetime):
            value = self._local(value).date()
        return format_skeleton("yMMM", value, locale=self.locale)

    def year(self, value: date | datetime) -> str:
        if isinstance(value, datetime):
            value = self._local(value).date()
        return format_skeleton("y", value, locale=self.locale)

    def period_start(self, value: datetime, period: str) -> str:
        """How a production row's start is labelled: its hour, day, month or year."""
        if period == "hour":
            local = self._local(value)
            return (
                format_skeleton("Md", local, locale=self.locale)
                + " "
                + format_skeleton("Hm", local, locale=self.locale)
            )
        if period == "day":
            return self.day(value)
        if period == "month":
            return self.month(value)
        return self.year(value)


def _places(value: Decimal) -> int:
    """The decimals a finite number has once trailing zeros are dropped (10.0: 0, 2.50: 1)."""
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


@cache
def _locale(language: str) -> Locale:
    return Locale.parse(_BABEL.get(language, "zh_Hans_CN"))
