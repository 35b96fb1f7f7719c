// Building DOM without innerHTML: every string becomes a text node, so user text is never HTML.

/**
 * h("button", {class: "x", onclick: fn, "aria-pressed": "true"}, "Vote", child, ...)
 * Attributes: `class`, `dataset` (object), `on*` (listeners), `text`, booleans (true → present,
 * false/null → absent); everything else is set with setAttribute (never an `on*` string).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "value") el.value = value;
    else if (key === "checked") el.checked = Boolean(value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.append(child);
    else el.append(document.createTextNode(String(child)));
  }
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

export function replaceChildren(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

/**
 * Keep keyboard focus across a re-render: the focused element is found again by the `data-key`
 * of its closest keyed ancestor and its own `data-fkey` (or, failing that, the keyed item itself).
 */
export function keepFocus(root, render) {
  const active = document.activeElement;
  let key = null;
  let fkey = null;
  let index = -1;
  const inside = Boolean(active && root.contains(active) && active !== root);
  if (inside) {
    const item = active.closest("[data-key]");
    key = item ? item.dataset.key : null;
    index = item ? [...item.parentElement.children].indexOf(item) : -1;
    fkey = active.dataset ? active.dataset.fkey || null : null;
  }
  render();
  if (!inside) return;
  if (active.isConnected) {
    if (document.activeElement !== active) active.focus();
    return;
  }
  const items = [...root.querySelectorAll("[data-key]")];
  const item = items.find((el) => el.dataset.key === key);
  if (!item) {
    // the focused item left the list: focus its neighbour, else the list's focusable container
    const neighbour = items[Math.min(Math.max(index, 0), items.length - 1)];
    const target = neighbour?.querySelector("button:not([disabled]), [tabindex]") || root.closest("[tabindex]");
    if (target) target.focus();
    return;
  }
  const target = (fkey && [...item.querySelectorAll("[data-fkey]")].find((el) => el.dataset.fkey === fkey)) || item;
  if (!target.hasAttribute("tabindex") && !/^(BUTTON|A|INPUT|SELECT|TEXTAREA)$/.test(target.tagName)) {
    target.setAttribute("tabindex", "-1");
  }
  target.focus();
}

/**
 * Make ``container``'s children the rendered ``items``, reusing the element of an item whose
 * signature is unchanged (so focus and text selection survive updates of other items).
 */
export function patchList(container, items, keyOf, render, signatureOf = (item) => JSON.stringify(item)) {
  keepFocus(container, () => {
    const existing = new Map();
    for (const child of [...container.children]) {
      if (child.dataset.key !== undefined) existing.set(child.dataset.key, child);
    }
    const wanted = [];
    for (const item of items) {
      const key = String(keyOf(item));
      const sig = signatureOf(item);
      let el = existing.get(key);
      if (!el || el.dataset.sig !== sig) {
        el = render(item);
        el.dataset.key = key;
        el.dataset.sig = sig;
      }
      wanted.push(el);
    }
    const keep = new Set(wanted);
    for (const child of [...container.children]) if (!keep.has(child)) child.remove();
    wanted.forEach((el, index) => {
      if (container.children[index] !== el) container.insertBefore(el, container.children[index] || null);
    });
  });
}
