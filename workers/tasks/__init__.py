"""Every task module; the worker imports this package (``include=["workers.tasks"]`` in the app)."""

from workers.tasks import certificates, reminders, reports  # noqa: F401
