"""Reminders before each morning.

- `rules`: which reminders are due for whom (pure, given `now`);
- `deliveries`: the exactly-once record, with a sync session (the workers' scan and send);
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
    deliver,
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

__all__ = [
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
