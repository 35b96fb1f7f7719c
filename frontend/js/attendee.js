// The attendee page (/events/{slug}): programme, registration, and during a morning the live stage,
// the stream, the list of speakers and the questions.

import { h, replaceChildren, patchList, keepFocus, $, $$ } from "./dom.js";
import {
  initPage, api, t, getLang, onLangChange, localized, whoAmI, signOutButton, problemText, slugFromPath,
  formatDate, formatTime, driftText, announce,
} from "./page.js";
import { renderProgramme, renderZoneNote } from "./programme.js";
import { startLive, everySecond, personName, segmentTitle } from "./live.js";
import { segmentInProgress, rankQuestions } from "./store.js";
import { speakerBlock, tickTimer, commandErrorText } from "./speaker.js";
import { renderRegistration } from "./register.js";
import { renderLostLink } from "./lost-link.js";
import { renderStream } from "./stream.js";
import { renderAttendeePoll } from "./polls.js";
import { mountOwnCertificates } from "./certificates.js";
import { renderStatementForms, renderPublishedStatements } from "./statements.js";

initPage();
const slug = slugFromPath();
const state = { event: null, me: null, live: null, sort: "votes", overTimeSaid: new Set(), speechKey: null };

async function main() {
  const result = await api(`/api/events/${encodeURIComponent(slug)}`);
  if (!result.ok) {
    $("#event-title").textContent = result.status === 404 ? t("event.not_found") : problemText(result);
    $("#programme").hidden = true;
    return;
  }
  state.event = result.data;
  renderHeader();
  renderProgrammeSection();
  state.me = await whoAmI();
  renderWhoAmI();
  if (!state.me) {
    $("#register").hidden = false;
    renderRegistration($("#register-form"), slug);
    renderLostLink($("#lost-form"), slug);
    return;
  }
  $("#live").hidden = false;
  if (state.me.kind === "attendee") mountOwnCertificates($("#certificates"), slug);
  renderStream($("#stream-body"), state.event);
  setUpForms();
  state.live = startLive(slug, { onChange: render });
  everySecond(state.live.connection, tick);
}

function renderHeader() {
  const event = state.event;
  const [title, lang] = localized(event.title);
  const heading = $("#event-title");
  heading.textContent = title;
  heading.lang = lang;
  document.title = `${title} – Parley`;
  const first = event.days[0];
  const last = event.days[event.days.length - 1];
  $("#event-dates").textContent = first
    ? t("event.dates", { first: formatDate(first.date, "UTC"), last: formatDate(last.date, "UTC"), count: event.days.length })
    : "";
}

function renderProgrammeSection() {
  renderZoneNote($("#tz-note"), state.event);
  const statusOf = (id) => {
    const segment = state.live?.store.public?.segments.find((s) => s.id === id);
    return segment && segment.status !== "scheduled" ? segment.status : null;
  };
  renderProgramme($("#programme-days"), state.event, statusOf);
  renderPublishedStatements($("#programme-days"), state.live?.store.public);
}

function renderWhoAmI() {
  const me = state.me;
  const box = $("#whoami");
  if (!me) {
    replaceChildren(box);
    return;
  }
  const staffLinks = me.kind === "staff"
    ? [
        h("a", { href: `/moderate/${encodeURIComponent(slug)}` }, t("nav.moderate")),
        h("a", { href: `/organise/${encodeURIComponent(slug)}` }, t("nav.organise")),
      ]
    : [];
  replaceChildren(box, h("span", {}, t("signed_in_as", { name: me.name })), ...staffLinks, signOutButton());
}

// -- live --------------------------------------------------------------------------------------------

function render(change) {
  const store = state.live.store;
  if (!store.ready) return;
  if (change.kind === "event" && change.event.type.startsWith("segment.")) renderProgrammeSection();
  if (change.kind === "snapshot" || change.kind === "lang") renderProgrammeSection();
  if (change.kind === "event" && change.event.type === "statement.published") {
    renderProgrammeSection();
    if (store.isMe(change.event.statement.author.who)) announce(t("st.approved_yours"));
  }
  if (change.kind === "event" && change.event.type === "statements.opened" && change.event.window.eligible.some((a) => store.isMe(a.who))) {
    // after the segment's own announcement (segment.ended comes just before)
    setTimeout(() => announce(t("st.say_open", { title: segmentTitle(store.public, change.event.window.segment_id) })), 1500);
  }
  renderNow();
  renderFloor();
  renderQuestions();
  renderAttendeePoll($("#poll"), store, (type, fields) => state.live.connection.send(type, fields));
  renderStatements();
  tick(state.live.connection.now());
}

function currentSegmentId(pub) {
  return pub.stage.live_segment_id ?? pub.queue.segment_id ?? null;
}

function nextSegment(pub) {
  return pub.segments
    .filter((s) => s.status === "scheduled")
    .sort((a, b) => Date.parse(a.starts_at) - Date.parse(b.starts_at) || a.id - b.id)[0] || null;
}

function renderNow() {
  const pub = state.live.store.public;
  const live = segmentInProgress(pub);
  const line = $("#segment-line");
  if (live) {
    const [title, lang] = localized(live.title);
    replaceChildren(
      line,
      h("span", { class: `tag status-${live.status}` }, t(`status.${live.status}`)),
      " ",
      h("strong", { lang }, title),
    );
  } else {
    const next = nextSegment(pub);
    replaceChildren(
      line,
      h("span", { class: "muted block" }, t("now.nothing_live")),
      next ? t("now.next", { title: localized(next.title)[0], time: formatTime(next.starts_at, state.event.timezone) }) : null,
    );
  }
  const notice = $("#notice");
  if (pub.stage.notice) {
    notice.hidden = false;
    replaceChildren(notice, h("strong", {}, t("now.notice")), " ", pub.stage.notice.text);
  } else {
    notice.hidden = true;
    replaceChildren(notice);
  }
  const speech = pub.stage.speech;
  const key = speech ? `${speech.id}:${speech.paused_at}:${speech.limit_s}:${getLang()}` : null;
  if (key === state.speechKey) return;
  state.speechKey = key;
  const box = $("#speaker");
  if (!speech) {
    replaceChildren(box, h("p", { class: "muted" }, t("now.nobody")));
    return;
  }
  replaceChildren(box, ...speakerBlock(speech, state.live.store.isMe(speech.who)));
}

function tick(nowMs) {
  const store = state.live?.store;
  if (!store?.ready) return;
  renderStatements(); // a window closes at its deadline
  const pub = store.public;
  const mine = Boolean(pub.stage.speech && store.isMe(pub.stage.speech.who));
  const f = tickTimer(pub, nowMs, state.overTimeSaid, { warn: mine, mine });
  const drift = $("#drift");
  if (f.day && (segmentInProgress(pub) || pub.segments.some((s) => s.status === "ended"))) {
    const end = f.forecast_end_of_day ? formatTime(f.forecast_end_of_day, state.event.timezone) : "–";
    drift.textContent = t("now.drift", { drift: driftText(f.drift_s), end });
  } else {
    drift.textContent = "";
  }
}

// -- written statements ------------------------------------------------------------------------------

function renderStatements() {
  const store = state.live.store;
  renderStatementForms($("#statement"), $("#statement-body"), {
    store,
    event: state.event,
    slug,
    now: state.live.connection.now(),
    send: (type, fields) => state.live.connection.send(type, fields),
  });
}

// -- floor -------------------------------------------------------------------------------------------

function renderFloor() {
  const store = state.live.store;
  const pub = store.public;
  const live = segmentInProgress(pub);
  const position = store.myPosition();
  const mine = $("#floor-mine");
  const form = $("#floor-form");
  const speaking = Boolean(pub.stage.speech && store.isMe(pub.stage.speech.who));
  // #floor-mine is a live region: rewrite it only when what it says changes
  const sig = JSON.stringify([position, speaking, getLang()]);
  if (mine.dataset.sig !== sig) {
    mine.dataset.sig = sig;
    keepFocus(mine, () => {
      if (position !== null) {
        replaceChildren(
          mine,
          h("p", { class: "position" }, position === 0 ? t("floor.you_are_next") : t("floor.your_position", { n: position + 1 })),
          h("button", { type: "button", class: "secondary", id: "floor-withdraw", onclick: withdraw }, t("floor.withdraw")),
        );
      } else {
        replaceChildren(mine, speaking ? h("p", { class: "position" }, t("floor.you_have_floor")) : null);
      }
    });
  }
  form.hidden = position !== null;
  const canRequest = Boolean(live);
  $("#floor-submit").disabled = !canRequest;
  const floorState = $("#floor-state");
  if (!live) floorState.textContent = t("floor.no_segment");
  else if (!pub.queue.open) floorState.textContent = t("floor.closed");
  else floorState.textContent = pub.queue.waiting.length ? "" : t("floor.empty");
  patchList(
    $("#floor-list"),
    pub.queue.waiting,
    (entry) => entry.id,
    (entry) =>
      h(
        "li",
        { class: store.isMine(entry) ? "mine" : "" },
        h("span", { class: "person-name" }, entry.name),
        entry.organisation ? h("span", { class: "muted" }, ` · ${entry.organisation}`) : null,
        entry.on_behalf_of ? h("span", {}, ` · ${t("now.on_behalf", { who: entry.on_behalf_of })}`) : null,
        entry.point_of_order ? h("span", { class: "tag warn" }, t("floor.point_of_order")) : null,
        entry.topic ? [" · ", h("span", { class: "topic" }, entry.topic)] : null,
      ),
    (entry) => JSON.stringify([entry, store.isMine(entry), getLang()]),
  );
}

async function withdraw() {
  try {
    await state.live.connection.send("floor.withdraw");
    announce(t("floor.withdrawn"));
    $("#floor-topic").focus();
  } catch (error) {
    $("#floor-error").textContent = commandErrorText(error);
  }
}

function setUpForms() {
  $("#floor-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const error = $("#floor-error");
    error.textContent = "";
    const fields = {
      topic: $("#floor-topic").value.trim() || null,
      on_behalf_of: $("#floor-behalf").value.trim() || null,
      point_of_order: $("#floor-poo").checked,
    };
    $("#floor-submit").disabled = true;
    try {
      await state.live.connection.send("floor.request", fields);
      $("#floor-topic").value = "";
      $("#floor-poo").checked = false;
      renderFloor(); // the live region #floor-mine says the position
      $("#floor-withdraw")?.focus();
    } catch (err) {
      error.textContent = commandErrorText(err);
      renderFloor();
    }
  });

  const text = $("#ask-text");
  const draftKey = `parley.draft.${slug}`;
  text.value = sessionStorage.getItem(draftKey) || "";
  const count = () => {
    $("#ask-count").textContent = t("qa.count", { n: [...text.value].length });
    sessionStorage.setItem(draftKey, text.value);
  };
  text.addEventListener("input", count);
  onLangChange(count);
  count();
  $("#ask-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const error = $("#ask-error");
    error.textContent = "";
    const value = text.value.trim();
    if (!value) {
      error.textContent = t("qa.empty");
      text.focus();
      return;
    }
    const to = $("#ask-to").value;
    $("#ask-submit").disabled = true;
    try {
      const data = await state.live.connection.send("question.ask", {
        text: value,
        addressed_to: to ? Number(to) : null,
        anonymous: $("#ask-anon").checked,
      });
      text.value = "";
      count();
      announce(data?.published ? t("qa.sent_published") : t("qa.sent_pending"));
    } catch (err) {
      error.textContent = commandErrorText(err);
    } finally {
      $("#ask-submit").disabled = false;
      renderQuestions();
    }
  });

  for (const button of $$("[data-sort]")) {
    button.addEventListener("click", () => {
      state.sort = button.dataset.sort;
      for (const b of $$("[data-sort]")) b.setAttribute("aria-pressed", String(b === button));
      renderQuestions();
    });
  }
}

// -- questions ---------------------------------------------------------------------------------------

function renderAddressees(live) {
  const select = $("#ask-to");
  const people = live ? live.people : [];
  const wanted = JSON.stringify([people.map((p) => p.id), getLang()]);
  if (select.dataset.sig === wanted) return;
  const current = select.value;
  replaceChildren(
    select,
    h("option", { value: "" }, t("qa.to_anyone")),
    ...people.map((p) => h("option", { value: String(p.id) }, p.name)),
  );
  select.value = people.some((p) => String(p.id) === current) ? current : "";
  select.dataset.sig = wanted;
}

function renderQuestions() {
  const store = state.live.store;
  const pub = store.public;
  const live = segmentInProgress(pub);
  renderAddressees(live);
  $("#ask-submit").disabled = !live;
  const segmentId = currentSegmentId(pub);
  const pending = store.me.questions.filter((q) => q.status === "pending");
  replaceChildren(
    $("#my-questions"),
    pending.length
      ? [
          h("h3", {}, t("qa.mine_pending")),
          h("ul", { class: "questions mine" }, pending.map((q) => h("li", {}, h("p", { class: "q-text" }, q.text), h("p", { class: "muted" }, t("qa.awaiting"))))),
        ]
      : null,
  );
  const highlighted = pub.questions.find((q) => q.id === pub.highlighted_question_id);
  const answering = $("#qa-answering");
  answering.hidden = !highlighted;
  replaceChildren(answering, highlighted ? [h("strong", {}, t("qa.answering")), " ", highlighted.text] : null);
  const visible = rankQuestions(
    pub.questions.filter((q) => q.status !== "archived" && (segmentId === null || q.segment_id === segmentId)),
    state.sort,
  );
  const voted = new Set(store.me.voted);
  const board = $("#qa-board");
  patchList(
    board,
    visible,
    (q) => q.id,
    (q) => questionItem(q, pub, voted.has(q.id), store.me.questions.some((m) => m.id === q.id)),
    (q) => JSON.stringify([q, voted.has(q.id), q.id === pub.highlighted_question_id, getLang()]),
  );
  if (!visible.length) replaceChildren(board, h("li", { class: "muted empty" }, t("qa.none")));
}

function questionItem(q, pub, hasVoted, mine) {
  const highlighted = q.id === pub.highlighted_question_id;
  const who = q.asker_name
    ? q.asker_organisation ? `${q.asker_name} (${q.asker_organisation})` : q.asker_name
    : t("qa.anonymous_asker");
  return h(
    "li",
    { class: `question${highlighted ? " is-highlighted" : ""}${q.status === "answered" ? " is-answered" : ""}` },
    h(
      "button",
      {
        type: "button",
        class: "vote",
        "aria-pressed": String(hasVoted),
        "aria-label": t(hasVoted ? "qa.unvote_label" : "qa.vote_label", { n: q.votes }),
        dataset: { fkey: "vote" },
        onclick: () => vote(q.id, !hasVoted),
      },
      h("span", { "aria-hidden": "true" }, "▲"),
      h("span", { class: "votes" }, String(q.votes)),
    ),
    h(
      "div",
      { class: "q-body" },
      h("p", { class: "q-text" }, q.text),
      h(
        "p",
        { class: "muted" },
        who,
        q.addressed_to ? ` → ${personName(pub, q.addressed_to)}` : null,
        mine ? h("span", { class: "tag" }, t("qa.yours")) : null,
        highlighted ? h("span", { class: "tag live" }, t("qa.answering_tag")) : null,
        q.status === "answered" ? h("span", { class: "tag" }, t("qa.answered_tag")) : null,
      ),
    ),
  );
}

async function vote(questionId, up) {
  try {
    await state.live.connection.send("question.vote", { question_id: questionId, up });
    renderQuestions();
  } catch (error) {
    announce(commandErrorText(error), { assertive: true });
  }
}

onLangChange(() => {
  if (!state.event) return;
  renderHeader();
  renderProgrammeSection();
  renderWhoAmI();
  if (!state.me) renderRegistration($("#register-form"), slug, { refresh: true });
  else renderStream($("#stream-body"), state.event);
  state.speechKey = null;
  if (state.live?.store.ready) render({ kind: "lang" });
});

main();
