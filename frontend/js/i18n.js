// Interface strings in English, French and Spanish: the logic. The strings are data, one catalogue
// per language in frontend/i18n/<code>.json (docs/i18n.md). The language defaults to the browser's
// and can be switched on every page (remembered in localStorage). Only the current language's
// catalogue is loaded, before any page module runs (top-level await), so a page never renders a
// key instead of its text. tests/test_i18n.py checks that the catalogues have the same keys and
// placeholders, and that every key the pages use exists.

import { LANGUAGES, INTERFACE_LANGUAGES, pickLanguage, pickText } from "./languages.js";

export { LANGUAGES, pickLanguage };
const STORAGE_KEY = "parley.lang";

const catalogues = new Map();

/** The catalogue of ``code``, loaded once (a JSON module: the policy's script-src 'self' allows it). */
async function load(code) {
  if (!catalogues.has(code)) {
    const module = await import(`../i18n/${code}.json`, { with: { type: "json" } });
    catalogues.set(code, module.default);
  }
  return catalogues.get(code);
}

function storage() {
  try {
    return typeof localStorage === "undefined" ? null : localStorage;
  } catch {
    return null;
  }
}

/** The interface language for the browser's languages (the shared fallback order after them). */
export function browserLanguage(languages = typeof navigator === "undefined" ? [] : navigator.languages || [navigator.language]) {
  return pickLanguage(languages, INTERFACE_LANGUAGES);
}

let current = (() => {
  const saved = storage()?.getItem(STORAGE_KEY);
  return INTERFACE_LANGUAGES.includes(saved) ? saved : browserLanguage();
})();
await load(current);
let wanted = current; // the last language asked for: a slower earlier load must not win
const listeners = new Set();

export function getLang() {
  return current;
}

/** Switch the interface to ``code`` once its catalogue is loaded; listeners are told after. */
export async function setLang(code) {
  if (!INTERFACE_LANGUAGES.includes(code)) return;
  wanted = code;
  storage()?.setItem(STORAGE_KEY, code);
  await load(code);
  if (wanted !== code || code === current) return;
  current = code;
  for (const listener of listeners) listener(code);
}

export function onLangChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The string for ``key`` in the current language, with {name} placeholders filled. A key missing
 *  from the catalogue shows as itself (tests/test_i18n.py keeps that from shipping). */
export function t(key, params = {}) {
  const strings = catalogues.get(current);
  let text = strings[key] ?? key;
  if (typeof params.n === "number" && new Intl.PluralRules(current).select(params.n) === "one") {
    text = strings[`${key}.one`] ?? text; // "1 vote", "1 inscription"
  }
  return text.replace(/\{(\w+)\}/g, (match, name) => (name in params ? String(params[name]) : match));
}

/** A programme text {fr, en, ...} in the current language: [text, the language it is in]. */
export function localized(texts) {
  const [text, code] = pickText(texts, [current]);
  return [text, code ?? current];
}
