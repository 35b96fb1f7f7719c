"""Each row of a delegation list checked by the rules of a single registration (``RegistrationIn``,
the very model ``POST /registrations`` validates), plus what only a list can get wrong: the same
email twice in the file, or an email already registered for the event.

Before the model sees a row, spreadsheet spellings are mapped onto the codes it knows: a category or
a language written out in English, French or Spanish ("État membre", "Español"), "oui"/"sí"/"x" for
consent. That is translation, not validation: whatever is not recognised goes to the model as
written, and the model's refusal is the row's problem.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, get_args

from pydantic import ValidationError

from server.services.bulk_registration.columns import fold
from server.services.bulk_registration.sheets import Sheet, SheetRow
from server.services.registrations import Category, RegistrationIn

CATEGORY_CODES: tuple[str, ...] = get_args(Category)
CATEGORY_LABELS: dict[str, tuple[str, ...]] = {
    "member_state": ("member state", "state", "etat membre", "etat", "estado miembro", "estado"),
    "un_system": ("un system", "united nations system", "systeme des nations unies", "sistema de las naciones unidas"),
    "intergovernmental": (
        "intergovernmental organisation",
        "intergovernmental organization",
        "igo",
        "organisation intergouvernementale",
        "organizacion intergubernamental",
    ),
    "civil_society": ("civil society", "ngo", "societe civile", "ong", "sociedad civil"),
    "academia": ("academia", "milieu universitaire", "universite", "ambito academico", "academico"),
    "media": ("media", "press", "medias", "presse", "medios de comunicacion", "medios", "prensa"),
    "other": ("other", "autre", "otra", "otro"),
}
LANGUAGE_NAMES: dict[str, tuple[str, ...]] = {
    "fr": ("fr", "french", "francais", "frances"),
    "en": ("en", "english", "anglais", "ingles"),
    "es": ("es", "spanish", "espagnol", "espanol", "castellano"),
}
YES = frozenset({"yes", "y", "true", "1", "x", "oui", "o", "si", "s", "vrai", "verdadero"})
NO = frozenset({"no", "n", "false", "0", "non", "faux", "falso"})

CATEGORY_OF = {fold(code): code for code in CATEGORY_CODES} | {
    fold(label): code for code, labels in CATEGORY_LABELS.items() for label in labels
}
LANGUAGE_OF = {fold(name): code for code, names in LANGUAGE_NAMES.items() for name in names}

# (field, pydantic error type) -> the row problem's code; a field alone for any other error of it
PROBLEM_CODES: dict[tuple[str, str], str] = {
    ("email", "value_error"): "invalid_email",
    ("category", "literal_error"): "unknown_category",
    ("language", "literal_error"): "unknown_language",
    ("timezone", "value_error"): "unknown_timezone",
    ("listed", "bool_parsing"): "invalid_listed",
    ("listed", "bool_type"): "invalid_listed",
}
MISSING_TYPES = frozenset({"missing", "string_too_short"})


@dataclass(frozen=True)
class RowProblem:
    field: str  # a registration field ("email"), or "row" for the row as a whole
    column: str | None  # its column's letter, when the field has a column
    code: str  # e.g. "invalid_email", "duplicate_in_file", "already_registered"
    message: str  # in English; the dashboard words it from ``code`` in the reader's language
    other_line: int | None = None  # duplicate_in_file: the line that holds the email first


@dataclass
class CheckedRow:
    line: int
    cells: dict[str, str]
    registration: RegistrationIn | None
    problems: list[RowProblem] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return self.registration is not None and not self.problems


def spreadsheet_values(cells: Mapping[str, str]) -> dict[str, Any]:
    """The row as ``RegistrationIn`` input: written-out categories, languages and consents as codes."""
    values: dict[str, Any] = dict(cells)
    if "category" in values:
        values["category"] = CATEGORY_OF.get(fold(values["category"]), values["category"])
    if "language" in values:
        folded = fold(values["language"])
        values["language"] = LANGUAGE_OF.get(folded) or LANGUAGE_OF.get(folded.split(" ")[0], values["language"])
    if "listed" in values:
        folded = fold(values["listed"])
        values["listed"] = True if folded in YES else False if folded in NO else values["listed"]
    return values


def _problem(error: Mapping[str, Any], letters: Mapping[str, str]) -> RowProblem:
    name = str(error["loc"][0]) if error["loc"] else "row"
    kind = str(error["type"])
    if kind in MISSING_TYPES and name in ("name", "email", "category"):
        code = f"missing_{name}"
    elif kind == "string_too_long":
        code = "too_long"
    else:
        code = PROBLEM_CODES.get((name, kind), "invalid")
    return RowProblem(field=name, column=letters.get(name), code=code, message=str(error["msg"]))


def check_row(row: SheetRow, letters: Mapping[str, str]) -> CheckedRow:
    """One row alone: formulas, then the registration's own rules."""
    problems = [
        RowProblem(field=name, column=letters.get(name), code="formula", message="a formula: type the value itself")
        for name in sorted(row.formulas)
    ]
    values = {k: v for k, v in spreadsheet_values(row.cells).items() if k not in row.formulas}
    registration = None
    try:
        registration = RegistrationIn.model_validate(values)
    except ValidationError as exc:
        problems += [
            _problem(error, letters)
            for error in exc.errors(include_url=False)
            if not error["loc"] or str(error["loc"][0]) not in row.formulas
        ]
    return CheckedRow(line=row.line, cells=dict(row.cells), registration=registration, problems=problems)


def check_rows(sheet: Sheet, registered: Iterable[str]) -> list[CheckedRow]:
    """Every row of ``sheet``; ``registered`` are the emails the event already has (any case)."""
    letters = {column.field: column.letter for column in sheet.columns}
    already = {email.lower() for email in registered}
    first_line: dict[str, int] = {}
    checked = []
    for row in sheet.rows:
        result = check_row(row, letters)
        email = row.cells.get("email", "").strip().lower()
        if email and "email" not in row.formulas:
            if email in first_line:
                result.problems.append(
                    RowProblem(
                        field="email",
                        column=letters.get("email"),
                        code="duplicate_in_file",
                        message=f"the same email as line {first_line[email]}",
                        other_line=first_line[email],
                    )
                )
            else:
                first_line[email] = row.line
                if email in already:
                    result.problems.append(
                        RowProblem(
                            field="email",
                            column=letters.get("email"),
                            code="already_registered",
                            message="already registered for this event",
                        )
                    )
        checked.append(result)
    return checked
