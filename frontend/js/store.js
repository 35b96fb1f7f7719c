// The client's copy of the live state: a snapshot, then every event applied exactly as the server
// does (server/core/apply.py: apply_public, apply_staff). Objects are never mutated: each event
// gives new ones, so a failed apply leaves the old state intact. tests/browser/test_frontend_modules.py
// folds the core's own test cases through these functions and compares with the Python result.

export class InconsistentEvent extends Error {
  constructor(message) {
    super(message);
    this.name = "InconsistentEvent";
  }
}

const fail = (message) => {
  throw new InconsistentEvent(message);
};

const byIdOrder = (a, b) => a.id - b.id;

// -- stage (server/core/stage.py apply_stage) -----------------------------------------------------

function withSegment(state, segmentId, changes) {
  if (!state.segments.some((s) => s.id === segmentId)) fail(`no segment ${segmentId}`);
  return state.segments.map((s) => (s.id === segmentId ? { ...s, ...changes } : s));
}

function currentSpeech(state, speechId) {
  const speech = state.stage.speech;
  if (!speech || speech.id !== speechId) fail(`speech ${speechId} does not have the floor`);
  return speech;
}

function withSpeech(state, speechId, changes) {
  const speech = { ...currentSpeech(state, speechId), ...changes };
  return { ...state, stage: { ...state.stage, speech } };
}

function withoutEntry(queue, entryId) {
  if (!queue.waiting.some((e) => e.id === entryId)) fail(`entry ${entryId} is not waiting`);
  return { ...queue, waiting: queue.waiting.filter((e) => e.id !== entryId) };
}

function applyStage(state, ev) {
  const stage = state.stage;
  switch (ev.type) {
    case "segment.opened":
      return {
        ...state,
        segments: withSegment(state, ev.segment_id, { status: "live", opened_at: ev.at }),
        stage: { ...stage, live_segment_id: ev.segment_id, drift_s: ev.drift_s },
        queue: { segment_id: ev.segment_id, open: true, waiting: [], order: state.queue.order },
      };
    case "segment.paused":
      return { ...state, segments: withSegment(state, ev.segment_id, { status: "paused" }) };
    case "segment.resumed":
      return { ...state, segments: withSegment(state, ev.segment_id, { status: "live" }) };
    case "segment.ended":
      return {
        ...state,
        segments: withSegment(state, ev.segment_id, { status: "ended", ended_at: ev.at }),
        stage: { ...stage, live_segment_id: null, drift_s: ev.drift_s },
      };
    case "speech.started": {
      let queue = state.queue;
      if (ev.speech.entry_id !== null && ev.speech.entry_id !== undefined) queue = withoutEntry(queue, ev.speech.entry_id);
      return { ...state, stage: { ...stage, speech: ev.speech }, queue };
    }
    case "speech.paused":
      return withSpeech(state, ev.speech_id, { paused_at: ev.at });
    case "speech.resumed":
      return withSpeech(state, ev.speech_id, { paused_at: null, paused_s: ev.paused_s });
    case "speech.limit_set":
      return withSpeech(state, ev.speech_id, { limit_s: ev.limit_s });
    case "speech.ended":
      currentSpeech(state, ev.speech.id);
      return { ...state, stage: { ...stage, speech: null } };
    case "notice.posted":
      return { ...state, stage: { ...stage, notice: { text: ev.text, posted_at: ev.at } } };
    case "notice.cleared":
      return { ...state, stage: { ...stage, notice: null } };
    default:
      return undefined;
  }
}

// -- speakers queue (server/core/speakers.py apply_queue) -----------------------------------------

function applyQueue(state, ev) {
  let queue = state.queue;
  switch (ev.type) {
    case "floor.requested": {
      const waiting = queue.waiting;
      if (!(ev.position >= 0 && ev.position <= waiting.length) || waiting.some((e) => e.id === ev.entry.id)) {
        fail(`cannot insert entry ${ev.entry.id} at ${ev.position}`);
      }
      queue = { ...queue, waiting: [...waiting.slice(0, ev.position), ev.entry, ...waiting.slice(ev.position)] };
      break;
    }
    case "queue.entry_removed":
      queue = withoutEntry(queue, ev.entry_id);
      break;
    case "queue.reordered": {
      const byId = new Map(queue.waiting.map((e) => [e.id, e]));
      const wanted = [...ev.entry_ids].sort((a, b) => a - b);
      const have = [...byId.keys()].sort((a, b) => a - b);
      if (wanted.length !== have.length || wanted.some((id, i) => id !== have[i])) {
        fail("the new order is not a permutation of the waiting entries");
      }
      queue = { ...queue, waiting: ev.entry_ids.map((id) => byId.get(id)) };
      break;
    }
    case "queue.closed":
      queue = { ...queue, open: false };
      break;
    case "queue.opened":
      queue = { ...queue, open: true };
      break;
    case "queue.order_set":
      queue = { ...queue, order: ev.order };
      break;
    default:
      return undefined;
  }
  return { ...state, queue };
}

// -- Q&A (server/core/qa.py apply_public_qa, apply_staff_qa) -------------------------------------

function withQuestion(questions, question) {
  return [...questions.filter((q) => q.id !== question.id), question].sort(byIdOrder);
}

function publicQuestion(state, id) {
  const question = state.questions.find((q) => q.id === id);
  if (!question) fail(`question ${id} is not published`);
  return question;
}

function withStatus(state, id, changes) {
  const question = { ...publicQuestion(state, id), ...changes };
  let highlighted = state.highlighted_question_id;
  if (highlighted === id && question.status !== "approved") highlighted = null;
  return { ...state, questions: withQuestion(state.questions, question), highlighted_question_id: highlighted };
}

function applyPublicQa(state, ev) {
  switch (ev.type) {
    case "question.published":
      if (state.questions.some((q) => q.id === ev.question.id)) fail(`question ${ev.question.id} is already published`);
      return { ...state, questions: withQuestion(state.questions, ev.question) };
    case "question.unpublished": {
      publicQuestion(state, ev.question_id);
      const highlighted = state.highlighted_question_id;
      return {
        ...state,
        questions: state.questions.filter((q) => q.id !== ev.question_id),
        highlighted_question_id: highlighted === ev.question_id ? null : highlighted,
      };
    }
    case "question.votes_updated": {
      for (const id of Object.keys(ev.counts)) publicQuestion(state, Number(id));
      const questions = state.questions.map((q) =>
        String(q.id) in ev.counts ? { ...q, votes: ev.counts[String(q.id)] } : q,
      );
      return { ...state, questions };
    }
    case "question.highlighted":
      if (ev.question_id !== null && publicQuestion(state, ev.question_id).status !== "approved") {
        fail(`question ${ev.question_id} is not approved`);
      }
      return { ...state, highlighted_question_id: ev.question_id };
    case "question.answered":
      return withStatus(state, ev.question_id, { status: "answered", answered_at: ev.at });
    case "question.archived":
      return withStatus(state, ev.question_id, { status: "archived" });
    case "question.unarchived":
      return withStatus(state, ev.question_id, { status: ev.status });
    default:
      return undefined;
  }
}

function staffQuestion(state, id, status) {
  const question = state.questions.find((q) => q.id === id);
  if (!question || question.status !== status) fail(`question ${id} is not ${status}`);
  return question;
}

function applyStaffQa(state, ev) {
  switch (ev.type) {
    case "question.asked": {
      const id = ev.question.id;
      if (state.questions.some((q) => q.id === id) || String(id) in state.provenance) fail(`question ${id} exists already`);
      return { ...state, questions: withQuestion(state.questions, ev.question) };
    }
    case "question.edited": {
      const question = staffQuestion(state, ev.question_id, "pending");
      const edited = {
        ...question,
        text: ev.text,
        original_text: question.original_text || question.text,
        edited_by: ev.by,
        edited_at: ev.at,
      };
      return { ...state, questions: withQuestion(state.questions, edited) };
    }
    case "question.approved": {
      const question = staffQuestion(state, ev.question_id, "pending");
      const changed = ev.text !== question.text;
      const provenance = {
        asker: question.asker,
        anonymous: question.anonymous,
        original_text: changed ? question.original_text || question.text : question.original_text,
        edited_by: changed ? ev.by : question.edited_by,
        edited_at: changed ? ev.at : question.edited_at,
        approved_by: ev.by,
        approved_at: ev.at,
      };
      return {
        ...state,
        questions: state.questions.filter((q) => q.id !== question.id),
        provenance: { ...state.provenance, [String(question.id)]: provenance },
      };
    }
    case "question.dismissed": {
      const id = ev.question.id;
      const current = state.questions.find((q) => q.id === id);
      if ((!current || current.status !== "pending") && !(String(id) in state.provenance)) {
        fail(`question ${id} is neither pending nor published`);
      }
      const provenance = { ...state.provenance };
      delete provenance[String(id)];
      return { ...state, questions: withQuestion(state.questions, ev.question), provenance };
    }
    case "question.undismissed": {
      const question = {
        ...staffQuestion(state, ev.question_id, "dismissed"),
        status: "pending",
        dismissed_by: null,
        dismissed_at: null,
      };
      return { ...state, questions: withQuestion(state.questions, question) };
    }
    case "qa.moderation_set":
      return { ...state, moderation: ev.enabled };
    default:
      return undefined;
  }
}

// -- polls (server/core/polls.py apply_public_polls, apply_staff_polls) ----------------------------

function openedPoll(state, id) {
  const poll = state.polls.find((p) => p.id === id);
  if (!poll) fail(`poll ${id} is not opened`);
  return poll;
}

function withPoll(polls, poll) {
  return [...polls.filter((p) => p.id !== poll.id), poll].sort(byIdOrder);
}

function applyPublicPolls(state, ev) {
  switch (ev.type) {
    case "poll.opened":
      if (state.polls.some((p) => p.id === ev.poll.id)) fail(`poll ${ev.poll.id} is already opened`);
      return { ...state, polls: withPoll(state.polls, ev.poll) };
    case "poll.closed": {
      const poll = openedPoll(state, ev.poll_id);
      if (poll.status !== "open") fail(`poll ${ev.poll_id} is not open`);
      return { ...state, polls: withPoll(state.polls, { ...poll, status: "closed", closed_at: ev.at }) };
    }
    case "poll.results_published":
    case "poll.results_updated": {
      const poll = openedPoll(state, ev.poll_id);
      const published = poll.results !== null && poll.results !== undefined;
      if (published !== (ev.type === "poll.results_updated")) fail(`poll ${ev.poll_id}: results ${published ? "already" : "not"} published`);
      return { ...state, polls: withPoll(state.polls, { ...poll, results: ev.results }) };
    }
    default:
      return undefined;
  }
}

function applyStaffPolls(state, ev) {
  switch (ev.type) {
    case "poll.prepared":
      if (state.draft_polls.some((p) => p.id === ev.poll.id) || String(ev.poll.id) in state.poll_tallies) {
        fail(`poll ${ev.poll.id} exists already`);
      }
      return { ...state, draft_polls: withPoll(state.draft_polls, ev.poll) };
    case "poll.discarded":
    case "poll.launched": {
      const draft = state.draft_polls.find((p) => p.id === ev.poll_id);
      if (!draft) fail(`poll ${ev.poll_id} is not a draft`);
      const drafts = state.draft_polls.filter((p) => p.id !== ev.poll_id);
      if (ev.type === "poll.discarded") return { ...state, draft_polls: drafts };
      const counts = Object.fromEntries(draft.options.map((o) => [String(o.id), 0]));
      const tally = { ballots: 0, counts, named: [] };
      return { ...state, draft_polls: drafts, poll_tallies: { ...state.poll_tallies, [String(draft.id)]: tally } };
    }
    case "poll.tallied": {
      const current = state.poll_tallies[String(ev.poll_id)];
      if (!current) fail(`poll ${ev.poll_id} has no tally`);
      const named = new Map(current.named.map((b) => [b.who, b]));
      for (const ballot of ev.named) named.set(ballot.who, ballot);
      const who = [...named.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      const tally = { ballots: ev.ballots, counts: { ...ev.counts }, named: who.map((w) => named.get(w)) };
      return { ...state, poll_tallies: { ...state.poll_tallies, [String(ev.poll_id)]: tally } };
    }
    default:
      return undefined;
  }
}

/** The open poll, if any (at most one is open at a time). */
export function openPoll(pub) {
  return pub.polls.find((p) => p.status === "open") || null;
}

// -- written statements (server/core/statements.py apply_public_statements, apply_staff_statements) --

function applyPublicStatements(state, ev) {
  const board = state.statements;
  switch (ev.type) {
    case "statements.opened":
      if (board.windows.some((w) => w.segment_id === ev.window.segment_id)) {
        fail(`statements for segment ${ev.window.segment_id} are already open`);
      }
      return { ...state, statements: { ...board, windows: [...board.windows, ev.window] } };
    case "statements.deadline_set":
      return { ...state, statements: { ...board, deadline: ev.deadline } };
    case "statement.published":
      if (board.published.some((s) => s.id === ev.statement.id)) fail(`statement ${ev.statement.id} is already published`);
      return { ...state, statements: { ...board, published: [...board.published, ev.statement].sort(byIdOrder) } };
    default:
      return undefined;
  }
}

function pendingStatement(state, id) {
  const statement = state.statements.find((s) => s.id === id);
  if (!statement || statement.status !== "pending") fail(`statement ${id} is not pending`);
  return statement;
}

function applyStaffStatements(state, ev) {
  switch (ev.type) {
    case "statement.submitted":
      return { ...state, statements: [...state.statements.filter((s) => s.id !== ev.statement.id), ev.statement].sort(byIdOrder) };
    case "statement.approved":
      pendingStatement(state, ev.statement_id);
      return { ...state, statements: state.statements.filter((s) => s.id !== ev.statement_id) };
    case "statement.rejected": {
      const rejected = { ...pendingStatement(state, ev.statement_id), status: "rejected", reason: ev.reason, decided_by: ev.by, decided_at: ev.at };
      return { ...state, statements: state.statements.map((s) => (s.id === ev.statement_id ? rejected : s)) };
    }
    default:
      return undefined;
  }
}

// -- the two views ----------------------------------------------------------------------------------

export function applyPublic(state, ev) {
  const next = applyStage(state, ev) ?? applyQueue(state, ev) ?? applyPublicQa(state, ev) ?? applyPublicPolls(state, ev) ?? applyPublicStatements(state, ev);
  if (next === undefined) fail(`${ev.type} is not a public event`);
  return next;
}

export function applyStaff(state, ev) {
  if (ev.type === "presence.counts_updated") {
    return {
      ...state,
      presence: { online: ev.online, peak_today: ev.peak_today, by_category: { ...ev.by_category }, at: ev.at },
    };
  }
  const next = applyStaffQa(state, ev) ?? applyStaffPolls(state, ev) ?? applyStaffStatements(state, ev);
  if (next === undefined) fail(`${ev.type} is not a staff event`);
  return next;
}

// -- reading ---------------------------------------------------------------------------------------

export function segmentInProgress(pub) {
  if (pub.stage.live_segment_id === null) return null;
  return pub.segments.find((s) => s.id === pub.stage.live_segment_id) || null;
}

/** server/core/qa.py rank_questions: most votes first, then first asked; or first asked first. */
export function rankQuestions(questions, order = "votes") {
  const byTime = (a, b) => (a.asked_at < b.asked_at ? -1 : a.asked_at > b.asked_at ? 1 : a.id - b.id);
  return [...questions].sort(order === "votes" ? (a, b) => b.votes - a.votes || byTime(a, b) : byTime);
}

// -- the store: snapshot, positions, personal part, listeners ------------------------------------

/**
 * Holds what one connection knows. ``receive(frame)`` answers what happened to an event frame:
 * "applied", "duplicate" (seq already applied), "gap" (a seq is missing: resume) or
 * "inconsistent" (the event does not fit: load a fresh snapshot).
 */
export class Store {
  constructor() {
    this.public = null;
    this.staff = null;
    this.me = null;
    this.positions = null; // {public: {epoch, seq}, staff: {epoch, seq} | null}
    this.listeners = new Set();
    this.snapshots = 0; // how many snapshots were loaded (a reconnect that replays loads none)
  }

  get ready() {
    return this.public !== null;
  }

  subscribe(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  notify(change) {
    for (const listener of this.listeners) listener(change, this);
  }

  load(snapshot) {
    this.snapshots += 1;
    this.public = snapshot.public;
    this.staff = snapshot.staff ?? null;
    this.me = {
      ...snapshot.me,
      questions: [...snapshot.me.questions],
      voted: [...snapshot.me.voted],
      ballots: { ...(snapshot.me.ballots ?? {}) },
      statements: [...(snapshot.me.statements || [])],
    };
    this.positions = {
      public: { ...snapshot.channels.public },
      staff: snapshot.channels.staff ? { ...snapshot.channels.staff } : null,
    };
    this.notify({ kind: "snapshot" });
  }

  /** Forget positions, so the next connection asks for a snapshot. */
  invalidate() {
    this.positions = null;
  }

  seq(channel) {
    return this.positions?.[channel]?.seq ?? null;
  }

  behind(seqs) {
    if (!this.positions) return false;
    if (seqs.public > this.positions.public.seq) return true;
    return Boolean(this.positions.staff && seqs.staff !== null && seqs.staff > this.positions.staff.seq);
  }

  receive(frame) {
    const position = this.positions?.[frame.channel];
    if (!position) return "gap";
    if (frame.epoch !== position.epoch) return "gap";
    if (frame.seq <= position.seq) return "duplicate";
    if (frame.seq !== position.seq + 1) return "gap";
    const before = this.public;
    try {
      if (frame.channel === "public") this.public = applyPublic(this.public, frame.event);
      else this.staff = applyStaff(this.staff, frame.event);
    } catch (error) {
      if (error instanceof InconsistentEvent) return "inconsistent";
      throw error;
    }
    position.seq = frame.seq;
    this.followMe(frame.event, before);
    this.notify({ kind: "event", event: frame.event, channel: frame.channel, before });
    return "applied";
  }

  // The personal part of a snapshot (server/core/views.py personal_view), kept up to date from
  // the events and this user's own command results.
  // People are person references ("attendee:3", "staff:3"; docs/protocol.md): attendees and staff
  // are numbered apart, so only the whole reference says who someone is, never a number or a name.
  isMe(who) {
    return Boolean(this.me && who && who === this.me.who);
  }

  isMine(entry) {
    const me = this.me;
    return Boolean(me && (entry.id === me.waiting_entry_id || this.isMe(entry.who)));
  }

  followMe(ev, before) {
    const me = this.me;
    if (!me) return;
    switch (ev.type) {
      case "floor.requested":
        if (this.isMine(ev.entry)) me.waiting_entry_id = ev.entry.id;
        break;
      case "queue.entry_removed":
        if (ev.entry_id === me.waiting_entry_id) me.waiting_entry_id = null;
        break;
      case "speech.started":
        if (ev.speech.entry_id !== null && ev.speech.entry_id === me.waiting_entry_id) me.waiting_entry_id = null;
        break;
      case "segment.opened":
        me.waiting_entry_id = null;
        break;
      case "question.published":
        me.questions = me.questions.map((q) => (q.id === ev.question.id ? { ...q, status: "published", text: ev.question.text } : q));
        break;
      case "question.unpublished":
        me.questions = me.questions.filter((q) => q.id !== ev.question_id);
        me.voted = me.voted.filter((id) => id !== ev.question_id);
        break;
      case "question.asked":
        if (this.isMe(ev.question.asker.who)) this.ownQuestion(ev.question, false);
        break;
      case "question.dismissed":
        me.questions = me.questions.filter((q) => q.id !== ev.question.id);
        break;
      case "statement.published":
        if (this.isMe(ev.statement.author.who)) {
          const { id, segment_id, language, text, submitted_at } = ev.statement;
          this.ownStatement({ id, segment_id, language, text, submitted_at, status: "approved", reason: null });
        }
        break;
      case "statement.submitted":
      case "statement.rejected": {
        // a staff member's own statement, seen on the staff channel (attendees learn of a rejection
        // from their next snapshot)
        const statement = this.staff?.statements.find((s) => s.id === (ev.statement?.id ?? ev.statement_id));
        if (statement && this.isMe(statement.author.who)) {
          const { id, segment_id, language, text, submitted_at, status, reason } = statement;
          this.ownStatement({ id, segment_id, language, text, submitted_at, status, reason: reason ?? null });
        }
        break;
      }
      default:
    }
    void before;
  }

  ownQuestion(question, published) {
    const me = this.me;
    if (me.questions.some((q) => q.id === question.id)) return;
    me.questions = [
      ...me.questions,
      {
        id: question.id,
        segment_id: question.segment_id,
        text: question.text,
        addressed_to: question.addressed_to ?? null,
        anonymous: Boolean(question.anonymous),
        status: published ? "published" : "pending",
        asked_at: question.asked_at,
      },
    ].sort(byIdOrder);
  }

  ownStatement(statement) {
    const me = this.me;
    me.statements = [...(me.statements || []).filter((s) => s.id !== statement.id), statement].sort(byIdOrder);
  }

  /** What a successful command of this user changes in its personal part. */
  recordResult(frame, data) {
    const me = this.me;
    if (!me) return;
    if (frame.type === "floor.request" && data?.entry_id) me.waiting_entry_id = data.entry_id;
    if (frame.type === "floor.withdraw") me.waiting_entry_id = null;
    if (frame.type === "question.ask" && data?.question_id) {
      const published = this.public.questions.some((q) => q.id === data.question_id);
      const segment = segmentInProgress(this.public);
      this.ownQuestion(
        {
          id: data.question_id,
          segment_id: segment ? segment.id : null,
          text: frame.text,
          addressed_to: frame.addressed_to ?? null,
          anonymous: frame.anonymous,
          asked_at: new Date().toISOString(),
        },
        published || data.published === true,
      );
    }
    if (frame.type === "statement.submit" && data?.statement_id) {
      this.ownStatement({
        id: data.statement_id,
        segment_id: frame.segment_id,
        language: frame.language,
        text: frame.text,
        submitted_at: new Date().toISOString(),
        status: "pending",
        reason: null,
      });
    }
    if (frame.type === "question.vote") {
      const voted = new Set(me.voted);
      if (frame.up) voted.add(frame.question_id);
      else voted.delete(frame.question_id);
      me.voted = [...voted].sort((a, b) => a - b);
    }
    if (frame.type === "poll.vote") {
      me.ballots = { ...me.ballots, [String(frame.poll_id)]: [...frame.option_ids].sort((a, b) => a - b) };
    }
    this.notify({ kind: "me" });
  }

  myPosition() {
    if (!this.me || !this.public) return null;
    const index = this.public.queue.waiting.findIndex((e) => e.id === this.me.waiting_entry_id);
    return index < 0 ? null : index;
  }
}
