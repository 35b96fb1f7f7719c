// Written statements (docs/statements.md): the form of a delegation left waiting when a segment
// ended, the statements published under their segment in the programme, the moderator's list to
// approve or reject, and the organiser's deadline. The rules are the server's
// (server/core/statements.py); this module only shows the state and sends the commands.

import { h, replaceChildren, patchList, keepFocus, $ } from "./dom.js";
import { t, getLang, localized, formatTime, formatDate, announce } from "./page.js";
import { commandErrorText } from "./speaker.js";

/** When a window closes under the event's rule (server/core/statements.py deadline_of). */
export function statementDeadline(board, window) {
  if (board.deadline.until) return Date.parse(board.deadline.until);
  return Date.parse(window.opened_at) + board.deadline.after_s * 1000;
}

/** The language's own name in the page's language ("français", "English"), or its tag. */
export function languageName(code) {
  try {
    return new Intl.DisplayNames([getLang()], { type: "language" }).of(code) || code;
  } catch {
    return code;
  }
}

function instantText(ms, zone) {
  const day = formatDate(new Date(ms).toISOString(), zone, { weekday: "short", day: "numeric", month: "short" });
  return `${day} ${formatTime(new Date(ms).toISOString(), zone)}`;
}

function authorLine(author) {
  const parts = [author.name];
  if (author.organisation) parts.push(author.organisation);
  if (author.on_behalf_of) parts.push(t("now.on_behalf", { who: author.on_behalf_of }));
  return parts.join(" · ");
}

// -- the attendee's form -------------------------------------------------------------------------

/** The windows this user may write in: [{window, segment, closes, own}], most recent first. */
export function myWindows(store) {
  const pub = store.public;
  const me = store.me;
  return pub.statements.windows
    .filter((w) => w.eligible.some((a) => store.isMe(a.who)))
    .map((w) => ({
      window: w,
      segment: pub.segments.find((s) => s.id === w.segment_id),
      closes: statementDeadline(pub.statements, w),
      own: (me.statements || []).find((s) => s.segment_id === w.segment_id) || null,
    }))
    .reverse();
}

const draftKey = (slug, segmentId) => `parley.statement.${slug}.${segmentId}`;

/**
 * The "Written statement" card of the attendee page: one form per segment that ended with this
 * user waiting, while its window is open. ``context``: {store, event, slug, send, now}.
 */
export function renderStatementForms(card, body, context) {
  const { store, event, now } = context;
  const windows = myWindows(store).filter((w) => w.closes >= now || w.own);
  card.hidden = windows.length === 0;
  patchList(
    body,
    windows,
    (w) => w.window.segment_id,
    (w) => statementForm(w, context),
    (w) => JSON.stringify([w.own, w.closes, w.closes < now, event.languages, getLang()]),
  );
}

function statementForm(w, { event, slug, send }) {
  const id = w.window.segment_id;
  const [title, titleLang] = localized(w.segment?.title || {});
  const max = event.statement_max_chars || 5000;
  const closed = w.closes < Date.now() && !(w.own && w.own.status === "approved");
  const approved = w.own?.status === "approved";
  const status = w.own
    ? h(
        "p",
        { class: `statement-status is-${w.own.status}`, id: `st-status-${id}` },
        t(`st.status_${w.own.status}`),
        w.own.status === "rejected" && w.own.reason ? [" ", t("st.reason", { reason: w.own.reason })] : null,
      )
    : null;
  const heading = h("h3", { id: `st-h-${id}` }, t("st.for_segment"), " ", h("span", { lang: titleLang }, title));
  const deadline = h("p", { class: "muted", id: `st-deadline-${id}` }, t(closed ? "st.closed_at" : "st.deadline", { time: instantText(w.closes, event.timezone) }));
  if (approved || closed) {
    return h("div", { class: "statement-window", dataset: { segment: id } }, heading, approved ? null : deadline, status,
      w.own ? h("blockquote", { class: "statement-text", lang: w.own.language }, w.own.text) : null);
  }
  const text = h("textarea", {
    id: `st-text-${id}`,
    name: "text",
    dataset: { fkey: "st-text" },
    rows: 6,
    maxlength: String(max),
    "aria-describedby": `st-count-${id} st-deadline-${id}`,
  });
  text.value = sessionStorage.getItem(draftKey(slug, id)) ?? (w.own && w.own.status === "pending" ? w.own.text : "");
  const count = h("p", { id: `st-count-${id}`, class: "help", "aria-live": "polite" });
  const showCount = () => {
    const n = [...text.value].length;
    count.textContent = t("st.count", { n, max });
    count.classList.toggle("error", n > max);
    sessionStorage.setItem(draftKey(slug, id), text.value);
  };
  text.addEventListener("input", showCount);
  showCount();
  const language = h(
    "select",
    { id: `st-lang-${id}`, name: "language", dataset: { fkey: "st-lang" } },
    event.languages.map((code) => h("option", { value: code, lang: code }, languageName(code))),
  );
  language.value = w.own?.language || (event.languages.includes(getLang()) ? getLang() : event.languages[0]);
  const error = h("p", { class: "error", role: "alert", id: `st-error-${id}` });
  const button = h("button", { type: "submit", id: `st-submit-${id}`, dataset: { fkey: "st-submit" } }, t(w.own ? "st.replace" : "st.submit"));
  const form = h(
    "form",
    { class: "stack", "aria-labelledby": `st-h-${id}` },
    h("label", { for: `st-text-${id}` }, t("st.text")),
    text,
    count,
    h("label", { for: `st-lang-${id}` }, t("st.language")),
    language,
    button,
    error,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.textContent = "";
    const value = text.value.trim();
    if (!value) {
      error.textContent = t("st.empty");
      text.focus();
      return;
    }
    if ([...value].length > max) {
      error.textContent = t("st.too_long", { max });
      text.focus();
      return;
    }
    // not disabled while sending: a disabled button would drop the keyboard focus
    if (form.dataset.sending) return;
    form.dataset.sending = "1";
    button.setAttribute("aria-busy", "true");
    try {
      await send("statement.submit", { segment_id: id, language: language.value, text: value });
      sessionStorage.removeItem(draftKey(slug, id));
      announce(t("st.sent"));
    } catch (err) {
      error.textContent = commandErrorText(err);
    } finally {
      delete form.dataset.sending;
      button.removeAttribute("aria-busy");
    }
  });
  return h("div", { class: "statement-window", dataset: { segment: id } }, heading, h("p", { class: "help" }, t("st.intro")), deadline, status, form);
}

// -- published under their segment ------------------------------------------------------------------

/** Adds the approved statements under each segment of a rendered programme (programme.js). */
export function renderPublishedStatements(container, pub) {
  if (!pub) return;
  const bySegment = new Map();
  for (const s of pub.statements.published) {
    if (!bySegment.has(s.segment_id)) bySegment.set(s.segment_id, []);
    bySegment.get(s.segment_id).push(s);
  }
  for (const [segmentId, statements] of bySegment) {
    const item = container.querySelector(`li.segment[data-segment="${segmentId}"]`);
    if (!item) continue;
    item.querySelector(".statements")?.remove();
    const headingId = `published-st-${segmentId}`;
    item.append(
      h(
        "section",
        { class: "statements", "aria-labelledby": headingId },
        h("h4", { id: headingId }, t("st.published_heading", { n: statements.length })),
        h(
          "ul",
          { class: "statement-list" },
          statements.map((s) =>
            h(
              "li",
              { class: "statement", dataset: { statement: s.id } },
              h("p", { class: "statement-author" }, authorLine(s.author), " ",
                h("span", { class: "tag" }, t("st.written_in", { language: languageName(s.language) }))),
              h("blockquote", { class: "statement-text", lang: s.language }, s.text),
            ),
          ),
        ),
      ),
    );
  }
}

// -- the moderator's list ------------------------------------------------------------------------

/** The staff's pending and rejected statements, with approve and reject (and a reason). */
export function renderStatementInbox(container, store, act, segmentTitle) {
  const staff = store.staff;
  if (!staff) return;
  const statements = [...staff.statements].sort((a, b) => (a.status === b.status ? a.id - b.id : a.status === "pending" ? -1 : 1));
  keepFocus(container, () => {
    patchList(
      container,
      statements,
      (s) => s.id,
      (s) => {
        const reasonId = `st-reason-${s.id}`;
        return h(
          "li",
          { class: `statement is-${s.status}`, dataset: { statement: s.id } },
          h("p", { class: "statement-author" }, authorLine(s.author), " · ", segmentTitle(s.segment_id), " ",
            h("span", { class: "tag" }, t("st.written_in", { language: languageName(s.language) })),
            h("span", { class: `tag status-${s.status}` }, t(`st.status_${s.status}`))),
          h("blockquote", { class: "statement-text", lang: s.language }, s.text),
          s.status === "rejected" && s.reason ? h("p", { class: "muted" }, t("st.reason", { reason: s.reason })) : null,
          s.status === "pending"
            ? h(
                "div",
                { class: "actions" },
                h("button", { type: "button", dataset: { fkey: "approve" }, onclick: () => act("statement.approve", { statement_id: s.id }) }, t("st.approve")),
                h("label", { for: reasonId, class: "sr-only" }, t("st.reason_label")),
                h("input", { id: reasonId, maxlength: "500", placeholder: t("st.reason_label"), autocomplete: "off" }),
                h("button", {
                  type: "button",
                  class: "secondary",
                  dataset: { fkey: "reject" },
                  onclick: () => act("statement.reject", { statement_id: s.id, reason: $(`#${reasonId}`).value.trim() || null }),
                }, t("st.reject")),
              )
            : null,
        );
      },
      (s) => JSON.stringify([s, getLang()]),
    );
    if (!statements.length) replaceChildren(container, h("li", { class: "muted empty" }, t("st.none_pending")));
  });
}

// -- the organiser's deadline --------------------------------------------------------------------

/** The current rule in words. */
export function deadlineText(board, zone) {
  if (board.deadline.until) return t("st.rule_until", { time: instantText(Date.parse(board.deadline.until), zone) });
  return t("st.rule_after", { hours: Math.round((board.deadline.after_s / 3600) * 100) / 100 });
}
