// The moderator console (/moderate/{slug}): stage, floor, list of speakers, Q&A inbox, online count.

import { h, replaceChildren, patchList, $, keepFocus } from "./dom.js";
import {
  initPage, api, t, renderStaffHeader, showGate, openStaffPage, lostStaffAccess, getLang, onLangChange, localized, slugFromPath, placesOf,
  formatTime, formatDate, formatNumber, driftText, announce,
} from "./page.js";
import { startLive, everySecond, segmentTitle } from "./live.js";
import { segmentInProgress } from "./store.js";
import { speakerBlock, tickTimer, commandErrorText } from "./speaker.js";
import { renderInbox, setUpInbox } from "./inbox.js";
import { renderModeratorPolls, setUpModeratorPolls } from "./polls.js";
import { renderStatementInbox } from "./statements.js";

initPage();
const slug = slugFromPath();
const state = { event: null, live: null, day: null, overTimeSaid: new Set(), speechKey: null, dragId: null, gate: null };
const MAY_MODERATE = new Set(["moderator", "organiser"]);

async function main() {
  const access = await openStaffPage(slug, MAY_MODERATE, "gate.not_moderator");
  Object.assign(state, { event: access.event ?? null, me: access.me, events: access.events, role: access.role });
  if (state.event) renderHeader();
  if (access.gate) {
    gate(...access.gate);
    return;
  }
  $("#console").hidden = false;
  setUpControls();
  state.live = startLive(slug, {
    onChange: render,
    onStatus: (status, detail) => {
      if (status === "closed" && detail.reason) gate(`conn.closed.${detail.reason}`, detail.reason === "signed_out");
      // refused at the handshake, or closed for a role removed or a session ended: say which
      if (status === "reconnecting" || (status === "closed" && detail.reason)) recheckAccess();
    },
  });
  setUpInbox(state.live, $("#qa-tabs"), $("#qa-panel"));
  setUpModeratorPolls($("#mod-polls"), act);
  everySecond(state.live.connection, tick);
}

/** While reconnecting, or closed by the server: a role removed or a session ended meanwhile gates
 *  the page (a socket refused at the handshake looks to the browser like a network failure). */
async function recheckAccess() {
  if (state.rechecking) return;
  state.rechecking = true;
  try {
    const lost = await lostStaffAccess(slug, MAY_MODERATE);
    if (!lost) return;
    state.live.connection.stop();
    Object.assign(state, { me: lost.me, events: lost.events, role: lost.role });
    renderHeader();
    gate(lost.me ? "gate.not_moderator" : "gate.sign_in", !lost.me);
  } finally {
    state.rechecking = false;
  }
}

function renderHeader() {
  renderStaffHeader(state.event, state.me, slug, "organise", state.role === undefined || state.role === "organiser");
}

/** The page behind a message (a key of the catalogues, frontend/i18n), kept in the page's language. */
function gate(key, withSignIn = false) {
  state.gate = { key, withSignIn };
  renderGate();
}

function renderGate() {
  const { key, withSignIn } = state.gate;
  showGate("#console", t(key), withSignIn, key === "gate.not_moderator" ? placesOf(state.me, state.events) : []);
}

/** Send a command; show its error (if any) and return its data or null. */
export async function act(type, fields = {}) {
  const error = $("#action-error");
  error.textContent = "";
  try {
    return (await state.live.connection.send(type, fields)) ?? {};
  } catch (err) {
    error.textContent = commandErrorText(err);
    return null;
  }
}

function render(change) {
  const store = state.live.store;
  if (!store.ready) return;
  if (store.me.role === "attendee") {
    gate("gate.not_moderator");
    return;
  }
  if (change.kind === "event" && change.channel === "staff" && change.event.type === "question.asked") {
    announce(t("say.new_question"));
  }
  if (change.kind === "event" && change.channel === "staff" && change.event.type === "statement.submitted") {
    announce(t("st.say_new"));
  }
  renderStage();
  renderFloor();
  renderQueue();
  renderInbox();
  renderModeratorPolls($("#mod-polls"), store, act, segmentTitle);
  renderStatementInbox($("#statement-inbox"), store, act, (id) => segmentTitle(store.public, id));
  renderOnline();
  tick(state.live.connection.now());
}

// -- stage ---------------------------------------------------------------------------------------------

function segmentTime(segment) {
  return `${formatTime(segment.starts_at, state.event.timezone)}–${formatTime(segment.ends_at, state.event.timezone)}`;
}

/** keepFocus, and a focused pause/resume toggle hands the focus to the button that replaces it. */
function keepToggleFocus(box, fkeys, render) {
  const active = document.activeElement;
  const toggled = box.contains(active) && fkeys.includes(active?.dataset?.fkey);
  keepFocus(box, render);
  if (toggled && !active.isConnected) box.querySelector(fkeys.map((k) => `[data-fkey="${k}"]`).join(","))?.focus();
}

function renderStage() {
  const pub = state.live.store.public;
  const live = segmentInProgress(pub);
  const box = $("#live-segment");
  keepToggleFocus(box, ["pause", "resume"], () => {
    if (!live) {
      replaceChildren(box, h("p", { class: "muted" }, t("now.nothing_live")));
      return;
    }
    const [title, lang] = localized(live.title);
    replaceChildren(
      box,
      h("p", { class: "segment-line" }, h("span", { class: `tag status-${live.status}` }, t(`status.${live.status}`)), " ",
        h("strong", { lang }, title)),
      h("p", { class: "muted" }, t("mod.scheduled", { time: segmentTime(live) }),
        live.opened_at ? ` · ${t("mod.opened_at", { time: formatTime(live.opened_at, state.event.timezone) })}` : null),
      h("div", { class: "actions" },
        live.status === "live"
          ? h("button", { type: "button", class: "secondary", dataset: { fkey: "pause" }, onclick: () => act("segment.pause", { segment_id: live.id }) }, t("mod.pause"))
          : h("button", { type: "button", dataset: { fkey: "resume" }, onclick: () => act("segment.resume", { segment_id: live.id }) }, t("mod.resume")),
        h("button", {
          type: "button",
          class: "danger",
          id: "segment-end",
          dataset: { fkey: "end" },
          onclick: () => {
            if (confirm(t("mod.end_confirm", { title }))) act("segment.end", { segment_id: live.id });
          },
        }, t("mod.end")),
      ),
    );
  });

  const days = [...new Set(pub.segments.map((s) => s.day))];
  const picker = $("#day-pick");
  const current = live ? live.day : (pub.segments.find((s) => s.status === "scheduled") || pub.segments[pub.segments.length - 1])?.day;
  if (!state.day || (!state.dayPicked && current !== state.day)) state.day = current;
  const sig = JSON.stringify([days, getLang()]);
  if (picker.dataset.sig !== sig) {
    replaceChildren(picker, ...days.map((d) => h("option", { value: d }, formatDate(d, "UTC", { weekday: "short", day: "numeric", month: "short" }))));
    picker.dataset.sig = sig;
  }
  picker.value = state.day;
  const segments = pub.segments.filter((s) => s.day === state.day);
  patchList(
    $("#segment-list"),
    segments,
    (s) => s.id,
    (s) => {
      const [title, lang] = localized(s.title);
      return h(
        "li",
        { class: `segment is-${s.status}` },
        h("span", { class: "times" }, segmentTime(s)),
        h("span", { class: "segment-title", lang }, title),
        h("span", { class: `tag status-${s.status}` }, t(`status.${s.status}`)),
        s.status === "scheduled"
          ? h("button", {
              type: "button",
              class: "small",
              dataset: { fkey: "open" },
              disabled: Boolean(live),
              "aria-label": t("mod.open_label", { title }),
              onclick: () => act("segment.open", { segment_id: s.id }),
            }, t("mod.open"))
          : null,
      );
    },
    (s) => JSON.stringify([s.status, s.id, Boolean(live), getLang()]),
  );
}

function renderOnline() {
  const staff = state.live.store.staff;
  if (!staff) return;
  const p = staff.presence;
  const categories = Object.entries(p.by_category || {})
    .filter(([, n]) => n > 0)
    .map(([c, n]) => `${t(`category.${c}`)}: ${formatNumber(n)}`)
    .join(" · ");
  replaceChildren(
    $("#online"),
    h("strong", { class: "big" }, formatNumber(p.online)),
    " ",
    t("mod.online"),
    h("span", { class: "muted" }, ` · ${t("mod.peak", { n: formatNumber(p.peak_today) })}`),
    categories ? h("span", { class: "muted block" }, categories) : null,
  );
}

// -- floor ---------------------------------------------------------------------------------------------

function renderFloor() {
  const pub = state.live.store.public;
  const live = segmentInProgress(pub);
  const speech = pub.stage.speech;
  const key = JSON.stringify([speech?.id, speech?.paused_at, speech?.limit_s, getLang()]);
  if (key !== state.speechKey) {
    state.speechKey = key;
    const mine = Boolean(speech && state.live.store.isMe(speech.who));
    replaceChildren($("#speaker"), speech ? speakerBlock(speech, mine) : h("p", { class: "muted" }, t("now.nobody")));
    const actions = $("#speech-actions");
    keepToggleFocus(actions, ["spause", "sresume"], () => {
      replaceChildren(
        actions,
        speech
          ? [
              speech.paused_at
                ? h("button", { type: "button", dataset: { fkey: "sresume" }, onclick: () => act("speech.resume") }, t("mod.speech_resume"))
                : h("button", { type: "button", class: "secondary", dataset: { fkey: "spause" }, onclick: () => act("speech.pause") }, t("mod.speech_pause")),
              h("button", { type: "button", class: "danger", id: "speech-end", dataset: { fkey: "send" }, onclick: () => act("speech.end") }, t("mod.speech_end")),
              h("form", {
                class: "inline-form",
                onsubmit: (e) => {
                  e.preventDefault();
                  const minutes = Number($("#limit-minutes").value);
                  if (minutes > 0) act("speech.set_limit", { seconds: Math.min(3600, Math.max(10, Math.round(minutes * 60))) });
                },
              },
                h("label", { for: "limit-minutes" }, t("mod.limit")),
                h("input", { id: "limit-minutes", type: "number", min: "0.25", max: "60", step: "0.25", value: String(speech.limit_s / 60), class: "narrow" }),
                h("button", { type: "submit", class: "secondary small" }, t("mod.limit_set")),
              ),
            ]
          : null,
      );
    });
  }
  const people = live ? live.people : [];
  patchList(
    $("#people-list"),
    people,
    (p) => p.id,
    (p) =>
      h("li", {},
        h("span", { class: "person-name" }, p.name),
        p.role === "moderator" ? h("span", { class: "tag" }, t("programme.moderator")) : null,
        h("button", {
          type: "button",
          class: "small secondary",
          dataset: { fkey: "grant" },
          disabled: !live || live.status !== "live" || speech?.person_id === p.id,
          "aria-label": t("mod.give_floor_to", { name: p.name }),
          onclick: () => act("floor.grant", { person_id: p.id }),
        }, t("mod.give_floor")),
      ),
    (p) => JSON.stringify([p, live?.status, speech?.person_id === p.id, getLang()]),
  );
  if (!people.length) replaceChildren($("#people-list"), h("li", { class: "muted" }, t("mod.no_people")));
}

// -- queue ---------------------------------------------------------------------------------------------

function renderQueue() {
  const pub = state.live.store.public;
  const live = segmentInProgress(pub);
  const queue = pub.queue;
  const toggle = $("#queue-toggle");
  toggle.textContent = queue.open ? t("mod.queue_close") : t("mod.queue_open");
  toggle.disabled = !live && !queue.open;
  toggle.setAttribute("aria-pressed", String(!queue.open));
  const order = $("#queue-order");
  if (order.value !== (queue.order ?? "request")) order.value = queue.order ?? "request";
  $("#queue-state").textContent = queue.open ? t("mod.queue_is_open", { n: queue.waiting.length }) : t("mod.queue_is_closed", { n: queue.waiting.length });
  const canGrant = live && live.status === "live";
  const count = queue.waiting.length;
  patchList(
    $("#queue-list"),
    queue.waiting,
    (e) => e.id,
    (entry) => {
      const index = queue.waiting.findIndex((e) => e.id === entry.id);
      return h(
        "li",
        {
          class: state.live.store.isMine(entry) ? "entry mine" : "entry",
          draggable: "true",
          tabindex: "0",
          dataset: { fkey: "row", entry: entry.id },
          "aria-label": t("mod.entry_label", { n: index + 1, name: entry.name }),
          ondragstart: (e) => {
            state.dragId = entry.id;
            e.dataTransfer.effectAllowed = "move";
            e.dataTransfer.setData("text/plain", String(entry.id));
            e.currentTarget.classList.add("dragging");
          },
          ondragend: (e) => e.currentTarget.classList.remove("dragging"),
          ondragover: (e) => {
            e.preventDefault();
            e.dataTransfer.dropEffect = "move";
          },
          ondrop: (e) => {
            e.preventDefault();
            const dragged = Number(e.dataTransfer.getData("text/plain")) || state.dragId;
            if (dragged && dragged !== entry.id) moveTo(dragged, queue.waiting.findIndex((x) => x.id === entry.id));
          },
          onkeydown: (e) => {
            if (e.target !== e.currentTarget) return;
            if (e.altKey && (e.key === "ArrowUp" || e.key === "ArrowDown")) {
              e.preventDefault();
              move(entry.id, e.key === "ArrowUp" ? -1 : 1);
            }
          },
        },
        h("span", { class: "pos", "aria-hidden": "true" }, `${index + 1}.`),
        h("span", { class: "grip", "aria-hidden": "true" }, "⠿"),
        h("span", { class: "entry-main" },
          h("span", { class: "person-name" }, entry.name),
          state.live.store.isMine(entry) ? h("span", { class: "tag you" }, t("person.you")) : null,
          entry.organisation ? h("span", { class: "muted" }, ` · ${entry.organisation}`) : null,
          entry.category ? h("span", { class: "tag category" }, t(`category.${entry.category}`)) : null,
          entry.point_of_order ? h("span", { class: "tag warn" }, t("floor.point_of_order")) : null,
          entry.on_behalf_of ? h("span", { class: "block" }, t("now.on_behalf", { who: entry.on_behalf_of })) : null,
          entry.topic ? h("span", { class: "block topic" }, entry.topic) : null,
        ),
        h("span", { class: "entry-actions" },
          h("button", { type: "button", class: "small", dataset: { fkey: "grant" }, disabled: !canGrant,
            "aria-label": t("mod.grant_label", { name: entry.name }), onclick: () => act("floor.grant", { entry_id: entry.id }) }, t("mod.grant")),
          h("button", { type: "button", class: "small secondary icon", dataset: { fkey: "up" }, disabled: index === 0,
            "aria-label": t("mod.move_up", { name: entry.name }), onclick: () => move(entry.id, -1) }, "↑"),
          h("button", { type: "button", class: "small secondary icon", dataset: { fkey: "down" }, disabled: index === count - 1,
            "aria-label": t("mod.move_down", { name: entry.name }), onclick: () => move(entry.id, 1) }, "↓"),
          h("button", { type: "button", class: "small danger", dataset: { fkey: "remove" },
            "aria-label": t("mod.remove_label", { name: entry.name }), onclick: () => act("queue.remove", { entry_id: entry.id }) }, t("mod.remove")),
        ),
      );
    },
    (entry) => JSON.stringify([entry, queue.waiting.findIndex((e) => e.id === entry.id), count, canGrant, state.live.store.isMine(entry), getLang()]),
  );
  if (!queue.waiting.length) replaceChildren($("#queue-list"), h("li", { class: "muted empty" }, t("floor.empty")));
}

function move(entryId, delta) {
  const waiting = state.live.store.public.queue.waiting;
  const index = waiting.findIndex((e) => e.id === entryId);
  moveTo(entryId, index + delta);
}

async function moveTo(entryId, target) {
  const ids = state.live.store.public.queue.waiting.map((e) => e.id);
  const from = ids.indexOf(entryId);
  if (from < 0 || target < 0 || target >= ids.length || target === from) return;
  ids.splice(from, 1);
  ids.splice(target, 0, entryId);
  const name = state.live.store.public.queue.waiting[from].name;
  const done = await act("queue.reorder", { entry_ids: ids });
  if (done) announce(t("mod.moved", { name, n: target + 1 }));
}

// -- controls and clock --------------------------------------------------------------------------------

function setUpControls() {
  $("#day-pick").addEventListener("change", (e) => {
    state.day = e.target.value;
    state.dayPicked = true;
    renderStage();
  });
  $("#notice-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = $("#notice-text").value.trim();
    if (text && (await act("notice.set", { text }))) $("#notice-text").value = "";
  });
  $("#notice-clear").addEventListener("click", () => act("notice.clear"));
  $("#queue-toggle").addEventListener("click", () => {
    const open = state.live.store.public.queue.open;
    act(open ? "queue.close" : "queue.open");
  });
  $("#queue-order").addEventListener("change", async (e) => {
    const wanted = e.target.value;
    if (!(await act("queue.set_order", { order: wanted }))) e.target.value = state.live.store.public.queue.order ?? "request";
  });
  $("#moderation-on").addEventListener("change", (e) => act("qa.set_moderation", { enabled: e.target.checked }));
}

function tick(nowMs) {
  const store = state.live?.store;
  if (!store?.ready) return;
  const speech = store.public.stage.speech;
  const f = tickTimer(store.public, nowMs, state.overTimeSaid, { warn: true, mine: Boolean(speech && store.isMe(speech.who)) });
  const el = $("#mod-drift");
  const end = f.forecast_end_of_day ? formatTime(f.forecast_end_of_day, state.event.timezone) : "–";
  el.textContent = f.day ? t("now.drift", { drift: driftText(f.drift_s), end }) : "";
  const notice = store.public.stage.notice;
  $("#notice-clear").disabled = !notice;
  const shown = $("#notice-current");
  const text = notice ? t("mod.notice_current", { text: notice.text }) : "";
  if (shown.textContent !== text) shown.textContent = text;
  if (store.staff) $("#moderation-on").checked = store.staff.moderation;
}

onLangChange(() => {
  if (state.event) renderHeader();
  if (state.gate) renderGate();
  if (!state.live?.store.ready || state.gate) return;
  state.speechKey = null;
  render({ kind: "lang" });
});

main();
