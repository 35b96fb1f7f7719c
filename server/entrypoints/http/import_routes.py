"""Organiser routes for bulk registration: preview a delegation list (CSV or XLSX), then register it.

The file is the whole request body (``Content-Type: text/csv`` or the XLSX type), read up to
``PARLEY_IMPORT_MAX_BYTES``; the commit takes the same file again, with the preview's ``sha256``
to refuse a different one. ``docs/http-api.md`` ("Bulk registration") tells the whole story.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.entrypoints.http.auth import event_access, join_links
from server.entrypoints.http.openapi import ORGANISER_PROBLEMS, SLUG, Out, Param, Reply, Routes
from server.entrypoints.http.problems import Problem
from server.services import bulk_registration as bulk
from server.services.access import Capability

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
UPLOAD = ("text/csv", XLSX, "application/octet-stream")
# also taken, undocumented: what browsers and systems call a CSV file besides text/csv
ALSO_TAKEN = frozenset({"text/plain", "application/vnd.ms-excel", "application/csv", "text/comma-separated-values"})
SHA256 = re.compile(r"[0-9a-fA-F]{64}")
FILE_STATUS = {"unsupported_file": 415}  # any other SheetError is a 422

api = Routes()
SHA256_PARAM = Param(
    "sha256",
    "The `sha256` of the preview: the commit is refused (409 `file_changed`) when the file is another.",
    required=False,
    schema_extra={"pattern": "^[0-9a-fA-F]{64}$"},
)
UPLOAD_PROBLEMS = {
    **ORGANISER_PROBLEMS,
    413: "The file is larger than `PARLEY_IMPORT_MAX_BYTES` (`too_large`).",
    415: "Not a CSV or XLSX body (`unsupported_media_type`), or a spreadsheet format Parley does not read, "
    "such as .xls or .ods (`unsupported_file`).",
    422: "The file as a whole cannot be read: `unreadable_file`, `empty_file`, `too_many_rows` (more than "
    "`PARLEY_IMPORT_MAX_ROWS`), `missing_columns`, `duplicate_column`; or `invalid` (a malformed `sha256`).",
}


class ImportProblem(Out):
    field: str = Field(description='The registration field ("email"), or "row".')
    column: str | None = Field(description='Its column\'s letter in the file ("B").')
    code: str = Field(
        description="missing_name, missing_email, invalid_email, missing_category, unknown_category, "
        "unknown_language, unknown_timezone, invalid_listed, too_long, formula, duplicate_in_file, "
        "already_registered, invalid."
    )
    message: str = Field(description="In English; `code` is what to translate.")
    other_line: int | None = Field(None, description="duplicate_in_file: the line holding the email first.")


class ImportRow(Out):
    line: int = Field(description="The line number as the spreadsheet shows it (the header is line 1).")
    valid: bool
    values: dict[str, str] = Field(description="The cells as written, per field.")
    registration: dict[str, str | bool | None] | None = Field(
        description="What would be registered (categories and languages as codes); null for an invalid row."
    )
    problems: list[ImportProblem]


class ImportColumn(Out):
    field: str
    column: str = Field(description="Its letter in the file.")
    header: str | None = Field(description="The header cell as written; null in a file without a header.")


class ImportPreview(Out):
    sha256: str = Field(description="Of the file: pass it to the commit.")
    format: Literal["csv", "xlsx"]
    encoding: str | None = Field(description="CSV: utf-8, utf-8-sig (with a BOM), utf-16 or cp1252.")
    delimiter: str | None = Field(description="CSV: `,`, `;` or a tab.")
    sheet: str | None = Field(description="XLSX: the name of the sheet read (the first).")
    header: bool = Field(description="False: the columns were taken in the documented order.")
    columns: list[ImportColumn]
    ignored_columns: list[str] = Field(description='Header cells no field matches, e.g. "G (Notes)".')
    total: int
    valid: int
    invalid: int
    rows: list[ImportRow]


class ImportCreated(Out):
    line: int
    id: int
    name: str
    email: str


class ImportSkipped(Out):
    line: int
    problems: list[ImportProblem]


class ImportResult(Out):
    sha256: str
    created: list[ImportCreated] = Field(description="Registered, each mailed its join link.")
    skipped: list[ImportSkipped] = Field(description="Rows with problems, not registered.")


async def uploaded_file(request: Request) -> bytes:
    """The request body as a file, read no further than the size limit."""
    limit: int = request.state.settings.import_max_bytes
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in UPLOAD and media_type not in ALSO_TAKEN:
        raise Problem(
            415, "send the file as the body, with Content-Type text/csv or " + XLSX, code="unsupported_media_type"
        )
    declared = request.headers.get("content-length", "")
    too_large = Problem(413, f"the file is larger than {limit} bytes", code="too_large")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def organisers_file(request: Request) -> bytes:
    """The uploaded file, read only once the request is known to come from an organiser of the event
    (401, 404, 403 first), and with no database connection held while a slow upload arrives."""
    async with request.state.sessions() as session:
        await event_access(request, session, Capability.MANAGE_REGISTRATIONS)
    return await uploaded_file(request)


def limits(request: Request) -> bulk.ImportLimits:
    settings = request.state.settings
    return bulk.ImportLimits(max_bytes=settings.import_max_bytes, max_rows=settings.import_max_rows)


def sheet_problem(error: bulk.SheetError) -> Problem:
    return Problem(FILE_STATUS.get(error.code, 422), error.message, code=error.code)


def problem_json(problem: bulk.RowProblem) -> dict[str, object]:
    return {
        "field": problem.field,
        "column": problem.column,
        "code": problem.code,
        "message": problem.message,
        "other_line": problem.other_line,
    }


def row_json(row: bulk.CheckedRow) -> dict[str, object]:
    return {
        "line": row.line,
        "valid": row.valid,
        "values": row.cells,
        "registration": row.registration.model_dump() if row.valid and row.registration else None,
        "problems": [problem_json(p) for p in row.problems],
    }


def preview_json(checked: bulk.CheckedFile) -> dict[str, object]:
    sheet = checked.sheet
    return {
        "sha256": checked.sha256,
        "format": sheet.format,
        "encoding": sheet.encoding,
        "delimiter": sheet.delimiter,
        "sheet": sheet.sheet_name,
        "header": sheet.header,
        "columns": [{"field": c.field, "column": c.letter, "header": c.header} for c in sheet.columns],
        "ignored_columns": sheet.ignored,
        "total": len(checked.rows),
        "valid": len(checked.valid),
        "invalid": len(checked.invalid),
        "rows": [row_json(row) for row in checked.rows],
    }


@api.route(
    "POST",
    "/api/events/{slug}/registrations/import/preview",
    summary="Preview a delegation list before registering it (organisers)",
    description="The body is the file (CSV or XLSX). Every row is checked by the rules of a single "
    "registration, against the rest of the file (duplicates) and the event (already registered); "
    "nothing is saved and nothing is kept.",
    tags=["organisers"],
    path=[SLUG],
    upload=UPLOAD,
    responses={200: Reply("Every row with its problems, and the counts.", ImportPreview)},
    problems=UPLOAD_PROBLEMS,
)
async def preview_import(request: Request) -> Response:
    data = await organisers_file(request)
    async with request.state.sessions() as session:
        event = (await event_access(request, session, Capability.MANAGE_REGISTRATIONS)).event
        try:
            checked = await bulk.check_file(session, event.id, data, limits(request))
        except bulk.SheetError as exc:
            raise sheet_problem(exc) from None
    return JSONResponse(preview_json(checked))


@api.route(
    "POST",
    "/api/events/{slug}/registrations/import",
    summary="Register the valid rows of a delegation list (organisers)",
    description="The body is the previewed file again. It is checked again; its valid rows are registered in "
    "one transaction, each mailed its join link, and the rows with problems are skipped. Should a row fail "
    "to save (registered meanwhile), nothing is saved (409 `import_conflict`).",
    tags=["organisers"],
    path=[SLUG],
    query=[SHA256_PARAM],
    upload=UPLOAD,
    responses={200: Reply("What was registered and what was skipped.", ImportResult)},
    problems={
        **UPLOAD_PROBLEMS,
        409: "Not the previewed file (`file_changed`), or a row registered meanwhile (`import_conflict`): "
        "nothing was saved.",
    },
)
async def commit_import(request: Request) -> Response:
    data = await organisers_file(request)
    expected = request.query_params.get("sha256")
    if expected is not None and not SHA256.fullmatch(expected):
        raise Problem(422, "sha256: 64 hexadecimal digits", code="invalid")
    async with request.state.sessions() as session, session.begin():
        event = (await event_access(request, session, Capability.MANAGE_REGISTRATIONS)).event
        try:
            committed = await bulk.commit(
                session,
                event.slug,
                event.id,
                data,
                join_links(request),
                now=request.state.clock.now(),
                limits=limits(request),
                expected_sha256=expected,
            )
        except bulk.SheetError as exc:
            raise sheet_problem(exc) from None
        except bulk.FileChanged as exc:
            raise Problem(409, str(exc), code="file_changed") from None
        except bulk.ImportConflict as exc:
            raise Problem(409, str(exc), code="import_conflict") from None
    created = [
        {"line": row.line, "id": registration.id, "name": registration.name, "email": registration.email}
        for row, registration in committed.created
    ]
    skipped = [
        {"line": row.line, "problems": [problem_json(p) for p in row.problems]} for row in committed.checked.invalid
    ]
    return JSONResponse({"sha256": committed.checked.sha256, "created": created, "skipped": skipped})


routes = api.routes
