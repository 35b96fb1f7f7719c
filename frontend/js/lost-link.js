// "I lost my link" on the event page: the personal join link is mailed again to a registered
// address. The server answers the same for every address, so the page does too.

import { h, replaceChildren, $ } from "./dom.js";
import { api, t, problemText } from "./page.js";

export function renderLostLink(form, slug) {
  if (form.dataset.ready) return;
  form.dataset.ready = "1";
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const input = $("#lost-email", form);
    const result = $("#lost-result", form);
    const email = input.value.trim();
    replaceChildren(result);
    input.removeAttribute("aria-invalid");
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) {
      input.setAttribute("aria-invalid", "true");
      replaceChildren(result, h("p", { class: "error", role: "alert" }, t("register.need_email")));
      input.focus();
      return;
    }
    const button = $("button[type=submit]", form);
    button.disabled = true;
    const response = await api(`/api/events/${encodeURIComponent(slug)}/lost-link`, { method: "POST", body: { email } });
    button.disabled = false;
    if (response.ok) {
      replaceChildren(result, h("p", { class: "success", role: "status" }, t("lost.sent", { email })));
    } else if (response.status === 429) {
      replaceChildren(result, h("p", { class: "error", role: "alert" }, t("lost.throttled")));
    } else {
      replaceChildren(result, h("p", { class: "error", role: "alert" }, problemText(response)));
    }
  });
}
