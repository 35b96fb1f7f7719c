// The organiser dashboard (/organise/{slug}): attendance now (live, staff channel) and over time,
// registrations with search and CSV export, reminders, reports per morning.
// Routes that are not there yet (404) show "not available yet" instead of failing.

import { h, replaceChildren, $ } from "./dom.js";
import {
  initPage, api, t, renderStaffHeader, showGate, openStaffPage, lostStaffAccess, onLangChange, localized, slugFromPath, problemText, placesOf,
  formatTime, formatDate, formatNumber, announce,
} from "./page.js";
import { startLive } from "./live.js";
import { attendanceChart, attendanceTable } from "./chart.js";
import { CATEGORIES } from "./register.js";
import { setUpMessages, loadMessages, refreshMessages } from "./messages.js";
import { pageOf, renderPager, labelCells, breakableEmail } from "./pager.js";
import { setUpBulkImport } from "./bulk-import.js";
import { mountOrganiserCertificates } from "./certificates.js";
import { deadlineText } from "./statements.js";
import { commandErrorText } from "./speaker.js";

initPage();
const slug = slugFromPath();
const base = `/api/events/${encodeURIComponent(slug)}`;
const MAY_ORGANISE = new Set(["organiser"]);
const state = {
  event: null, live: null, registrations: null, q: "", timeline: null, reminders: null, reports: null, compiling: new Set(),
  gate: null, resending: false, regPage: 1, remPage: 1,
};

async function main() {
  const access = await openStaffPage(slug, MAY_ORGANISE, "gate.not_organiser");
  Object.assign(state, { event: access.event ?? null, me: access.me, events: access.events, role: access.role });
  if (state.event) renderHeader();
  if (access.gate) {
    gate(...access.gate);
    return;
  }
  $("#dashboard").hidden = false;
  setUpControls();
  setUpStatementDeadline();
  state.live = startLive(slug, {
    onChange: () => {
      renderPresence();
      renderStatementDeadline();
    },
    onStatus: (status, detail) => {
      if (status === "closed" && detail.reason) gate(`conn.closed.${detail.reason}`, detail.reason === "signed_out");
      // refused at the handshake, or closed for a role removed or a session ended: say which
      if (status === "reconnecting" || (status === "closed" && detail.reason)) recheckAccess();
    },
  });
  setUpMessages(base, state.event);
  await Promise.all([loadRegistrations(), loadTimeline(), loadReminders(), loadReports(), loadMessages(),
    mountOrganiserCertificates($("#certificates-body"), slug, state.event)]);
}

/** While reconnecting, or closed by the server: a role removed or a session ended meanwhile gates
 *  the page. */
async function recheckAccess() {
  if (state.rechecking) return;
  state.rechecking = true;
  try {
    const lost = await lostStaffAccess(slug, MAY_ORGANISE);
    if (!lost) return;
    state.live.connection.stop();
    Object.assign(state, { me: lost.me, events: lost.events, role: lost.role });
    renderHeader();
    gate(lost.me ? "gate.not_organiser" : "gate.sign_in", !lost.me);
  } finally {
    state.rechecking = false;
  }
}

function renderHeader() {
  renderStaffHeader(state.event, state.me, slug, "moderate", [undefined, "moderator", "organiser"].includes(state.role));
}

/** The page behind a message (a key of the catalogues, frontend/i18n), kept in the page's language. */
function gate(key, withSignIn = false) {
  state.gate = { key, withSignIn };
  renderGate();
}

function renderGate() {
  const { key, withSignIn } = state.gate;
  showGate("#dashboard", t(key), withSignIn, key === "gate.not_organiser" ? placesOf(state.me, state.events) : []);
}

function unavailable(result) {
  return result.status === 404 && result.data?.code !== "event_not_found"
    ? h("p", { class: "muted" }, t("org.not_available"))
    : h("p", { class: "error" }, result.status === 403 ? t("gate.organiser_only") : problemText(result));
}

// -- attendance now ----------------------------------------------------------------------------------

function renderPresence() {
  const staff = state.live.store.staff;
  if (!staff) {
    replaceChildren($("#presence"), h("p", { class: "muted" }, t("gate.organiser_only")));
    return;
  }
  const p = staff.presence;
  const rows = CATEGORIES.map((c) => [c, p.by_category?.[c] ?? 0]);
  replaceChildren(
    $("#presence"),
    h("p", { class: "kpis" },
      h("span", { class: "kpi" }, h("strong", { class: "big", id: "online-now" }, formatNumber(p.online)), h("span", {}, t("mod.online"))),
      h("span", { class: "kpi" }, h("strong", { class: "big" }, formatNumber(p.peak_today)), h("span", {}, t("org.peak_today"))),
    ),
    h("table", { class: "compact" },
      h("caption", { class: "sr-only" }, t("org.by_category")),
      h("tbody", {}, rows.map(([c, n]) => h("tr", {}, h("th", { scope: "row" }, t(`category.${c}`)), h("td", {}, formatNumber(n))))),
    ),
    p.at ? h("p", { class: "muted" }, t("org.updated", { time: formatTime(p.at, state.event.timezone, { hour: "2-digit", minute: "2-digit", second: "2-digit" }) })) : null,
  );
}

// -- written statements: the deadline ------------------------------------------------------------------

function renderStatementDeadline() {
  const store = state.live.store;
  if (!store.ready) return;
  const board = store.public.statements;
  $("#st-rule").textContent = t("st.org_current", { rule: deadlineText(board, state.event.timezone) });
  const pending = store.staff ? store.staff.statements.filter((s) => s.status === "pending").length : 0;
  $("#st-counts").textContent = t("st.org_counts", { published: board.published.length, pending });
}

function setUpStatementDeadline() {
  $("#st-deadline-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const error = $("#st-deadline-error");
    error.textContent = "";
    let fields;
    if ($("#st-kind-until").checked) {
      const value = $("#st-until").value;
      if (!value) {
        error.textContent = t("st.org_until_missing");
        $("#st-until").focus();
        return;
      }
      fields = { until: new Date(value).toISOString() };
    } else {
      const hours = Number($("#st-hours").value);
      if (!(hours * 3600 >= 60 && hours <= 720)) {
        error.textContent = t("st.org_hours_range");
        $("#st-hours").focus();
        return;
      }
      fields = { after_s: Math.round(hours * 3600) };
    }
    try {
      await state.live.connection.send("statements.set_deadline", fields);
      announce(t("st.org_saved", { rule: deadlineText({ deadline: { after_s: null, until: null, ...fields } }, state.event.timezone) }));
    } catch (err) {
      error.textContent = commandErrorText(err);
    }
  });
}

// -- attendance over time ----------------------------------------------------------------------------

async function loadTimeline() {
  const picker = $("#timeline-day");
  const day = picker.value || state.event.days[0]?.date;
  if (!day) return;
  const result = await api(`${base}/attendance/timeline?day=${encodeURIComponent(day)}`);
  state.timeline = result;
  renderTimeline();
}

function renderTimeline() {
  const box = $("#timeline");
  const result = state.timeline;
  if (!result) return;
  if (!result.ok) {
    replaceChildren(box, unavailable(result));
    return;
  }
  const data = result.data;
  const minutes = data.minutes || [];
  const segments = data.segments || [];
  const tz = state.event.timezone;
  replaceChildren(
    box,
    minutes.length ? attendanceChart(minutes, { timeZone: tz, idBase: `chart-${data.day}`, width: box.clientWidth || 720 }) : h("p", { class: "muted" }, t("org.no_attendance")),
    minutes.length ? attendanceTable(minutes, tz) : null,
    segments.length
      ? h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": t("org.by_segment") },
          h("table", {},
            h("caption", {}, t("org.by_segment")),
            h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("org.segment")), h("th", { scope: "col" }, t("org.unique")), h("th", { scope: "col" }, t("org.peak")))),
            h("tbody", {}, segments.map((s) => {
              const [title, lang] = typeof s.title === "string" ? [s.title, ""] : localized(s.title || {});
              return h("tr", {}, h("th", { scope: "row", lang: lang || null }, title), h("td", {}, formatNumber(s.unique_attendees)), h("td", {}, formatNumber(s.peak)));
            })),
          ))
      : null,
  );
}

// -- registrations -----------------------------------------------------------------------------------

async function loadRegistrations() {
  const query = state.q ? `?q=${encodeURIComponent(state.q)}` : "";
  const result = await api(`${base}/registrations${query}`);
  state.registrations = result;
  renderRegistrations();
}

function renderRegistrations() {
  const result = state.registrations;
  const body = $("#reg-table tbody");
  $("#csv-link").href = `${base}/registrations.csv${state.q ? `?q=${encodeURIComponent(state.q)}` : ""}`;
  if (!result) return;
  if (!result.ok) {
    replaceChildren(body);
    renderPager($("#reg-pager"), pageOf([], 1), 0, () => {}, "");
    replaceChildren($("#reg-count"), unavailable(result));
    return;
  }
  const rows = result.data.registrations;
  $("#reg-count").textContent = state.q ? t("org.found", { n: rows.length, q: state.q }) : t("org.count", { n: rows.length });
  const view = pageOf(rows, state.regPage);
  state.regPage = view.page;
  replaceChildren(
    body,
    ...view.rows.map((r) =>
      h("tr", { dataset: { id: r.id } },
        h("th", { scope: "row" }, r.name, r.listed ? null : h("span", { class: "tag", title: t("org.unlisted_hint") }, t("org.unlisted"))),
        h("td", {}, breakableEmail(r.email)),
        h("td", {}, r.organisation),
        h("td", {}, t(`category.${r.category}`)),
        h("td", {}, r.country),
        h("td", {}, r.language),
        h("td", {}, r.revoked ? h("span", { class: "tag warn" }, t("org.revoked")) : t("org.active")),
        h("td", { class: "nowrap" },
          h("button", { type: "button", class: "small secondary", "aria-label": t("org.new_link_for", { name: r.name }), onclick: () => newLink(r) }, t("org.new_link")),
          r.revoked ? null : h("button", { type: "button", class: "small danger", "aria-label": t("org.revoke_for", { name: r.name }), onclick: () => revoke(r) }, t("org.revoke")),
        ),
      ),
    ),
  );
  if (!rows.length) replaceChildren(body, h("tr", {}, h("td", { colspan: "8", class: "muted" }, t("org.no_registrations"))));
  labelCells($("#reg-table"));
  renderPager($("#reg-pager"), view, rows.length, (page) => {
    state.regPage = page;
    renderRegistrations();
  }, t("org.registrations"));
  fillResendForm();
}

async function newLink(r) {
  const result = await api(`${base}/registrations/${r.id}/link`, { method: "POST" });
  const box = $("#reg-message");
  if (!result.ok) {
    replaceChildren(box, h("span", { class: "error" }, problemText(result)));
    return;
  }
  replaceChildren(box, t("org.link_for", { name: r.name }), " ", h("code", { class: "link" }, result.data.join_url));
  await loadRegistrations();
}

async function revoke(r) {
  if (!confirm(t("org.revoke_confirm", { name: r.name }))) return;
  const result = await api(`${base}/registrations/${r.id}/revoke`, { method: "POST" });
  replaceChildren($("#reg-message"), result.ok ? t("org.revoked_done", { name: r.name }) : problemText(result));
  await loadRegistrations();
}

// -- reminders -----------------------------------------------------------------------------------------

async function loadReminders() {
  state.reminders = await api(`${base}/reminders`);
  renderReminders();
}

function renderReminders() {
  const box = $("#reminders-body");
  const result = state.reminders;
  if (!result) return;
  fillResendForm();
  renderPager($("#rem-pager"), pageOf([], 1), 0, () => {}, "");
  if (!result.ok) {
    replaceChildren(box, unavailable(result));
    return;
  }
  const rows = result.data.reminders || [];
  if (!rows.length) {
    replaceChildren(box, h("p", { class: "muted" }, t("org.no_reminders")));
    return;
  }
  const tz = state.event.timezone;
  const when = (iso) => formatTime(iso, tz, { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
  const view = pageOf(rows, state.remPage);
  state.remPage = view.page;
  replaceChildren(box, h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-labelledby": "rem-h" },
    h("table", { id: "rem-table", class: "stacked" },
      h("thead", {}, h("tr", {}, ...["org.day", "org.kind", "org.due_at", "org.due", "org.sent", "org.failed", "org.pending"].map((k) => h("th", { scope: "col" }, t(k))))),
      h("tbody", {}, view.rows.map((r) =>
        h("tr", { class: r.failed ? "has-failures" : "" },
          h("td", {}, formatDate(r.day, "UTC", { day: "numeric", month: "short" })),
          h("td", {}, reminderLabel(r)),
          h("td", {}, r.due_at ? when(r.due_at) : "–"),
          h("td", {}, formatNumber(r.due ?? 0)),
          h("td", {}, formatNumber(r.sent ?? 0)),
          h("td", {}, r.failed ? h("strong", { class: "error-text" }, formatNumber(r.failed)) : "0"),
          h("td", {}, formatNumber(r.pending ?? 0)),
        ))),
    )));
  labelCells($("#rem-table"));
  renderPager($("#rem-pager"), view, rows.length, (page) => {
    state.remPage = page;
    renderReminders();
  }, t("org.reminders"));
}

/** "attendees-24h" → "Attendees · 24h before". */
function reminderLabel(row) {
  const [audience, offset] = String(row.kind).split(/-(.*)/s);
  const who = row.audience || audience;
  const label = t(`reminder.audience.${who}`);
  if (!offset || label === `reminder.audience.${who}`) return String(row.kind);
  return `${label} · ${t("reminder.before", { offset })}`;
}

// -- resending one person's reminder ------------------------------------------------------------------

/** The attendee reminders one can resend: the schedule's, then any older kind that went out. */
function attendeeKinds() {
  const data = state.reminders?.data || {};
  const kinds = (data.schedule?.attendees || []).map((offset) => `attendees-${offset}`);
  for (const row of data.reminders || []) {
    if ((row.audience || String(row.kind).split("-")[0]) === "attendees" && !kinds.includes(row.kind)) kinds.push(row.kind);
  }
  return kinds;
}

function morningLabel(date) {
  const day = state.event.days.find((d) => d.date === date);
  const when = formatDate(date, "UTC", { weekday: "short", day: "numeric", month: "short" });
  return day ? `${localized(day.title)[0]} · ${when}` : when;
}

function morningOver(day) {
  const now = state.live?.connection.now() ?? Date.now();
  return Date.parse(day.ends_at) <= now;
}

/** Fill a <select> with [value, text] pairs, keeping the chosen value when it is still there. */
function fillSelect(select, options, preferred) {
  const keep = select.value;
  replaceChildren(select, ...options.map(([value, text]) => h("option", { value: String(value) }, text)));
  const values = options.map(([value]) => String(value));
  if (values.includes(keep)) select.value = keep;
  else if (preferred !== undefined && values.includes(String(preferred))) select.value = String(preferred);
}

function fillResendForm() {
  const form = $("#resend-form");
  const reminders = state.reminders;
  const kinds = reminders?.ok ? attendeeKinds() : [];
  form.hidden = !reminders?.ok || !kinds.length;
  if (form.hidden) return;
  const people = state.registrations?.ok ? state.registrations.data.registrations : [];
  fillSelect($("#resend-person"), people.length
    ? people.map((r) => [r.id, `${r.name} <${r.email}>${r.revoked ? ` · ${t("org.revoked")}` : ""}`])
    : [["", state.q ? t("org.resend_nobody_found", { q: state.q }) : t("org.no_registrations")]]);
  const days = state.event.days;
  const next = days.find((d) => !morningOver(d)) || days[days.length - 1];
  fillSelect($("#resend-day"), days.map((d) => [d.date, morningOver(d) ? `${morningLabel(d.date)} (${t("org.morning_over")})` : morningLabel(d.date)]), next?.date);
  fillSelect($("#resend-kind"), kinds.map((kind) => [kind, reminderLabel({ kind })]));
  $("#resend-submit").disabled = state.resending || !people.length;
  renderResendNote();
}

function renderResendNote() {
  const el = $("#resend-message");
  const note = state.resendNote;
  if (!note) return;
  const day = formatDate(note.day, "UTC", { weekday: "long", day: "numeric", month: "long" });
  const params = { name: note.name, kind: reminderLabel({ kind: note.kind }), day };
  el.className = note.problem ? "error" : "success";
  if (note.problem) {
    // the server's words (English) after ours
    replaceChildren(el, t("org.resend_failed", params), " ", h("span", { lang: note.problemLang || null }, note.problem));
  } else {
    replaceChildren(el, t(note.queued ? "org.resend_queued" : "org.resend_scan", params));
  }
}

async function resend(e) {
  e.preventDefault();
  if (state.resending) return;
  const registrationId = Number($("#resend-person").value);
  const day = $("#resend-day").value;
  const kind = $("#resend-kind").value;
  if (!registrationId || !day || !kind) return;
  const person = state.registrations.data.registrations.find((r) => r.id === registrationId);
  const button = $("#resend-submit");
  state.resending = true;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  const result = await api(`${base}/reminders/resend`, { method: "POST", body: { registration_id: registrationId, day, kind } });
  state.resending = false;
  button.disabled = false;
  button.removeAttribute("aria-busy");
  const note = { name: person?.name ?? String(registrationId), day, kind };
  if (result.ok) {
    state.resendNote = { ...note, queued: Boolean(result.data?.queued) };
  } else {
    const problem = problemText(result);
    const fromServer = problem === result.data?.detail && !result.data?.code?.startsWith("network");
    state.resendNote = { ...note, problem, problemLang: fromServer ? "en" : null };
  }
  renderResendNote();
  announce($("#resend-message").textContent, { assertive: !result.ok });
  if (result.ok) await loadReminders();
}

// -- reports -------------------------------------------------------------------------------------------

async function loadReports() {
  state.reports = await api(`${base}/reports`);
  renderReports();
}

function scopeLabel(scope) {
  if (scope === "event") return t("org.whole_event");
  const day = state.event.days.find((d) => d.date === scope);
  return day ? `${localized(day.title)[0]} · ${formatDate(scope, "UTC", { day: "numeric", month: "short" })}` : scope;
}

function sizeText(bytes) {
  if (bytes === undefined || bytes === null) return "";
  if (bytes < 1024) return t("unit.bytes", { n: bytes });
  if (bytes < 1024 * 1024) return t("unit.kb", { n: formatNumber(Math.round(bytes / 102.4) / 10) });
  return t("unit.mb", { n: formatNumber(Math.round(bytes / 104857.6) / 10) });
}

function renderReports() {
  const box = $("#reports-body");
  const result = state.reports;
  if (!result) return;
  if (!result.ok) {
    replaceChildren(box, unavailable(result));
    return;
  }
  const reports = result.data.reports || [];
  const scopes = [...state.event.days.map((d) => d.date), "event"];
  replaceChildren(
    box,
    h("ul", { class: "reports" },
      scopes.map((scope) => {
        const files = ["csv", "xlsx", "pdf"].map((format) => reports.find((r) => r.scope === scope && r.format === format));
        const compiled = files.filter(Boolean);
        const busy = state.compiling.has(scope);
        return h("li", { class: "report" },
          h("p", { class: "report-scope" }, h("strong", {}, scopeLabel(scope))),
          compiled.length
            ? h("p", { class: "muted" }, t("org.compiled_at", { time: formatTime(compiled[0].compiled_at, state.event.timezone, { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" }) }),
                compiled.some((f) => f.complete === false) ? ` · ${t("org.incomplete")}` : null)
            : h("p", { class: "muted" }, t("org.not_compiled")),
          h("p", { class: "downloads" },
            files.map((file, i) => {
              const format = ["csv", "xlsx", "pdf"][i];
              return file
                ? h("a", { href: file.url, class: "button small secondary", download: "", "aria-label": t("org.download_label", { format: format.toUpperCase(), scope: scopeLabel(scope) }) },
                    format.toUpperCase(), h("span", { class: "size" }, ` ${sizeText(file.bytes)}`))
                : h("span", { class: "button small disabled", "aria-disabled": "true" }, format.toUpperCase());
            }),
            h("button", { type: "button", class: "small", disabled: busy, "aria-label": t("org.compile_label", { scope: scopeLabel(scope) }), onclick: () => compile(scope) },
              busy ? t("org.compiling") : compiled.length ? t("org.recompile") : t("org.compile")),
          ),
        );
      }),
    ),
  );
}

async function compile(scope) {
  const before = (state.reports?.data?.reports || []).filter((r) => r.scope === scope).map((r) => r.compiled_at).join();
  state.compiling.add(scope);
  renderReports();
  const result = await api(`${base}/reports`, { method: "POST", body: { scope } });
  if (!result.ok) {
    state.compiling.delete(scope);
    renderReports();
    announce(problemText(result), { assertive: true });
    return;
  }
  announce(t("org.compile_started", { scope: scopeLabel(scope) }));
  for (let i = 0; i < 60; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 2000));
    state.reports = await api(`${base}/reports`);
    const now = (state.reports?.data?.reports || []).filter((r) => r.scope === scope).map((r) => r.compiled_at).join();
    if (now && now !== before) break;
  }
  state.compiling.delete(scope);
  renderReports();
  announce(t("org.compile_done", { scope: scopeLabel(scope) }));
}

// -- controls ------------------------------------------------------------------------------------------

function fillDays() {
  const picker = $("#timeline-day");
  const current = picker.value;
  replaceChildren(picker, ...state.event.days.map((d) => h("option", { value: d.date }, `${localized(d.title)[0]} · ${formatDate(d.date, "UTC", { day: "numeric", month: "short" })}`)));
  if (current) picker.value = current;
}

function setUpControls() {
  fillDays();
  $("#timeline-day").addEventListener("change", loadTimeline);
  let resizing = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizing);
    resizing = setTimeout(renderTimeline, 200);
  });
  $("#resend-form").addEventListener("submit", resend);
  setUpBulkImport(base, loadRegistrations);
  $("#reg-search").addEventListener("submit", (e) => {
    e.preventDefault();
    state.q = $("#reg-q").value.trim();
    state.regPage = 1;
    loadRegistrations();
  });
  setInterval(() => {
    if (document.visibilityState === "visible") loadTimeline();
  }, 60000);
}

onLangChange(() => {
  if (state.event) renderHeader();
  if (state.gate) renderGate();
  if (!state.event || $("#dashboard").hidden) return;
  fillDays();
  renderRegistrations();
  renderTimeline();
  renderReminders();
  renderReports();
  refreshMessages();
  if (state.live?.store.ready) renderPresence();
});

main();
