// Live polls on the pages: the attendee's ballot and the published results (/events/{slug}), and the
// moderator's polls (/moderate/{slug}): prepare, open, close, publish or keep the results for staff.
// The rules are the server's (server/core/polls.py, docs/protocol.md "Polls"); this module only
// shows the state and sends commands. Announcements of a poll opened, closed or published come
// from live.js (describeEvent), like every other public event.

import { h, replaceChildren, patchList, keepFocus, $, $$ } from "./dom.js";
import { t, getLang, announce, formatNumber } from "./page.js";
import { openPoll, segmentInProgress } from "./store.js";
import { commandErrorText } from "./speaker.js";

const MAX_OPTIONS = 10;

function share(votes, ballots) {
  return ballots ? Math.round((votes / ballots) * 1000) / 10 : 0;
}

/** Counts per option as a list a screen reader reads line by line (and a bar for the eye). */
export function resultsList(poll, results) {
  return h(
    "ul",
    { class: "poll-results" },
    poll.options.map((option) => {
      const votes = results.counts[String(option.id)] ?? 0;
      return h(
        "li",
        {},
        h("span", { class: "poll-option" }, option.text),
        " ",
        h("span", { class: "poll-count" }, t("poll.votes", { n: votes, pct: formatNumber(share(votes, results.ballots)) })),
        h("progress", { max: String(Math.max(results.ballots, 1)), value: String(votes), "aria-hidden": "true" }),
      );
    }),
  );
}

function ballotsLine(results) {
  return h("p", { class: "muted" }, t("poll.ballots", { n: results.ballots }));
}

function optionTexts(poll, optionIds) {
  return optionIds.map((id) => poll.options.find((o) => o.id === id)?.text ?? String(id)).join(", ");
}

// -- the attendee's page ----------------------------------------------------------------------------

/** The poll to show: the open one, else the latest opened poll of the segment in progress (or last). */
function pollToShow(pub) {
  const open = openPoll(pub);
  if (open) return open;
  const segmentId = pub.stage.live_segment_id ?? pub.queue.segment_id ?? null;
  const ofSegment = pub.polls.filter((p) => segmentId === null || p.segment_id === segmentId);
  return ofSegment.length ? ofSegment[ofSegment.length - 1] : null;
}

/**
 * Render the poll card of the attendee page into ``section`` (hidden when there is no poll).
 * ``send(type, fields)`` sends a command and returns its data or throws the error frame.
 */
export function renderAttendeePoll(section, store, send) {
  const pub = store.public;
  const poll = pollToShow(pub);
  section.hidden = !poll;
  const body = $("#poll-body", section);
  if (!poll) {
    replaceChildren(body);
    body.dataset.sig = "";
    return;
  }
  const mine = store.me.ballots?.[String(poll.id)] ?? null;
  // the form is rebuilt only when the poll, its status, my ballot or the language change, so a
  // choice being made and the keyboard focus survive the live results of others
  const sig = JSON.stringify([poll.id, poll.status, mine, getLang()]);
  if (body.dataset.sig !== sig) {
    body.dataset.sig = sig;
    keepFocus(body, () => replaceChildren(body, pollForm(poll, mine, send), h("div", { id: "poll-results" })));
  }
  const results = $("#poll-results", body);
  replaceChildren(
    results,
    poll.results
      ? [h("h3", {}, t("poll.results")), ballotsLine(poll.results), resultsList(poll, poll.results)]
      : h("p", { class: "muted" }, t(poll.status === "open" ? "poll.results_later" : "poll.results_kept")),
  );
}

function pollForm(poll, mine, send) {
  const open = poll.status === "open";
  const type = poll.choice === "single" ? "radio" : "checkbox";
  const chosen = new Set(mine ?? []);
  const form = h(
    "form",
    { id: "poll-form", class: "stack", novalidate: true },
    h(
      "fieldset",
      { disabled: !open, "aria-describedby": "poll-help" },
      h("legend", {}, poll.question),
      h(
        "p",
        { id: "poll-help", class: "help" },
        t(poll.choice === "single" ? "poll.choose_one" : "poll.choose_many"),
        " ",
        t(poll.anonymous ? "poll.anonymous_note" : "poll.named_note"),
      ),
      poll.options.map((option) =>
        h(
          "label",
          { class: "check" },
          h("input", { type, name: "poll-option", value: String(option.id), checked: chosen.has(option.id) }),
          " ",
          h("span", {}, option.text),
        ),
      ),
    ),
    open ? h("button", { type: "submit", id: "poll-submit" }, t(mine ? "poll.change_vote" : "poll.vote_button")) : null,
    h("p", { id: "poll-mine", class: "muted" }, mine ? t("poll.your_vote", { options: optionTexts(poll, mine) }) : open ? "" : t("poll.closed_note")),
    h("p", { id: "poll-error", class: "error", role: "alert" }),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const error = $("#poll-error", form);
    error.textContent = "";
    const optionIds = $$('input[name="poll-option"]', form).filter((i) => i.checked).map((i) => Number(i.value));
    if (!optionIds.length) {
      error.textContent = t(poll.choice === "single" ? "poll.choose_one" : "poll.choose_many");
      $('input[name="poll-option"]', form)?.focus();
      return;
    }
    const button = $("#poll-submit", form);
    button.disabled = true;
    try {
      await send("poll.vote", { poll_id: poll.id, option_ids: optionIds });
      announce(t("poll.vote_recorded", { options: optionTexts(poll, optionIds) }));
      // the store re-renders the form with my ballot: keep the keyboard on its button
      requestAnimationFrame(() => $("#poll-form #poll-submit")?.focus());
    } catch (err) {
      error.textContent = commandErrorText(err);
      button.disabled = false;
    }
  });
  return form;
}

// -- the moderator's console ------------------------------------------------------------------------

/** Wire the prepare form once; ``act(type, fields)`` sends and shows errors, returning data or null. */
export function setUpModeratorPolls(section, act) {
  const form = $("#poll-prepare", section);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const error = $("#poll-prepare-error", section);
    error.textContent = "";
    const question = $("#poll-question", section).value.trim();
    const options = $("#poll-options", section).value.split("\n").map((line) => line.trim()).filter(Boolean);
    if (!question) {
      error.textContent = t("poll.need_question");
      $("#poll-question", section).focus();
      return;
    }
    if (options.length < 2 || options.length > MAX_OPTIONS) {
      error.textContent = t("poll.need_options");
      $("#poll-options", section).focus();
      return;
    }
    const keys = options.map((o) => o.toLowerCase().split(/\s+/).join(" "));
    if (new Set(keys).size !== keys.length || options.some((o) => [...o].length > 120)) {
      error.textContent = t("poll.options_help");
      $("#poll-options", section).focus();
      return;
    }
    const segment = $("#poll-segment", section).value;
    if (!segment) {
      error.textContent = t("poll.need_segment");
      return;
    }
    const data = await act("poll.prepare", {
      segment_id: Number(segment),
      question,
      options,
      choice: $('input[name="poll-choice"]:checked', section)?.value || "single",
      anonymous: $("#poll-anonymous", section).checked,
    });
    if (data) {
      $("#poll-question", section).value = "";
      $("#poll-options", section).value = "";
      announce(t("poll.prepared_note"));
    }
  });
}

export function renderModeratorPolls(section, store, act, segmentTitle) {
  const pub = store.public;
  const staff = store.staff;
  if (!staff) return;
  const select = $("#poll-segment", section);
  const candidates = pub.segments.filter((s) => s.status !== "ended");
  const live = segmentInProgress(pub);
  const sig = JSON.stringify([candidates.map((s) => s.id), live?.id ?? null, getLang()]);
  if (select.dataset.sig !== sig) {
    const current = select.value;
    replaceChildren(select, candidates.map((s) => h("option", { value: String(s.id) }, segmentTitle(pub, s.id))));
    select.value = candidates.some((s) => String(s.id) === current) ? current : String(live?.id ?? candidates[0]?.id ?? "");
    select.dataset.sig = sig;
  }
  const anyOpen = Boolean(openPoll(pub));
  patchList(
    $("#poll-drafts", section),
    staff.draft_polls,
    (p) => p.id,
    (p) => draftItem(p, pub, act, segmentTitle, anyOpen),
    (p) => JSON.stringify([p, live?.id ?? null, anyOpen, getLang()]),
  );
  if (!staff.draft_polls.length) replaceChildren($("#poll-drafts", section), h("li", { class: "muted empty" }, t("poll.no_drafts")));
  const opened = [...pub.polls].reverse();
  patchList(
    $("#poll-opened", section),
    opened,
    (p) => p.id,
    (p) => openedItem(p, staff.poll_tallies[String(p.id)], pub, act, segmentTitle),
    (p) => JSON.stringify([p, staff.poll_tallies[String(p.id)], getLang()]),
  );
  if (!opened.length) replaceChildren($("#poll-opened", section), h("li", { class: "muted empty" }, t("poll.none_opened")));
}

function pollHeading(poll, pub, segmentTitle) {
  return [
    h("p", { class: "q-text" }, poll.question),
    h(
      "p",
      { class: "muted" },
      segmentTitle(pub, poll.segment_id),
      " · ",
      t(poll.choice === "single" ? "poll.single" : "poll.multiple"),
      " · ",
      t(poll.anonymous ? "poll.anonymous" : "poll.named"),
    ),
  ];
}

function draftItem(poll, pub, act, segmentTitle, anyOpen) {
  const live = segmentInProgress(pub);
  const canOpen = Boolean(live && live.id === poll.segment_id && !anyOpen);
  return h(
    "li",
    { class: "poll-item" },
    pollHeading(poll, pub, segmentTitle),
    h("ol", { class: "poll-options" }, poll.options.map((o) => h("li", {}, o.text))),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "button", dataset: { fkey: "open" }, disabled: !canOpen, onclick: () => act("poll.open", { poll_id: poll.id }) }, t("poll.open_button")),
      h("button", { type: "button", class: "secondary", dataset: { fkey: "discard" }, onclick: () => act("poll.discard", { poll_id: poll.id }) }, t("poll.discard_button")),
    ),
    canOpen ? null : h("p", { class: "help" }, t(anyOpen ? "poll.one_at_a_time" : "poll.open_when_live")),
  );
}

function openedItem(poll, tally, pub, act, segmentTitle) {
  const counts = tally ?? { ballots: 0, counts: {}, named: [] };
  return h(
    "li",
    { class: "poll-item" },
    pollHeading(poll, pub, segmentTitle),
    h(
      "p",
      {},
      h("span", { class: `tag${poll.status === "open" ? " live" : ""}` }, t(poll.status === "open" ? "poll.is_open" : "poll.is_closed")),
      h("span", { class: "tag" }, t(poll.results ? "poll.is_published" : "poll.is_staff_only")),
    ),
    ballotsLine(counts),
    resultsList(poll, counts),
    poll.anonymous
      ? null
      : h(
          "details",
          {},
          h("summary", {}, t("poll.who_voted", { n: counts.named.length })),
          h(
            "ul",
            { class: "poll-named" },
            counts.named.map((b) =>
              h("li", {}, h("span", { class: "person-name" }, b.name), b.organisation ? ` (${b.organisation})` : null, ": ", optionTexts(poll, b.option_ids)),
            ),
          ),
        ),
    h(
      "div",
      { class: "actions" },
      poll.status === "open"
        ? h("button", { type: "button", dataset: { fkey: "close" }, onclick: () => act("poll.close", { poll_id: poll.id }) }, t("poll.close_button"))
        : null,
      poll.results
        ? null
        : h(
            "button",
            { type: "button", class: "secondary", dataset: { fkey: "publish" }, onclick: () => act("poll.publish", { poll_id: poll.id }) },
            t("poll.publish_button"),
          ),
    ),
  );
}
