// The wire protocol as the browser knows it: command, event and frame types, error codes.
// The SPEC block is plain JSON, checked against server.protocol.json_schema() by
// tests/test_frontend_protocol.py: a type or field added on one side only fails that test.

// BEGIN SPEC
export const SPEC = Object.freeze(
{
  "protocol_version": 2,
  "commands": {
    "segment.open": {"fields": ["segment_id"], "required": ["segment_id"], "roles": ["moderator", "organiser"]},
    "segment.pause": {"fields": ["segment_id"], "required": ["segment_id"], "roles": ["moderator", "organiser"]},
    "segment.resume": {"fields": ["segment_id"], "required": ["segment_id"], "roles": ["moderator", "organiser"]},
    "segment.end": {"fields": ["segment_id"], "required": ["segment_id"], "roles": ["moderator", "organiser"]},
    "floor.grant": {"fields": ["entry_id", "person_id", "limit_s"], "required": [], "roles": ["moderator", "organiser"]},
    "speech.pause": {"fields": [], "required": [], "roles": ["moderator", "organiser"]},
    "speech.resume": {"fields": [], "required": [], "roles": ["moderator", "organiser"]},
    "speech.end": {"fields": [], "required": [], "roles": ["moderator", "organiser"]},
    "speech.set_limit": {"fields": ["seconds"], "required": ["seconds"], "roles": ["moderator", "organiser"]},
    "notice.set": {"fields": ["text"], "required": ["text"], "roles": ["moderator", "organiser"]},
    "notice.clear": {"fields": [], "required": [], "roles": ["moderator", "organiser"]},
    "floor.request": {"fields": ["topic", "on_behalf_of", "point_of_order"], "required": [], "roles": ["attendee", "moderator", "organiser"]},
    "floor.withdraw": {"fields": [], "required": [], "roles": ["attendee", "moderator", "organiser"]},
    "queue.remove": {"fields": ["entry_id"], "required": ["entry_id"], "roles": ["moderator", "organiser"]},
    "queue.reorder": {"fields": ["entry_ids"], "required": ["entry_ids"], "roles": ["moderator", "organiser"]},
    "queue.set_order": {"fields": ["order"], "required": ["order"], "roles": ["moderator", "organiser"]},
    "queue.close": {"fields": [], "required": [], "roles": ["moderator", "organiser"]},
    "queue.open": {"fields": [], "required": [], "roles": ["moderator", "organiser"]},
    "question.ask": {"fields": ["text", "addressed_to", "anonymous"], "required": ["text"], "roles": ["attendee", "moderator", "organiser"]},
    "question.vote": {"fields": ["question_id", "up"], "required": ["question_id", "up"], "roles": ["attendee", "moderator", "organiser"]},
    "question.approve": {"fields": ["question_id", "text"], "required": ["question_id"], "roles": ["moderator", "organiser"]},
    "question.edit": {"fields": ["question_id", "text"], "required": ["question_id", "text"], "roles": ["moderator", "organiser"]},
    "question.dismiss": {"fields": ["question_id"], "required": ["question_id"], "roles": ["moderator", "organiser"]},
    "question.highlight": {"fields": ["question_id"], "required": ["question_id"], "roles": ["moderator", "organiser"]},
    "question.answer": {"fields": ["question_id"], "required": ["question_id"], "roles": ["moderator", "organiser"]},
    "question.archive": {"fields": ["question_id"], "required": ["question_id"], "roles": ["moderator", "organiser"]},
    "question.restore": {"fields": ["question_id"], "required": ["question_id"], "roles": ["moderator", "organiser"]},
    "qa.set_moderation": {"fields": ["enabled"], "required": ["enabled"], "roles": ["moderator", "organiser"]},
    "poll.prepare": {"fields": ["segment_id", "question", "options", "choice", "anonymous"], "required": ["segment_id", "question", "options"], "roles": ["moderator", "organiser"]},
    "poll.discard": {"fields": ["poll_id"], "required": ["poll_id"], "roles": ["moderator", "organiser"]},
    "poll.open": {"fields": ["poll_id"], "required": ["poll_id"], "roles": ["moderator", "organiser"]},
    "poll.close": {"fields": ["poll_id"], "required": ["poll_id"], "roles": ["moderator", "organiser"]},
    "poll.publish": {"fields": ["poll_id"], "required": ["poll_id"], "roles": ["moderator", "organiser"]},
    "poll.vote": {"fields": ["poll_id", "option_ids"], "required": ["poll_id", "option_ids"], "roles": ["attendee"]},
    "statement.submit": {"fields": ["segment_id", "language", "text"], "required": ["segment_id", "language", "text"], "roles": ["attendee", "moderator", "organiser"]},
    "statement.approve": {"fields": ["statement_id"], "required": ["statement_id"], "roles": ["moderator", "organiser"]},
    "statement.reject": {"fields": ["statement_id", "reason"], "required": ["statement_id"], "roles": ["moderator", "organiser"]},
    "statements.set_deadline": {"fields": ["after_s", "until"], "required": [], "roles": ["organiser"]},
    "ping": {"fields": [], "required": [], "roles": ["attendee", "moderator", "organiser"]},
    "resume": {"fields": ["channels"], "required": ["channels"], "roles": ["attendee", "moderator", "organiser"]}
  },
  "events": {
    "floor.requested": {"channel": "public", "fields": ["entry", "position"]},
    "notice.cleared": {"channel": "public", "fields": ["at"]},
    "notice.posted": {"channel": "public", "fields": ["text", "at"]},
    "poll.closed": {"channel": "public", "fields": ["poll_id", "at"]},
    "poll.discarded": {"channel": "staff", "fields": ["poll_id", "by", "at"]},
    "poll.launched": {"channel": "staff", "fields": ["poll_id", "by", "at"]},
    "poll.opened": {"channel": "public", "fields": ["poll"]},
    "poll.prepared": {"channel": "staff", "fields": ["poll"]},
    "poll.results_published": {"channel": "public", "fields": ["poll_id", "results", "at"]},
    "poll.results_updated": {"channel": "public", "fields": ["poll_id", "results"]},
    "poll.tallied": {"channel": "staff", "fields": ["poll_id", "ballots", "counts", "named"]},
    "presence.counts_updated": {"channel": "staff", "fields": ["online", "peak_today", "by_category", "at"]},
    "qa.moderation_set": {"channel": "staff", "fields": ["enabled", "by", "at"]},
    "question.answered": {"channel": "public", "fields": ["question_id", "at"]},
    "question.approved": {"channel": "staff", "fields": ["question_id", "text", "by", "at"]},
    "question.archived": {"channel": "public", "fields": ["question_id", "at"]},
    "question.asked": {"channel": "staff", "fields": ["question"]},
    "question.dismissed": {"channel": "staff", "fields": ["question", "by", "at"]},
    "question.edited": {"channel": "staff", "fields": ["question_id", "text", "by", "at"]},
    "question.highlighted": {"channel": "public", "fields": ["question_id", "at"]},
    "question.published": {"channel": "public", "fields": ["question"]},
    "question.unarchived": {"channel": "public", "fields": ["question_id", "status", "at"]},
    "question.undismissed": {"channel": "staff", "fields": ["question_id", "by", "at"]},
    "question.unpublished": {"channel": "public", "fields": ["question_id", "at"]},
    "question.votes_updated": {"channel": "public", "fields": ["counts"]},
    "queue.closed": {"channel": "public", "fields": ["at"]},
    "queue.entry_removed": {"channel": "public", "fields": ["entry_id", "reason", "at"]},
    "queue.opened": {"channel": "public", "fields": ["at"]},
    "queue.reordered": {"channel": "public", "fields": ["entry_ids"]},
    "queue.order_set": {"channel": "public", "fields": ["order", "at"]},
    "segment.ended": {"channel": "public", "fields": ["segment_id", "at", "drift_s"]},
    "segment.opened": {"channel": "public", "fields": ["segment_id", "at", "drift_s"]},
    "segment.paused": {"channel": "public", "fields": ["segment_id", "at"]},
    "segment.resumed": {"channel": "public", "fields": ["segment_id", "at"]},
    "speech.ended": {"channel": "public", "fields": ["speech", "at", "duration_s"]},
    "speech.limit_set": {"channel": "public", "fields": ["speech_id", "limit_s"]},
    "speech.paused": {"channel": "public", "fields": ["speech_id", "at"]},
    "speech.resumed": {"channel": "public", "fields": ["speech_id", "at", "paused_s"]},
    "speech.started": {"channel": "public", "fields": ["speech"]},
    "statement.approved": {"channel": "staff", "fields": ["statement_id", "by", "at"]},
    "statement.published": {"channel": "public", "fields": ["statement"]},
    "statement.rejected": {"channel": "staff", "fields": ["statement_id", "reason", "by", "at"]},
    "statement.submitted": {"channel": "staff", "fields": ["statement"]},
    "statements.deadline_set": {"channel": "public", "fields": ["deadline", "at"]},
    "statements.opened": {"channel": "public", "fields": ["window"]}
  },
  "server_frames": ["error", "event", "heartbeat", "result", "resync", "snapshot"],
  "error_codes": ["bad_json", "unknown_type", "invalid", "forbidden", "not_found", "no_live_segment", "list_closed", "already_waiting", "invalid_transition", "reorder_mismatch", "outside_day", "not_eligible", "deadline_passed", "rate_limited", "internal"],
  "resync_reasons": ["epoch_changed", "history_exhausted", "gap", "slow_consumer"]
}
);
// END SPEC

export const PROTOCOL_VERSION = SPEC.protocol_version;
export const STAFF_ROLES = Object.freeze(["moderator", "organiser"]);

let counter = 0;
const prefix = Math.random().toString(36).slice(2, 8);

/** A fresh command id: printable ASCII without spaces, at most 64 characters. */
export function newCid() {
  counter += 1;
  return `${prefix}-${Date.now().toString(36)}-${counter}`;
}

/** A command frame; refuses (in development) a type or field the protocol does not have. */
export function command(type, fields = {}, cid = newCid()) {
  const spec = SPEC.commands[type];
  if (!spec) throw new Error(`unknown command type ${type}`);
  const frame = { type, cid };
  for (const [key, value] of Object.entries(fields)) {
    if (!spec.fields.includes(key)) throw new Error(`${type} has no field ${key}`);
    if (value !== undefined) frame[key] = value;
  }
  for (const key of spec.required) {
    if (!(key in frame)) throw new Error(`${type} needs ${key}`);
  }
  return frame;
}

/** Whether ``role`` may send ``type`` (to hide what the server would refuse anyway). */
export function allowed(role, type) {
  const spec = SPEC.commands[type];
  return Boolean(spec && spec.roles.includes(role));
}

export function channelOf(eventType) {
  return SPEC.events[eventType]?.channel ?? null;
}

export function isErrorCode(code) {
  return SPEC.error_codes.includes(code);
}
