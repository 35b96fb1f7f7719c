// The moderator's Q&A inbox: tabs by status, with approve, edit, dismiss, highlight, answer,
// archive and restore. Tabs follow the WAI-ARIA pattern (arrow keys, Home, End).

import { h, replaceChildren, patchList, $ } from "./dom.js";
import { t, getLang, formatTime, localized } from "./page.js";
import { rankQuestions } from "./store.js";
import { personName } from "./live.js";
import { commandErrorText } from "./speaker.js";

const TABS = ["pending", "approved", "highlighted", "answered", "archived", "dismissed"];
const ui = { live: null, tabs: null, panel: null, tab: "pending", editing: null, drafts: new Map() };

export function setUpInbox(live, tabs, panel) {
  ui.live = live;
  ui.tabs = tabs;
  ui.panel = panel;
  tabs.addEventListener("keydown", (e) => {
    const index = TABS.indexOf(ui.tab);
    let next = null;
    if (e.key === "ArrowRight") next = (index + 1) % TABS.length;
    if (e.key === "ArrowLeft") next = (index - 1 + TABS.length) % TABS.length;
    if (e.key === "Home") next = 0;
    if (e.key === "End") next = TABS.length - 1;
    if (next === null) return;
    e.preventDefault();
    select(TABS[next], true);
  });
}

function select(tab, focus = false) {
  ui.tab = tab;
  renderInbox();
  if (focus) document.getElementById(`tab-${tab}`)?.focus();
}

function lists() {
  const { public: pub, staff } = ui.live.store;
  const highlighted = pub.highlighted_question_id;
  const staffQs = staff ? staff.questions : [];
  return {
    pending: staffQs.filter((q) => q.status === "pending"),
    approved: rankQuestions(pub.questions.filter((q) => q.status === "approved" && q.id !== highlighted)),
    highlighted: pub.questions.filter((q) => q.id === highlighted),
    answered: pub.questions.filter((q) => q.status === "answered"),
    archived: pub.questions.filter((q) => q.status === "archived"),
    dismissed: staffQs.filter((q) => q.status === "dismissed"),
  };
}

async function act(type, fields) {
  const error = $("#action-error");
  error.textContent = "";
  try {
    return (await ui.live.connection.send(type, fields)) ?? {};
  } catch (err) {
    error.textContent = commandErrorText(err);
    return null;
  }
}

export function renderInbox() {
  if (!ui.live?.store.ready) return;
  const all = lists();
  const tabsSig = JSON.stringify([TABS.map((tab) => all[tab].length), ui.tab, getLang()]);
  if (ui.tabs.dataset.sig !== tabsSig) {
    const hadFocus = ui.tabs.contains(document.activeElement);
    replaceChildren(
      ui.tabs,
      ...TABS.map((tab) =>
        h(
          "button",
          {
            type: "button",
            role: "tab",
            id: `tab-${tab}`,
            "aria-selected": String(tab === ui.tab),
            "aria-controls": "qa-panel",
            tabindex: tab === ui.tab ? "0" : "-1",
            class: `tab${tab === ui.tab ? " is-selected" : ""}`,
            onclick: () => select(tab),
          },
          t(`inbox.${tab}`),
          " ",
          h("span", { class: "count" }, String(all[tab].length)),
        ),
      ),
    );
    ui.tabs.dataset.sig = tabsSig;
    if (hadFocus) document.getElementById(`tab-${ui.tab}`)?.focus();
  }
  ui.panel.setAttribute("aria-labelledby", `tab-${ui.tab}`);
  const items = all[ui.tab];
  let list = ui.panel.querySelector("ul");
  if (!list || list.dataset.tab !== ui.tab) {
    list = h("ul", { class: "questions inbox", dataset: { tab: ui.tab } });
    replaceChildren(ui.panel, list);
  }
  const { public: pub, staff } = ui.live.store;
  patchList(
    list,
    items,
    (q) => q.id,
    (q) => item(q, pub, staff),
    (q) => JSON.stringify([q, staff?.provenance?.[String(q.id)] ?? null, ui.editing === q.id, pub.highlighted_question_id === q.id, getLang()]),
  );
  if (!items.length) replaceChildren(list, h("li", { class: "muted empty" }, t(`inbox.empty_${ui.tab}`)));
}

function askerOf(q, staff) {
  if (q.asker) return { asker: q.asker, anonymous: q.anonymous };
  const facts = staff?.provenance?.[String(q.id)];
  return facts ? { asker: facts.asker, anonymous: facts.anonymous, original_text: facts.original_text } : { asker: null, anonymous: false };
}

function button(label, onclick, { cls = "small", fkey, aria } = {}) {
  return h("button", { type: "button", class: cls, dataset: { fkey: fkey || label }, "aria-label": aria, onclick }, label);
}

function item(q, pub, staff) {
  const { asker, anonymous, original_text: originalFromProvenance } = askerOf(q, staff);
  const original = q.original_text ?? originalFromProvenance ?? null;
  const segment = pub.segments.find((s) => s.id === q.segment_id);
  const editing = ui.editing === q.id;
  const who = asker ? (asker.organisation ? `${asker.name} (${asker.organisation})` : asker.name) : "";
  const meta = h(
    "p",
    { class: "muted" },
    who,
    asker && ui.live.store.isMe(asker.who) ? h("span", { class: "tag you" }, t("person.you")) : null,
    anonymous ? h("span", { class: "tag" }, t("inbox.anonymous")) : null,
    q.addressed_to ? ` → ${personName(pub, q.addressed_to)}` : null,
    ` · ${formatTime(q.asked_at, undefined)}`,
    segment ? h("span", { class: "block", lang: localized(segment.title)[1] }, localized(segment.title)[0]) : null,
  );
  const body = editing
    ? editor(q)
    : [
        h("p", { class: "q-text" }, q.text),
        original && original !== q.text ? h("p", { class: "muted" }, t("inbox.original", { text: original })) : null,
      ];
  const votes = "votes" in q ? h("span", { class: "votes-pill", "aria-label": t("inbox.votes", { n: q.votes }) }, `▲ ${q.votes}`) : null;
  return h("li", { class: "question" }, h("div", { class: "q-body" }, votes, body, meta), editing ? null : h("div", { class: "actions" }, actions(q)));
}

function editor(q) {
  const id = `edit-${q.id}`;
  const draft = ui.drafts.has(q.id) ? ui.drafts.get(q.id) : q.text;
  const area = h("textarea", { id, rows: "3", maxlength: "500", dataset: { fkey: "editor" }, oninput: (e) => ui.drafts.set(q.id, e.target.value) });
  area.value = draft;
  const done = () => {
    ui.editing = null;
    ui.drafts.delete(q.id);
    renderInbox();
  };
  return [
    h("label", { for: id }, t("inbox.edit_label")),
    area,
    h("div", { class: "actions" },
      button(t("inbox.save"), async () => {
        const text = area.value.trim();
        if (text && (await act("question.edit", { question_id: q.id, text })) !== null) done();
      }, { fkey: "save" }),
      button(t("inbox.save_approve"), async () => {
        const text = area.value.trim();
        if (text && (await act("question.approve", { question_id: q.id, text })) !== null) done();
      }, { fkey: "save-approve" }),
      button(t("inbox.cancel"), done, { cls: "small secondary", fkey: "cancel" }),
    ),
  ];
}

function actions(q) {
  const id = q.id;
  const a = (label, type, fields, opts) => button(label, () => act(type, { question_id: id, ...fields }), opts);
  switch (ui.tab) {
    case "pending":
      return [
        a(t("inbox.approve"), "question.approve", {}, { fkey: "approve" }),
        button(t("inbox.edit"), () => {
          ui.editing = id;
          renderInbox();
          document.getElementById(`edit-${id}`)?.focus();
        }, { cls: "small secondary", fkey: "edit" }),
        a(t("inbox.dismiss"), "question.dismiss", {}, { cls: "small danger", fkey: "dismiss" }),
      ];
    case "approved":
      return [
        a(t("inbox.highlight"), "question.highlight", {}, { fkey: "highlight" }),
        a(t("inbox.answer"), "question.answer", {}, { cls: "small secondary", fkey: "answer" }),
        a(t("inbox.archive"), "question.archive", {}, { cls: "small secondary", fkey: "archive" }),
        a(t("inbox.take_down"), "question.dismiss", {}, { cls: "small danger", fkey: "dismiss" }),
      ];
    case "highlighted":
      return [
        a(t("inbox.answer"), "question.answer", {}, { fkey: "answer" }),
        button(t("inbox.unhighlight"), () => act("question.highlight", { question_id: null }), { cls: "small secondary", fkey: "unhighlight" }),
      ];
    case "answered":
      return [a(t("inbox.archive"), "question.archive", {}, { cls: "small secondary", fkey: "archive" })];
    case "archived":
    case "dismissed":
      return [a(t("inbox.restore"), "question.restore", {}, { cls: "small secondary", fkey: "restore" })];
    default:
      return [];
  }
}
