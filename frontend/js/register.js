// The registration form of the attendee page: field errors next to their fields, then the
// personal join link (which the attendee can use at once).

import { h, replaceChildren, $ } from "./dom.js";
import { api, t, problemText, browserTimeZone, getLang } from "./page.js";
import { INTERFACE_LANGUAGES } from "./languages.js";

export const CATEGORIES = ["member_state", "un_system", "intergovernmental", "civil_society", "academia", "media", "other"];
const FIELD_IDS = { name: "reg-name", email: "reg-email", organisation: "reg-org", category: "reg-category", country: "reg-country", language: "reg-language" };

function fillSelects(form) {
  const category = $("#reg-category", form);
  const current = category.value;
  replaceChildren(
    category,
    h("option", { value: "" }, t("register.choose")),
    ...CATEGORIES.map((c) => h("option", { value: c }, t(`category.${c}`))),
  );
  category.value = current;
  const language = $("#reg-language", form);
  const lang = language.value || getLang();
  replaceChildren(language, ...INTERFACE_LANGUAGES.map((code) => h("option", { value: code, lang: code }, t(`lang.${code}`))));
  language.value = lang;
}

function fieldError(form, field, message) {
  const input = $(`#${FIELD_IDS[field]}`, form);
  if (!input) return false;
  const id = `${input.id}-error`;
  let el = document.getElementById(id);
  if (!el) {
    el = h("p", { id, class: "error field-error" });
    input.after(el);
  }
  el.textContent = message;
  input.setAttribute("aria-invalid", "true");
  input.setAttribute("aria-describedby", id);
  return true;
}

function clearErrors(form) {
  for (const el of form.querySelectorAll(".field-error")) el.remove();
  for (const el of form.querySelectorAll("[aria-invalid]")) {
    el.removeAttribute("aria-invalid");
    el.removeAttribute("aria-describedby");
  }
}

function checkLocally(form, body) {
  let first = null;
  const mark = (field, key) => {
    fieldError(form, field, t(key));
    first = first || $(`#${FIELD_IDS[field]}`, form);
  };
  if (!body.name) mark("name", "register.need_name");
  if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(body.email)) mark("email", "register.need_email");
  if (!body.category) mark("category", "register.need_category");
  return first;
}

export function renderRegistration(form, slug, { refresh = false } = {}) {
  fillSelects(form);
  if (refresh || form.dataset.ready) return;
  form.dataset.ready = "1";
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors(form);
    const result = $("#register-result", form);
    replaceChildren(result);
    const body = {
      name: $("#reg-name", form).value.trim(),
      email: $("#reg-email", form).value.trim(),
      organisation: $("#reg-org", form).value.trim(),
      category: $("#reg-category", form).value,
      country: $("#reg-country", form).value.trim(),
      language: $("#reg-language", form).value,
      listed: $("#reg-listed", form).checked,
      timezone: browserTimeZone(),
    };
    const invalid = checkLocally(form, body);
    if (invalid) {
      invalid.focus();
      return;
    }
    const response = await api(`/api/events/${encodeURIComponent(slug)}/registrations`, { method: "POST", body });
    if (!response.ok) {
      let first = null;
      for (const err of response.data?.errors || []) {
        const field = String(err.field).split(".")[0];
        if (fieldError(form, field, err.message)) first = first || $(`#${FIELD_IDS[field]}`, form);
      }
      if (response.status === 409) {
        fieldError(form, "email", t("problem.already_registered"));
        first = first || $("#reg-email", form);
      }
      replaceChildren(result, h("p", { class: "error", role: "alert" }, problemText(response)));
      if (first) first.focus();
      return;
    }
    const joinUrl = response.data.join_url;
    const token = joinUrl.split("/").pop();
    replaceChildren(
      result,
      h("div", { class: "success", role: "status" },
        h("p", {}, h("strong", {}, t("register.done", { name: response.data.name }))),
        h("p", {}, t("register.link_intro")),
        h("p", { class: "link" }, h("a", { href: new URL(joinUrl).pathname, id: "join-link" }, joinUrl)),
        h("button", {
          type: "button",
          id: "join-now",
          onclick: async () => {
            const joined = await api("/api/join", { method: "POST", body: { token } });
            if (joined.ok) location.reload();
            else replaceChildren(result, h("p", { class: "error", role: "alert" }, problemText(joined)));
          },
        }, t("register.join_now")),
      ),
    );
    $("#join-now").focus();
  });
}
