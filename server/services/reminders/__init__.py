"""Reminders before each morning.

- `rules`: which reminders are due for whom (pure, given `now`);
- `deliveries`: the exactly-once record, with a sync session (the workers' scan and claim);
- `sending`: claim, compose, send and record deliveries in batches (one SMTP connection per batch);
- `organisers`: counts per reminder, one person's resend, the schedule (async session, HTTP);
- `notices`: mails about no one morning on the same record (confirmation, lost link, organisers'
  messages), read for `deliver`; `lost_links`: the scan's side of "I lost my link".

See docs/workers.md for the protocol and what a worker killed mid-send means.
"""

from server.services.reminders.deliveries import (
    Compose,
    DeliveryError,
    MailSegment,
    ReminderMail,
    Send,
    claim,
    load_schedule,
    scan,
)
from server.services.reminders.organisers import (
    ReminderConflict,
    ReminderNotFound,
    event_schedule,
    overview,
    request_resend,
    set_schedule,
)
from server.services.reminders.rules import (
    BATCH_SETTLE,
    CLAIM_LEASE,
    DEFAULT_SCHEDULE,
    MAX_ATTEMPTS,
    REQUEUE_AFTER,
    RETRY_BASE,
    RETRY_CAP,
    Recipient,
    Rule,
    Schedule,
    attendee_eligible,
    calendar_uid,
    due_rules,
    mail_language,
    message_id,
    retry_delay,
    rule_of,
    superseded,
)
from server.services.reminders.sending import BATCH_BUDGET_S, deliver, deliver_batch

__all__ = [
    "BATCH_BUDGET_S",
    "BATCH_SETTLE",
    "CLAIM_LEASE",
    "DEFAULT_SCHEDULE",
    "MAX_ATTEMPTS",
    "REQUEUE_AFTER",
    "RETRY_BASE",
    "RETRY_CAP",
    "Compose",
    "DeliveryError",
    "MailSegment",
    "Recipient",
    "ReminderConflict",
    "ReminderMail",
    "ReminderNotFound",
    "Rule",
    "Schedule",
    "Send",
    "attendee_eligible",
    "calendar_uid",
    "claim",
    "deliver",
    "deliver_batch",
    "due_rules",
    "event_schedule",
    "load_schedule",
    "mail_language",
    "message_id",
    "overview",
    "request_resend",
    "retry_delay",
    "rule_of",
    "scan",
    "set_schedule",
    "superseded",
]
