// The public verification page (/verify and /verify/{code}): anyone checks that a certificate of
// attendance is genuine. It shows only what the certificate itself prints.

import { h, replaceChildren, $ } from "./dom.js";
import { initPage, api, t, onLangChange, formatDate, formatNumber, problemText } from "./page.js";

initPage();
const code = decodeURIComponent(location.pathname.replace(/^\/verify\/?/, "")).trim();
let result = null;

function daysText(first, last) {
  const day = { day: "numeric", month: "long", year: "numeric" };
  return first === last ? formatDate(first, "UTC", day) : t("cert.dates", { first: formatDate(first, "UTC", day), last: formatDate(last, "UTC", day) });
}

function render() {
  const box = $("#verify-result");
  if (!code) {
    replaceChildren(box);
    return;
  }
  if (!result) {
    replaceChildren(box, h("p", { class: "muted" }, t("loading")));
    return;
  }
  if (result.ok) {
    const c = result.data;
    const what = c.kind === "event" ? t("verify.kind_event") : t("verify.kind_morning");
    replaceChildren(box,
      h("p", { class: "verdict genuine", id: "verdict" }, h("strong", {}, t("verify.genuine"))),
      h("dl", { class: "facts" },
        h("dt", {}, t("verify.name")), h("dd", {}, c.name),
        c.organisation ? [h("dt", {}, t("verify.organisation")), h("dd", {}, c.organisation)] : null,
        h("dt", {}, t("verify.event")), h("dd", { lang: c.language }, c.event),
        h("dt", {}, what), h("dd", {}, daysText(c.first_day, c.last_day)),
        h("dt", {}, t("verify.minutes")), h("dd", {}, formatNumber(c.minutes)),
        h("dt", {}, t("verify.code")), h("dd", {}, c.code)));
    return;
  }
  const text = result.status === 404 ? t("verify.not_genuine") : problemText(result);
  replaceChildren(box, h("p", { class: "verdict not-genuine", id: "verdict" }, h("strong", {}, text)),
    result.status === 404 ? h("p", { class: "help" }, t("verify.check_typing")) : null);
}

async function main() {
  const input = $("#verify-code");
  input.value = code;
  $("#verify-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const typed = input.value.trim();
    if (typed) location.assign(`/verify/${encodeURIComponent(typed)}`);
  });
  onLangChange(render);
  render();
  if (code) {
    result = await api(`/verify/${encodeURIComponent(code)}`);
    render();
  }
}

main();
