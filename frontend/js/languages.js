// Which language to use: the interface languages and the fallback order are data
// (frontend/i18n/languages.json), and the rule is the server's (server/core/languages.py).
// tests/test_i18n.py runs both on the same inputs.
//
// 1. the first wanted language that is available, matched exactly (pt-BR) or by its primary
//    language (fr-CA wants fr), without regard to case;
// 2. else the first language of the fallback order that is available;
// 3. else the first available language (a programme text's first language is its event's first);
// 4. else null: nothing is available.

import config from "../i18n/languages.json" with { type: "json" };

/** [code, name in that language] of each interface language, in the order the picker shows them. */
export const LANGUAGES = config.interface;
export const INTERFACE_LANGUAGES = LANGUAGES.map(([code]) => code);
export const FALLBACK = config.fallback;

/** The language of ``available`` to use for someone who wants ``wanted`` (most wanted first),
 *  spelled as in ``available``; null when ``available`` is empty. */
export function pickLanguage(wanted, available) {
  if (typeof wanted === "string") wanted = [wanted];
  const have = [...available].filter(Boolean);
  const byTag = new Map();
  for (const code of have) if (!byTag.has(code.toLowerCase())) byTag.set(code.toLowerCase(), code);
  for (let tag of wanted) {
    if (!tag) continue;
    tag = String(tag).toLowerCase();
    const found = byTag.get(tag) || byTag.get(tag.split("-")[0]);
    if (found) return found;
  }
  for (const code of FALLBACK) {
    if (byTag.has(code.toLowerCase())) return byTag.get(code.toLowerCase());
  }
  return have.length ? have[0] : null;
}

/** A text given in several languages ({fr: ..., en: ...}) in the language to use, and that
 *  language: [text, code]; ["", null] when no language has a text. */
export function pickText(texts, wanted) {
  const entries = Object.entries(texts || {});
  const code = pickLanguage(wanted, entries.filter(([, v]) => v).map(([k]) => k));
  return code === null ? ["", null] : [String(texts[code]), code];
}
