// What every page shares: the language switcher, translations of the static markup, the JSON API
// with problem documents, the screen-reader announcer and the connection indicator.

import { h, replaceChildren, $ } from "./dom.js";
import { LANGUAGES, getLang, setLang, t, onLangChange, localized } from "./i18n.js";

export { t, getLang, onLangChange, localized };

/** Fill every [data-i18n] element's text and [data-i18n-attr="attr:key;attr:key"] attributes. */
export function translateStatic(root = document) {
  document.documentElement.lang = getLang();
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of el.dataset.i18nAttr.split(";")) {
      const [attr, key] = pair.split(":");
      if (attr && key) el.setAttribute(attr.trim(), t(key.trim()));
    }
  }
  const title = document.body.dataset.titleKey;
  if (title) document.title = `${t(title)} – Parley`;
}

/** The language <select> in the header; changing it re-translates the page and calls listeners. */
export function mountLanguagePicker() {
  const select = $("#lang");
  if (!select) return;
  replaceChildren(
    select,
    ...LANGUAGES.map(([code, name]) => h("option", { value: code, lang: code, selected: code === getLang() }, name)),
  );
  select.addEventListener("change", () => setLang(select.value));
  onLangChange(() => {
    select.value = getLang();
    translateStatic();
  });
}

export function initPage() {
  mountLanguagePicker();
  translateStatic();
}

/** fetch JSON; resolves {ok, status, data} and never throws on an HTTP error (network errors → status 0). */
export async function api(path, { method = "GET", body } = {}) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    return { ok: false, status: 0, data: { detail: t("error.network"), code: "network" } };
  }
  let data = null;
  const type = response.headers.get("content-type") || "";
  if (type.includes("json")) {
    try {
      data = await response.json();
    } catch {
      data = null;
    }
  }
  return { ok: response.ok, status: response.status, data };
}

/** The message for a problem document: by its code when we know it, else the server's detail. */
export function problemText(result) {
  const code = result.data?.code;
  if (code && t(`problem.${code}`) !== `problem.${code}`) return t(`problem.${code}`);
  if (result.status === 0) return t("error.network");
  return result.data?.detail || t("error.generic");
}

export async function whoAmI() {
  const result = await api("/api/me");
  return result.ok ? result.data : null;
}

export function signOutButton() {
  return h(
    "button",
    {
      type: "button",
      class: "secondary small",
      onclick: async () => {
        await api("/api/auth/logout", { method: "POST" });
        location.reload();
      },
    },
    t("signout"),
  );
}

/** The header of a staff page: the event's title, who is signed in, links to the other pages
 *  (the other staff page only when ``withOther``: the person's role there allows it). */
export function renderStaffHeader(event, me, slug, otherPage, withOther = true) {
  const [title, lang] = localized(event.title);
  const name = $("#event-name");
  name.textContent = title;
  name.lang = lang;
  if (!me || me.kind !== "staff") {
    replaceChildren($("#whoami"));
    return;
  }
  const to = (page) => `/${page}/${encodeURIComponent(slug)}`;
  replaceChildren($("#whoami"), h("span", {}, t("signed_in_as", { name: me.name })),
    h("a", { href: to("events") }, t("nav.attendee")),
    withOther ? h("a", { href: to(otherPage) }, t(otherPage === "moderate" ? "nav.moderate" : "nav.organise")) : null, signOutButton());
}

/** Hide a staff page's main part behind a message (not found, not allowed, signed out), with an
 *  optional sign-in link and other links (``links``: elements shown after the message). */
export function showGate(mainSelector, text, withSignIn = false, links = []) {
  const el = $("#gate");
  el.hidden = false;
  $(mainSelector).hidden = true;
  const signIn = h("a", { href: `/login?next=${encodeURIComponent(location.pathname)}` }, t("login.heading"));
  const more = [...(withSignIn ? [signIn] : []), ...links];
  replaceChildren(el, text, more.length ? h("span", { class: "gate-links" }, more.map((a, i) => [i ? " · " : " ", a])) : null);
}

/** The role ``me`` has in the event ``slug`` of ``events`` (GET /api/events): "organiser",
 *  "moderator", "attendee" or null; undefined when it cannot be told (the list did not load). */
export function roleIn(me, events, slug) {
  if (!me) return null;
  const event = events?.find((e) => e.slug === slug);
  if (!event || event.id === undefined) return events ? null : undefined;
  if (me.kind === "attendee") return me.event_id === event.id ? "attendee" : null;
  const roles = (me.roles || []).filter((r) => r.event_id === event.id).map((r) => r.role);
  if (roles.includes("organiser")) return "organiser";
  return roles.includes("moderator") ? "moderator" : null;
}

/** Who is signed in, every event, and their role in ``slug``: decided before any socket opens.
 *  The role is undefined when it cannot be told (the server unreachable, say). */
export async function accessTo(slug) {
  const [mine, list] = await Promise.all([api("/api/me"), api("/api/events")]);
  const me = mine.ok ? mine.data : null;
  const events = list.ok ? list.data.events : null;
  const known = (mine.ok || mine.status === 401) && events;
  return { me, events, role: known ? roleIn(me, events, slug) : undefined };
}

/** Open a staff page: load the event and decide the access before any socket is opened (a
 *  socket without a role is refused at the handshake). Returns { event, me, events, role } and,
 *  when the page must not open, `gate`: [message key, offer sign-in]; `refused` is the key for a
 *  signed-in person without one of `allowedRoles` (an unknown role lets the server decide). */
export async function openStaffPage(slug, allowedRoles, refused) {
  const result = await api(`/api/events/${encodeURIComponent(slug)}`);
  if (!result.ok) return { gate: ["event.not_found", false] };
  const { me, events, role } = await accessTo(slug);
  const access = { event: result.data, me, events, role };
  if (!me) return { ...access, gate: ["gate.sign_in", true] };
  if (me.kind !== "staff" || !(role === undefined || allowedRoles.has(role))) return { ...access, gate: [refused, false] };
  return access;
}

/** For an open staff page whose socket was refused or closed: the new access when the person has
 *  lost every one of `allowedRoles` in the event (or signed out), else null (still allowed, or
 *  unknown: the server decides). */
export async function lostStaffAccess(slug, allowedRoles) {
  const access = await accessTo(slug);
  return access.role === undefined || (access.me && allowedRoles.has(access.role)) ? null : access;
}

/** Where a signed-in person can go instead: each console of a staff member's events, an
 *  attendee's event page. Links, in the page's language. */
export function placesOf(me, events) {
  if (!me || !events) return [];
  const to = (page, e) => `/${page}/${encodeURIComponent(e.slug)}`;
  return events.flatMap((e) => {
    const role = roleIn(me, events, e.slug);
    const [title, lang] = localized(e.title);
    // events copied from one another share a title: their first day tells them apart
    const first = e.first_day ? ` (${formatDate(e.first_day, "UTC", { day: "numeric", month: "short", year: "numeric" })})` : "";
    const label = (key) => [`${t(key)} – `, h("span", { lang }, title), first];
    if (role === "attendee") return [h("a", { href: to("events", e) }, label("nav.attendee"))];
    if (role === "organiser") return [h("a", { href: to("organise", e) }, label("nav.organise")), h("a", { href: to("moderate", e) }, label("nav.moderate"))];
    if (role === "moderator") return [h("a", { href: to("moderate", e) }, label("nav.moderate"))];
    return [];
  });
}

/** Polite (or assertive) announcements for screen readers, through one live region each. */
export function announce(text, { assertive = false } = {}) {
  const region = $(assertive ? "#alerts" : "#announcer");
  if (!region) return;
  // clear then set, so the same text twice is announced twice
  region.textContent = "";
  setTimeout(() => {
    region.textContent = text;
  }, 50);
}

/** The always-visible connection indicator. */
export function showConnection(status, detail = {}) {
  const el = $("#conn");
  if (!el) return;
  el.dataset.state = status;
  let text = t(`conn.${status}`);
  if (status === "reconnecting" && detail.retryInMs) {
    text = t("conn.retry", { seconds: Math.max(1, Math.round(detail.retryInMs / 1000)) });
  }
  if (status === "closed" && detail.reason) text = t(`conn.closed.${detail.reason}`);
  replaceChildren(el, h("span", { class: "dot", "aria-hidden": "true" }), text);
}

/** A safe local path to go back to after signing in (never another origin). */
export function safeNext(fallback = "/") {
  const next = new URLSearchParams(location.search).get("next");
  return next && next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/\\") ? next : fallback;
}

export function slugFromPath() {
  const parts = location.pathname.split("/").filter(Boolean);
  return decodeURIComponent(parts[1] || "");
}

/** A date-time in a given time zone and the page's language. */
export function formatTime(iso, timeZone, options = { hour: "2-digit", minute: "2-digit" }) {
  return new Intl.DateTimeFormat(getLang(), { ...options, timeZone }).format(new Date(iso));
}

export function formatDate(isoOrDate, timeZone, options = { weekday: "long", day: "numeric", month: "long", year: "numeric" }) {
  const date = typeof isoOrDate === "string" && isoOrDate.length === 10 ? new Date(`${isoOrDate}T12:00:00Z`) : new Date(isoOrDate);
  return new Intl.DateTimeFormat(getLang(), { ...options, timeZone: timeZone || "UTC" }).format(date);
}

export function formatNumber(n) {
  return new Intl.NumberFormat(getLang()).format(n);
}

/** Minutes east of UTC of ``timeZone`` at ``date``. */
export function offsetMinutes(timeZone, date) {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
  }).formatToParts(date);
  const get = (type) => Number(parts.find((p) => p.type === type).value);
  const asUtc = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour") % 24, get("minute"));
  return Math.round((asUtc - Math.floor(date.getTime() / 60000) * 60000) / 60000);
}

export function browserTimeZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

/** "UTC−5", "UTC+5:30" */
export function utcLabel(minutes) {
  const sign = minutes < 0 ? "−" : "+";
  const abs = Math.abs(minutes);
  const hours = Math.floor(abs / 60);
  const rest = abs % 60;
  return `UTC${sign}${hours}${rest ? `:${String(rest).padStart(2, "0")}` : ""}`;
}

/** A drift in seconds as words: "12 min late", "3 days 2 h late", "on time". */
export function driftText(seconds) {
  const abs = Math.abs(seconds);
  if (abs < 60) return t("drift.on_time");
  const minutes = Math.round(abs / 60);
  let amount;
  if (minutes < 60) amount = t("unit.min", { n: minutes });
  else if (minutes < 60 * 48) amount = t("unit.h_min", { h: Math.floor(minutes / 60), m: minutes % 60 });
  else amount = t("unit.days", { n: formatNumber(Math.floor(minutes / 1440)) });
  return t(seconds > 0 ? "drift.late" : "drift.early", { amount });
}
