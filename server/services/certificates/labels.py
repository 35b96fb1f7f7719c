"""What a certificate says, in French, English and Spanish (the attendee's language), and how its
dates and minutes are written in each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Words:
    title: str
    certify: str
    morning: str
    """``{date}``: attended the morning of that date of the event below."""
    event: str
    """``{dates}``: attended the event below over those dates."""
    minutes: str
    """``{minutes}`` present, ``{threshold}`` the share of the time needed."""
    code: str
    """``{code}``."""
    check: str
    months: tuple[str, ...]
    date: str
    """``{day} {month} {year}``."""
    span_same_month: str
    """``{first}``, ``{last}`` (days), ``{month}``, ``{year}``."""
    span_same_year: str
    span: str
    decimal: str


WORDS: dict[str, Words] = {
    "fr": Words(
        title="Certificat de participation",
        certify="Nous certifions que",
        morning="a participé à la matinée du {date} de",
        event="a participé, du {dates}, à",
        minutes="Présence : {minutes} minutes (au moins {threshold} % du temps).",
        code="Code de vérification : {code}",
        check="Vérifier ce certificat :",
        months=(
            "janvier",
            "février",
            "mars",
            "avril",
            "mai",
            "juin",
            "juillet",
            "août",
            "septembre",
            "octobre",
            "novembre",
            "décembre",
        ),
        date="{day} {month} {year}",
        span_same_month="{first} au {last} {month} {year}",
        span_same_year="{first} {first_month} au {last} {month} {year}",
        span="{first} {first_month} {first_year} au {last} {month} {year}",
        decimal=",",
    ),
    "en": Words(
        title="Certificate of attendance",
        certify="This is to certify that",
        morning="attended the morning of {date} of",
        event="attended, from {dates},",
        minutes="Present for {minutes} minutes (at least {threshold}% of the time).",
        code="Verification code: {code}",
        check="Check this certificate at",
        months=(
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ),
        date="{day} {month} {year}",
        span_same_month="{first} to {last} {month} {year}",
        span_same_year="{first} {first_month} to {last} {month} {year}",
        span="{first} {first_month} {first_year} to {last} {month} {year}",
        decimal=".",
    ),
    "es": Words(
        title="Certificado de asistencia",
        certify="Se certifica que",
        morning="asistió a la mañana del {date} de",
        event="asistió, del {dates}, a",
        minutes="Presencia: {minutes} minutos (al menos el {threshold} % del tiempo).",
        code="Código de verificación: {code}",
        check="Verifique este certificado en",
        months=(
            "enero",
            "febrero",
            "marzo",
            "abril",
            "mayo",
            "junio",
            "julio",
            "agosto",
            "septiembre",
            "octubre",
            "noviembre",
            "diciembre",
        ),
        date="{day} de {month} de {year}",
        span_same_month="{first} al {last} de {month} de {year}",
        span_same_year="{first} de {first_month} al {last} de {month} de {year}",
        span="{first} de {first_month} de {first_year} al {last} de {month} de {year}",
        decimal=",",
    ),
}
LANGUAGES = tuple(WORDS)


def words(language: str) -> Words:
    return WORDS.get(language, WORDS["en"])


def day_text(day: date, language: str) -> str:
    w = words(language)
    return w.date.format(day=day.day, month=w.months[day.month - 1], year=day.year)


def dates_text(first: date, last: date, language: str) -> str:
    """One date, or a span written the way the language writes it (``28 February to 2 March 2022``)."""
    if first == last:
        return day_text(first, language)
    w = words(language)
    pattern = w.span_same_month if (first.year, first.month) == (last.year, last.month) else w.span_same_year
    if first.year != last.year:
        pattern = w.span
    return pattern.format(
        first=first.day,
        first_month=w.months[first.month - 1],
        first_year=first.year,
        last=last.day,
        month=w.months[last.month - 1],
        year=last.year,
    )


def number_text(value: float, language: str) -> str:
    """``171.5`` / ``171,5``; whole numbers without a decimal part."""
    text = str(int(value)) if value == int(value) else f"{value:.1f}"
    return text.replace(".", words(language).decimal)


def percent_text(fraction: float, language: str) -> str:
    return number_text(round(fraction * 1000) / 10, language)
