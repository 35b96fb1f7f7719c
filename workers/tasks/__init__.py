"""Every task module; the worker imports this package (``include=["workers.tasks"]`` in the app)."""

from workers.tasks import reminders  # noqa: F401

try:
    from workers.tasks import reports  # noqa: F401
except ModuleNotFoundError as exc:  # pragma: no cover - only while the reports are being written
    # The attendance reports (parley.reports.*, workers/tasks/reports.py) are built in parallel with
    # the reminders. Until that module exists the worker runs without them, and the beat entry
    # parley.reports.scan_due is received as an unknown task (logged, discarded). Any other import
    # error inside the reports module is a real bug and is raised.
    if exc.name != "workers.tasks.reports":
        raise
