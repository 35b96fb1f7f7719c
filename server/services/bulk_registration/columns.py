"""Which column of a delegation list holds which field of a registration.

The first non-blank row is a header when one of its cells names a field, in English, French or
Spanish, with or without accents, case or punctuation ("E-mail", "Courriel", "Correo electrónico").
Header cells that name no field are ignored (and listed in the preview). Without a header, the
columns are taken in the order of ``FIELD_ORDER``: name, email, organisation, category, country,
language, time zone, listed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from server.services.bulk_registration.errors import SheetError

FIELD_ORDER = ("name", "email", "organisation", "category", "country", "language", "timezone", "listed")
REQUIRED = ("name", "email", "category")

HEADER_NAMES: dict[str, tuple[str, ...]] = {
    "name": ("name", "full name", "participant", "nom", "nom complet", "nom et prenom", "nombre", "nombre completo"),
    "email": (
        "email",
        "e-mail",
        "mail",
        "email address",
        "courriel",
        "adresse electronique",
        "adresse courriel",
        "adresse e-mail",
        "correo",
        "correo electronico",
    ),
    "organisation": ("organisation", "organization", "organisme", "organizacion", "entity", "entite", "entidad"),
    "category": ("category", "categorie", "categoria", "stakeholder category", "type"),
    "country": ("country", "pays", "pais", "member state", "etat membre", "estado miembro"),
    "language": ("language", "preferred language", "langue", "langue preferee", "idioma", "idioma preferido"),
    "timezone": ("time zone", "timezone", "tz", "fuseau horaire", "fuseau", "zona horaria", "huso horario"),
    "listed": (
        "listed",
        "consent",
        "consent to be listed",
        "liste",
        "consentement",
        "figurer dans la liste",
        "listado",
        "consentimiento",
        "aparecer en la lista",
    ),
}


def fold(text: str) -> str:
    """Lower case, no accents, words joined by single spaces: "Correo-Electrónico " -> "correo electronico"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(re.split(r"[^0-9a-z]+", plain)).strip()


FIELD_OF_HEADER = {fold(alias): name for name, aliases in HEADER_NAMES.items() for alias in aliases}


def column_letter(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA: the spreadsheet's name of a column."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


@dataclass(frozen=True)
class Column:
    field: str
    index: int
    header: str | None = None  # the cell as written, when the file has a header

    @property
    def letter(self) -> str:
        return column_letter(self.index)


def map_columns(first_row: list[str]) -> tuple[list[Column], bool, list[str]]:
    """The columns, whether ``first_row`` is a header, and the header cells ignored ("C (Notes)").

    Raises ``SheetError`` for a header naming a field twice or lacking a required one."""
    named = {index: FIELD_OF_HEADER.get(fold(cell)) for index, cell in enumerate(first_row)}
    if not any(named.values()):
        return [Column(name, index) for index, name in enumerate(FIELD_ORDER)], False, []
    columns: dict[str, Column] = {}
    ignored = []
    for index, name in named.items():
        letter = column_letter(index)
        if name is None:
            if first_row[index]:
                ignored.append(f"{letter} ({first_row[index][:40]})")
            continue
        if name in columns:
            raise SheetError(
                "duplicate_column", f"columns {columns[name].letter} and {letter} both hold the {name} field"
            )
        columns[name] = Column(name, index, first_row[index])
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        raise SheetError("missing_columns", "the header has no column for: " + ", ".join(missing))
    return sorted(columns.values(), key=lambda c: c.index), True, ignored
