"""Certificates of attendance: one per attendee per morning whose report marks them as attended,
and one for the whole event on the same rule (docs/certificates.md).

``derive`` reads who earned one off the compiled report (no second computation), ``service`` issues
them in the worker (rows with a random verification code, then the organisers' zip in ``bundle``),
``pdf`` draws one page in the attendee's language (``labels``), ``queries`` is what the server reads,
``codes`` makes and reads verification codes, ``throttle`` limits failed verifications per address.
"""

from server.services.certificates.codes import display, normalise
from server.services.certificates.model import EVENT_SCOPE, Printed
from server.services.certificates.service import Issued, NotOver, due_scopes, issue, scan_due, verify_url

__all__ = [
    "EVENT_SCOPE",
    "Issued",
    "NotOver",
    "Printed",
    "display",
    "due_scopes",
    "issue",
    "normalise",
    "scan_due",
    "verify_url",
]
