"""Bulk registration: a delegation list (CSV or XLSX) previewed row by row, then registered at once.

``sheets`` reads the file (and refuses hostile ones), ``columns`` finds which column is which,
``rows`` checks each row by the single-registration rules, ``service`` previews and commits.
"""

from server.services.bulk_registration.errors import SheetError
from server.services.bulk_registration.rows import CheckedRow, RowProblem
from server.services.bulk_registration.service import (
    CheckedFile,
    Committed,
    FileChanged,
    ImportConflict,
    ImportLimits,
    check_file,
    commit,
)

__all__ = [
    "CheckedFile",
    "CheckedRow",
    "Committed",
    "FileChanged",
    "ImportConflict",
    "ImportLimits",
    "RowProblem",
    "SheetError",
    "check_file",
    "commit",
]
