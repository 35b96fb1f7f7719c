// Certificates of attendance: the attendee's own (event page) and the organisers' section
// (dashboard). The certificates are issued by the worker once a morning is over (docs/certificates.md);
// these views list them, download them, and ask for an issue now.

import { h, replaceChildren } from "./dom.js";
import { api, t, onLangChange, formatDate, formatTime, formatNumber, problemText, announce } from "./page.js";

const base = (slug) => `/api/events/${encodeURIComponent(slug)}/certificates`;

function daysText(first, last) {
  const day = { day: "numeric", month: "long", year: "numeric" };
  return first === last ? formatDate(first, "UTC", day) : t("cert.dates", { first: formatDate(first, "UTC", day), last: formatDate(last, "UTC", day) });
}

function scopeText(certificate) {
  return certificate.kind === "event"
    ? t("cert.whole_event", { dates: daysText(certificate.first_day, certificate.last_day) })
    : t("cert.morning", { date: daysText(certificate.first_day, certificate.last_day) });
}

// -- the attendee's own (event page) -------------------------------------------------------------------

/** Show ``section`` with the signed-in attendee's certificates of ``slug``, kept in the page's language
 *  (left hidden for an attendee of another event). */
export async function mountOwnCertificates(section, slug) {
  const body = section.querySelector(".cert-body");
  const result = await api(`${base(slug)}/mine`);
  if (result.status === 403) return; // an attendee of another event: nothing to show here
  const render = () => {
    if (!result.ok) {
      replaceChildren(body, h("p", { class: "error" }, problemText(result)));
      return;
    }
    const mine = result.data.certificates || [];
    if (!mine.length) {
      replaceChildren(body, h("p", { class: "muted", id: "cert-none" }, t("cert.none_yet")));
      return;
    }
    replaceChildren(body, h("ul", { class: "certificates" }, mine.map((c) => {
      const what = scopeText(c);
      return h("li", { class: "certificate" },
        h("p", {}, h("strong", {}, what), " · ", t("cert.minutes", { n: formatNumber(c.minutes) })),
        h("p", { class: "row" },
          h("a", { href: c.url, class: "button small", download: "", "aria-label": t("cert.download_label", { what }) }, t("cert.download")),
          h("span", { class: "muted" }, t("cert.code", { code: c.code }), " "),
          h("a", { href: `/verify/${encodeURIComponent(c.code)}` }, t("cert.verify_link"))));
    })));
  };
  section.hidden = false;
  render();
  onLangChange(render);
}

// -- the organisers' section (dashboard) -------------------------------------------------------------

/** The organisers' certificates: per morning and for the event, how many, issue now, the zip. */
export async function mountOrganiserCertificates(box, slug, event) {
  const state = { result: null, issuing: new Set() };
  const load = async () => {
    state.result = await api(base(slug));
    render();
  };
  const scopeLabel = (scope) => (scope === "event"
    ? t("cert.whole_event", { dates: daysText(event.days[0].date, event.days[event.days.length - 1].date) })
    : t("cert.morning", { date: daysText(scope, scope) }));

  const issue = async (scope) => {
    const before = state.result?.data?.scopes?.find((s) => s.scope === scope)?.issued_at;
    state.issuing.add(scope);
    render();
    const sent = await api(base(slug), { method: "POST", body: { scope } });
    if (!sent.ok) {
      state.issuing.delete(scope);
      render();
      announce(problemText(sent), { assertive: true });
      return;
    }
    announce(t("cert.issue_started", { scope: scopeLabel(scope) }));
    for (let i = 0; i < 60; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 2000));
      state.result = await api(base(slug));
      const now = state.result?.data?.scopes?.find((s) => s.scope === scope)?.issued_at;
      if (now && now !== before) break;
    }
    state.issuing.delete(scope);
    render();
    announce(t("cert.issue_done", { scope: scopeLabel(scope) }));
  };

  function render() {
    const result = state.result;
    if (!result) return;
    if (!result.ok) {
      replaceChildren(box, h("p", { class: result.status === 404 && result.data?.code !== "event_not_found" ? "muted" : "error" },
        result.status === 404 && result.data?.code !== "event_not_found" ? t("org.not_available") : problemText(result)));
      return;
    }
    const issued = result.data.scopes || [];
    const scopes = [...event.days.map((d) => d.date), "event"];
    const zip = result.data.zip;
    replaceChildren(box,
      h("p", { class: "help" }, t("cert.organiser_help")),
      h("ul", { class: "reports certificates" }, scopes.map((scope) => {
        const batch = issued.find((b) => b.scope === scope);
        const busy = state.issuing.has(scope);
        const label = scopeLabel(scope);
        return h("li", { class: "report" },
          h("p", { class: "report-scope" }, h("strong", {}, label)),
          h("p", { class: "muted" }, batch
            ? t("cert.issued", { n: batch.count, time: formatTime(batch.issued_at, event.timezone, { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" }) })
            : t("cert.not_issued")),
          h("button", { type: "button", class: "small", disabled: busy, "aria-label": t("cert.issue_label", { scope: label }), onclick: () => issue(scope) },
            busy ? t("cert.issuing") : t("cert.issue")));
      })),
      zip && result.data.total > 0
        ? h("p", {}, h("a", { href: zip.url, class: "button secondary", download: "", id: "cert-zip" }, t("cert.download_all", { n: result.data.total })))
        : h("p", { class: "muted" }, t("cert.no_zip")));
  }

  onLangChange(render);
  await load();
}
