// Long tables of the dashboard, a page at a time: the rows of the current page, and a pager of plain
// buttons (Tab and Enter or Space, as any button) that says where you are. Changing page keeps the
// focus on the pager and announces the rows now shown. On narrow screens the tables marked
// `table.stacked` show each row as a small card (parley.css); `labelCells` gives every cell the
// name of its column for that.

import { h, replaceChildren } from "./dom.js";
import { t, announce, formatNumber } from "./page.js";

export const PAGE_SIZE = 50;
const OPPOSITE = { first: "last", previous: "next", next: "previous", last: "first" };

/** The page to show (1-based, kept within range) and its rows. */
export function pageOf(rows, page, size = PAGE_SIZE) {
  const pages = Math.max(1, Math.ceil(rows.length / size));
  const current = Math.min(Math.max(1, page || 1), pages);
  return { page: current, pages, rows: rows.slice((current - 1) * size, current * size), first: (current - 1) * size + 1 };
}

/**
 * Fill ``box`` with the pager of ``view`` (from pageOf) over ``total`` rows, or empty it when one page
 * holds them all. ``go(page)`` re-renders; the button pressed keeps the focus (or its neighbour, when
 * it is disabled at the first or last page). ``label`` names the table ("Registrations").
 */
export function renderPager(box, view, total, go, label) {
  if (view.pages <= 1) {
    replaceChildren(box);
    box.hidden = true;
    return;
  }
  box.hidden = false;
  const last = Math.min(view.first + view.rows.length - 1, total);
  const where = t("pager.rows", { from: formatNumber(view.first), to: formatNumber(last), n: formatNumber(total) });
  const move = (page, key) => {
    go(page);
    // at the first or last page the button pressed is disabled: its counterpart takes the focus
    const again = [key, OPPOSITE[key]].map((k) => box.querySelector(`[data-fkey="${k}"]:not([disabled])`)).find(Boolean);
    again?.focus();
    announce(box.querySelector(".pager-status")?.textContent || "");
  };
  const button = (key, text, page, disabled) =>
    h("button", { type: "button", class: "small secondary", dataset: { fkey: key }, disabled, onclick: () => move(page, key) }, text);
  replaceChildren(
    box,
    h("nav", { class: "pager", "aria-label": t("pager.label", { table: label }) },
      button("first", t("pager.first"), 1, view.page === 1),
      button("previous", t("pager.previous"), view.page - 1, view.page === 1),
      h("span", { class: "pager-status" }, t("pager.page", { page: formatNumber(view.page), pages: formatNumber(view.pages) }), " · ", where),
      button("next", t("pager.next"), view.page + 1, view.page === view.pages),
      button("last", t("pager.last"), view.pages, view.page === view.pages),
    ),
  );
}

/** An email address that may break before its "@" (and nowhere else) when its column is narrow. */
export function breakableEmail(email) {
  const at = String(email).lastIndexOf("@");
  return at > 0 ? [email.slice(0, at), h("wbr"), email.slice(at)] : [email];
}

/** Give each cell of ``table``'s body the text of its column's header (shown beside it when stacked). */
export function labelCells(table) {
  const headers = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
  for (const row of table.querySelectorAll("tbody tr")) {
    [...row.children].forEach((cell, i) => {
      if (headers[i] && !cell.hasAttribute("colspan")) cell.dataset.label = headers[i];
    });
  }
}
