// The small pages: the events list (/), a personal join link (/join/{token}), a one-time staff
// link (/signin/{token}) and the staff sign-in form (/login). A GET never signs anybody in: each
// page POSTs only when its button is pressed.

import { h, replaceChildren, $ } from "./dom.js";
import { initPage, api, t, onLangChange, localized, whoAmI, problemText, safeNext, formatDate, signOutButton, roleIn } from "./page.js";

initPage();
const page = document.body.dataset.page;
const tokenFromPath = () => decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "");

/** Where a signed-in staff member goes: the console of their event when they have a role in
 *  exactly one (the dashboard for an organiser), else the list of events. */
async function staffLanding() {
  const [me, events] = await Promise.all([whoAmI(), api("/api/events")]);
  const list = events.ok ? events.data.events : [];
  const ids = new Set((me?.roles || []).map((r) => r.event_id));
  const event = ids.size === 1 ? list.find((e) => ids.has(e.id)) : null;
  if (!event) return "/";
  const page = roleIn(me, list, event.slug) === "organiser" ? "organise" : "moderate";
  return `/${page}/${encodeURIComponent(event.slug)}`;
}

async function home() {
  const [events, me] = await Promise.all([api("/api/events"), whoAmI()]);
  const render = () => {
    const staff = me && me.kind === "staff";
    replaceChildren($("#whoami"), me ? [h("span", {}, t("signed_in_as", { name: me.name })), signOutButton()] : h("a", { href: "/login" }, t("login.staff_link")));
    if (!events.ok) {
      replaceChildren($("#events"), h("li", { class: "error" }, problemText(events)));
      return;
    }
    replaceChildren(
      $("#events"),
      ...events.data.events.map((event) => {
        const [title, lang] = localized(event.title);
        const slug = encodeURIComponent(event.slug);
        // a staff member's consoles: the ones of their role in this event, if any
        const role = staff ? roleIn(me, events.data.events, event.slug) : null;
        return h("li", { class: "card event-card" },
          h("h2", {}, h("a", { href: `/events/${slug}`, lang }, title)),
          h("p", { class: "muted" }, t("event.dates", { first: formatDate(event.first_day, "UTC"), last: formatDate(event.last_day, "UTC") })),
          role === "organiser" || role === "moderator" ? h("p", { class: "actions" },
            h("a", { class: "button small", href: `/moderate/${slug}` }, t("nav.moderate")),
            role === "organiser" ? h("a", { class: "button small secondary", href: `/organise/${slug}` }, t("nav.organise")) : null) : null,
        );
      }),
    );
  };
  render();
  onLangChange(render);
}

async function join() {
  const token = tokenFromPath();
  const who = $("#who");
  const form = $("#join");
  const peek = await api("/api/join/peek", { method: "POST", body: { token } });
  delete who.dataset.i18n; // from now on the page writes this line itself
  let info = null;
  const render = () => {
    if (info) {
      replaceChildren(who, t("join.for", { name: info.name }), " ", h("strong", { lang: localized(info.event_title)[1] }, localized(info.event_title)[0]));
    } else {
      replaceChildren(who, h("span", { class: "error" }, peek.status === 401 ? t("join.invalid") : problemText(peek)));
    }
  };
  if (peek.ok) {
    info = peek.data;
    form.hidden = false;
  }
  render();
  onLangChange(render);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const result = await api("/api/join", { method: "POST", body: { token } });
    if (result.ok) location.assign(`/events/${encodeURIComponent(info.event)}`);
    else replaceChildren(who, h("span", { class: "error", role: "alert" }, problemText(result)));
  });
}

async function signin() {
  const token = tokenFromPath();
  const who = $("#who");
  $("#join").addEventListener("submit", async (e) => {
    e.preventDefault();
    const result = await api("/api/auth/link", { method: "POST", body: { token } });
    if (result.ok) {
      location.assign(await staffLanding());
      return;
    }
    delete who.dataset.i18n;
    replaceChildren(who, h("span", { class: "error", role: "alert" }, result.status === 401 ? t("signin.invalid") : problemText(result)));
  });
}

async function login() {
  const form = $("#login-form");
  const error = $("#login-error");
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.textContent = "";
    const email = $("#login-email").value.trim();
    const password = $("#login-password").value;
    if (!email || !password) {
      error.textContent = t("login.missing");
      (email ? $("#login-password") : $("#login-email")).focus();
      return;
    }
    const result = await api("/api/auth/login", { method: "POST", body: { email, password } });
    if (result.ok) {
      const next = safeNext("");
      location.assign(next || (await staffLanding()));
    } else {
      error.textContent = result.status === 401 ? t("login.failed") : problemText(result);
      $("#login-password").focus();
    }
  });
}

({ home, join, signin, login })[page]?.();
