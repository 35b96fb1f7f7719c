// The organiser dashboard's messages: compose a subject and a text in each of the event's languages,
// choose the audience, count its recipients, send; then the counts of each message and a resend of
// the failed ones. Counts refresh while deliveries are pending and are announced when they settle.

import { h, replaceChildren, $ } from "./dom.js";
import { api, t, localized, problemText, formatDate, formatNumber, formatTime, announce } from "./page.js";
import { CATEGORIES } from "./register.js";
import { INTERFACE_LANGUAGES } from "./languages.js";

const AUDIENCES = ["everyone", "category", "language", "not_joined", "under_threshold"];
const NEEDS = { category: "category", language: "language", not_joined: "day", under_threshold: "day" };
const ctx = { base: "", event: null, list: null, languages: [], polling: null, pendingBefore: 0 };

function audienceLabel(kind) {
  return {
    everyone: t("msg.to_everyone"),
    category: t("msg.to_category"),
    language: t("msg.to_language"),
    not_joined: t("msg.to_not_joined"),
    under_threshold: t("msg.to_under_threshold"),
  }[kind] || kind;
}

function dayLabel(date) {
  const day = ctx.event.days.find((d) => d.date === date);
  const title = day ? localized(day.title)[0] : "";
  return `${formatDate(date, "UTC", { day: "numeric", month: "short" })}${title ? ` · ${title}` : ""}`;
}

function describe(audience) {
  const kind = audience?.kind;
  if (kind === "category") return `${audienceLabel(kind)}: ${t(`category.${audience.category}`)}`;
  if (kind === "language") return `${audienceLabel(kind)}: ${t(`lang.${audience.language}`)}`;
  if (kind === "not_joined" || kind === "under_threshold") return `${audienceLabel(kind)}: ${dayLabel(audience.day)}`;
  return audienceLabel(kind);
}

function fill(select, options) {
  const current = select.value;
  replaceChildren(select, ...options.map(([value, label]) => h("option", { value }, label)));
  if (current && options.some(([value]) => value === current)) select.value = current;
}

function fillControls() {
  fill($("#msg-audience"), AUDIENCES.map((a) => [a, audienceLabel(a)]));
  fill($("#msg-category"), CATEGORIES.map((c) => [c, t(`category.${c}`)]));
  fill($("#msg-language"), INTERFACE_LANGUAGES.map((c) => [c, t(`lang.${c}`)]));
  fill($("#msg-day"), ctx.event.days.map((d) => [d.date, dayLabel(d.date)]));
  showAudienceFields();
}

function showAudienceFields() {
  const needed = NEEDS[$("#msg-audience").value];
  for (const field of ["category", "language", "day"]) $(`#msg-${field}-field`).hidden = needed !== field;
}

function audience() {
  const kind = $("#msg-audience").value;
  const body = { kind };
  const needed = NEEDS[kind];
  if (needed) body[needed] = $(`#msg-${needed}`).value;
  return body;
}

/** One subject and one text per language of the event, kept when the interface language changes. */
function renderTexts() {
  const box = $("#msg-texts");
  for (const code of ctx.languages) {
    let set = $(`#msg-set-${code}`, box);
    if (!set) {
      // what the organiser types is in that language: the fields say so (lang), the labels are the page's
      set = h("fieldset", { id: `msg-set-${code}`, class: "stack" },
        h("legend", {}),
        h("label", { for: `msg-subject-${code}`, class: "subject-label" }),
        h("input", { id: `msg-subject-${code}`, lang: code, maxlength: "200", autocomplete: "off" }),
        h("label", { for: `msg-text-${code}`, class: "text-label" }),
        h("textarea", { id: `msg-text-${code}`, lang: code, rows: "5", maxlength: "20000" }),
      );
      box.append(set);
    }
    $("legend", set).textContent = t(`lang.${code}`);
    $(".subject-label", set).textContent = t("msg.subject");
    $(".text-label", set).textContent = t("msg.text");
  }
}

function clearErrors() {
  for (const el of document.querySelectorAll("#msg-form [aria-invalid]")) {
    el.removeAttribute("aria-invalid");
    el.removeAttribute("aria-describedby");
  }
  for (const el of document.querySelectorAll("#msg-form .field-error")) el.remove();
}

function fieldError(input, message) {
  const id = `${input.id}-error`;
  input.after(h("p", { id, class: "error field-error" }, message));
  input.setAttribute("aria-invalid", "true");
  input.setAttribute("aria-describedby", id);
}

async function preview() {
  const out = $("#msg-count");
  const result = await api(`${ctx.base}/messages/preview`, { method: "POST", body: { audience: audience() } });
  ctx.count = result.ok ? result.data.recipients : null;
  out.textContent = result.ok ? countText() : problemText(result);
}

function countText() {
  return ctx.count === null || ctx.count === undefined ? "" : t("msg.count", { count: formatNumber(ctx.count) });
}

async function send(e) {
  e.preventDefault();
  clearErrors();
  const result = $("#msg-result");
  result.textContent = "";
  const subject = {};
  const text = {};
  let first = null;
  for (const code of ctx.languages) {
    const s = $(`#msg-subject-${code}`);
    const x = $(`#msg-text-${code}`);
    subject[code] = s.value.trim();
    text[code] = x.value.trim();
    for (const [input, value] of [[s, subject[code]], [x, text[code]]]) {
      if (!value) {
        fieldError(input, t("msg.need_text", { language: t(`lang.${code}`) }));
        first = first || input;
      }
    }
  }
  if (first) {
    first.focus();
    return;
  }
  const button = $("#msg-send");
  button.disabled = true;
  const sent = await api(`${ctx.base}/messages`, { method: "POST", body: { subject, text, audience: audience() } });
  button.disabled = false;
  if (!sent.ok) {
    replaceChildren(result, h("span", { class: "error", role: "alert" }, problemText(sent)));
    return;
  }
  ctx.queued = sent.data.recipients;
  replaceChildren(result, h("span", { class: "success" }, t("msg.queued", { count: formatNumber(ctx.queued) })));
  for (const code of ctx.languages) {
    $(`#msg-subject-${code}`).value = "";
    $(`#msg-text-${code}`).value = "";
  }
  await loadMessages();
}

async function resend(message) {
  const result = await api(`${ctx.base}/messages/${message.id}/resend`, { method: "POST" });
  announce(result.ok ? t("msg.resent", { count: formatNumber(result.data.resent) }) : problemText(result));
  await loadMessages();
}

export async function loadMessages() {
  ctx.list = await api(`${ctx.base}/messages`);
  if (ctx.list.ok) {
    ctx.languages = ctx.list.data.languages || [];
    renderTexts();
  }
  renderMessages();
  const pending = ctx.list.ok ? ctx.list.data.messages.reduce((n, m) => n + m.pending, 0) : 0;
  if (ctx.pendingBefore && !pending) announce(t("msg.all_done"));
  ctx.pendingBefore = pending;
  clearTimeout(ctx.polling);
  if (pending) ctx.polling = setTimeout(loadMessages, 2000);
}

function renderMessages() {
  const box = $("#msg-list");
  const result = ctx.list;
  if (!result) return;
  if (!result.ok) {
    replaceChildren(box, h("p", { class: "error" }, problemText(result)));
    return;
  }
  const rows = result.data.messages;
  if (!rows.length) {
    replaceChildren(box, h("p", { class: "muted" }, t("msg.none")));
    return;
  }
  const when = (iso) => formatTime(iso, ctx.event.timezone, { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
  const heads = ["msg.sent_at", "msg.subject", "msg.audience", "msg.recipients", "org.sent", "org.failed", "org.pending", "org.actions"];
  replaceChildren(box, h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-labelledby": "msg-list-h" },
    h("table", { id: "msg-table" },
      h("thead", {}, h("tr", {}, ...heads.map((k) => h("th", { scope: "col" }, t(k))))),
      h("tbody", {}, rows.map((m) =>
        h("tr", { class: m.failed ? "has-failures" : "", "data-id": String(m.id) },
          h("td", {}, when(m.created_at)),
          h("td", {}, localized(m.subject)[0]),
          h("td", {}, describe(m.audience)),
          h("td", {}, formatNumber(m.recipients)),
          h("td", { class: "sent" }, formatNumber(m.sent)),
          h("td", { class: "failed" }, m.failed ? h("strong", { class: "error-text" }, formatNumber(m.failed)) : "0"),
          h("td", { class: "pending" }, formatNumber(m.pending)),
          h("td", {}, m.failed
            ? h("button", { type: "button", class: "secondary small", onclick: () => resend(m) }, t("msg.resend_failed"))
            : ""),
        ))),
    )));
}

export function setUpMessages(base, event) {
  Object.assign(ctx, { base, event });
  fillControls();
  const forget = () => {
    ctx.count = null;
    $("#msg-count").textContent = "";
  };
  $("#msg-audience").addEventListener("change", () => {
    showAudienceFields();
    forget();
  });
  for (const id of ["#msg-category", "#msg-language", "#msg-day"]) $(id).addEventListener("change", forget);
  $("#msg-preview").addEventListener("click", preview);
  $("#msg-form").addEventListener("submit", send);
}

export function refreshMessages() {
  if (!ctx.event) return;
  fillControls();
  renderTexts();
  renderMessages();
  // what was last said, in the new language
  $("#msg-count").textContent = countText();
  const queued = $("#msg-result .success");
  if (queued && ctx.queued !== undefined) queued.textContent = t("msg.queued", { count: formatNumber(ctx.queued) });
}
