// Registering a delegation list from the dashboard: choose a CSV or XLSX file, see every row with its
// problems (line and column as the spreadsheet shows them), then register the valid rows at once.
// The file is sent as it is, twice: to preview, then to commit with the preview's sha256, so the
// server registers exactly the file that was shown (docs/http-api.md, "Bulk registration").

import { h, replaceChildren, $ } from "./dom.js";
import { t, announce, formatNumber, onLangChange } from "./page.js";
import { pageOf, renderPager, labelCells, breakableEmail } from "./pager.js";

const XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const FIELDS = ["name", "email", "organisation", "category", "country", "language"];
const FIELD_KEYS = {
  name: "register.name", email: "register.email", organisation: "register.organisation", category: "register.category",
  country: "register.country", language: "register.language", timezone: "import.field.timezone", listed: "import.field.listed",
};
// A row's problem by its code; the server's English words for a code not listed here.
const PROBLEM_KEYS = {
  missing_name: "import.problem.missing_name", missing_email: "import.problem.missing_email",
  invalid_email: "import.problem.invalid_email", missing_category: "import.problem.missing_category",
  unknown_category: "import.problem.unknown_category", unknown_language: "import.problem.unknown_language",
  unknown_timezone: "import.problem.unknown_timezone", invalid_listed: "import.problem.invalid_listed",
  too_long: "import.problem.too_long", formula: "import.problem.formula",
  duplicate_in_file: "import.problem.duplicate_in_file", already_registered: "import.problem.already_registered",
  invalid: "import.problem.invalid",
};
// The file's problem by its code; the server's detail (in English) follows, it names lines and columns.
const FILE_KEYS = {
  too_large: "import.file.too_large", unsupported_media_type: "import.file.unsupported_file",
  unsupported_file: "import.file.unsupported_file", unreadable_file: "import.file.unreadable_file",
  empty_file: "import.file.empty_file", too_many_rows: "import.file.too_many_rows",
  missing_columns: "import.file.missing_columns", duplicate_column: "import.file.duplicate_column",
  file_changed: "import.file.file_changed", import_conflict: "import.file.import_conflict",
};

const state = {
  base: "", file: null, preview: null, page: 1, onlyProblems: false, busy: false, outcome: null, onCommitted: null,
  leftOver: [], // after a commit: the rows it skipped, with the problems it found, to be fixed in the file
};

/** Wire the import form of organise.html; ``onCommitted`` reloads the registrations afterwards. */
export function setUpBulkImport(base, onCommitted) {
  Object.assign(state, { base, onCommitted });
  $("#import-form").addEventListener("submit", (e) => {
    e.preventDefault();
    preview();
  });
  $("#import-file").addEventListener("change", () => {
    state.file = $("#import-file").files[0] || null;
    state.preview = null;
    state.outcome = null;
    state.leftOver = [];
    render();
  });
  $("#import-only-problems").addEventListener("change", (e) => {
    state.onlyProblems = e.target.checked;
    state.page = 1;
    renderRows();
  });
  $("#import-commit").addEventListener("click", commit);
  onLangChange(render);
  render();
}

async function send(path) {
  const file = state.file;
  const type = /\.xlsx$/i.test(file.name) ? XLSX : "text/csv";
  try {
    const response = await fetch(path, { method: "POST", credentials: "same-origin", headers: { Accept: "application/json", "Content-Type": type }, body: file });
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    return { ok: response.ok, status: response.status, data };
  } catch {
    return { ok: false, status: 0, data: { code: "network" } };
  }
}

function busy(on) {
  state.busy = on;
  for (const id of ["#import-preview", "#import-commit"]) $(id).toggleAttribute("aria-busy", on);
  render();
}

async function preview() {
  if (!state.file || state.busy) return;
  state.outcome = null;
  state.leftOver = [];
  busy(true);
  const result = await send(`${state.base}/registrations/import/preview`);
  state.preview = result;
  state.page = 1;
  state.onlyProblems = false;
  $("#import-only-problems").checked = false;
  busy(false);
  announce(result.ok ? summaryText(result.data) : fileProblemText(result), { assertive: !result.ok });
}

async function commit() {
  const data = state.preview?.ok ? state.preview.data : null;
  if (!data || !data.valid || state.busy) return;
  busy(true);
  const result = await send(`${state.base}/registrations/import?sha256=${encodeURIComponent(data.sha256)}`);
  if (result.ok) {
    const skipped = new Map(result.data.skipped.map((row) => [row.line, row.problems]));
    state.leftOver = data.rows.filter((row) => skipped.has(row.line)).map((row) => ({ ...row, valid: false, problems: skipped.get(row.line) }));
    state.page = 1;
    state.preview = null;
    state.outcome = { ok: true, created: result.data.created.length, skipped: result.data.skipped.length };
    $("#import-file").value = "";
    state.file = null;
  } else {
    state.outcome = { ok: false, result };
  }
  busy(false);
  announce(outcomeText(), { assertive: !result.ok });
  if (result.ok) {
    $("#import-outcome").focus();
    await state.onCommitted?.();
  }
}

function summaryText(data) {
  return t("import.summary", { n: data.total, valid: formatNumber(data.valid), invalid: formatNumber(data.invalid) });
}

function fileProblemText(result) {
  const code = result.data?.code;
  if (code === "network" || result.status === 0) return t("error.network");
  const text = FILE_KEYS[code] ? t(FILE_KEYS[code]) : t("error.generic");
  return result.data?.detail ? `${text} (${result.data.detail})` : text;
}

function outcomeText() {
  const outcome = state.outcome;
  if (!outcome) return "";
  if (!outcome.ok) return fileProblemText(outcome.result);
  const done = t("import.done", { n: outcome.created });
  return outcome.skipped ? `${done} ${t("import.skipped", { n: outcome.skipped })}` : done;
}

function problemText(problem) {
  const key = PROBLEM_KEYS[problem.code];
  const text = key ? t(key, { line: problem.other_line ?? "" }) : problem.message;
  const field = FIELD_KEYS[problem.field] ? t(FIELD_KEYS[problem.field]) : problem.field;
  return problem.column ? t("import.at", { column: problem.column, field, problem: text }) : text;
}

function render() {
  const data = state.preview?.ok ? state.preview.data : null;
  $("#import-preview").disabled = !state.file || state.busy;
  const commitButton = $("#import-commit");
  commitButton.hidden = !data;
  commitButton.disabled = !data?.valid || state.busy;
  commitButton.textContent = data ? t("import.commit", { n: data.valid }) : "";
  $("#import-filter").hidden = !data?.invalid;
  const summary = $("#import-summary");
  summary.className = state.preview && !state.preview.ok ? "error" : "";
  replaceChildren(summary, !state.preview ? "" : data ? summaryText(data) : fileProblemText(state.preview));
  if (data?.ignored_columns?.length) summary.append(" ", t("import.ignored", { columns: data.ignored_columns.join(", ") }));
  const outcome = $("#import-outcome");
  outcome.className = !state.outcome ? "" : state.outcome.ok ? "success" : "error";
  outcome.textContent = outcomeText();
  renderRows();
}

function renderRows() {
  const data = state.preview?.ok ? state.preview.data : null;
  const wrap = $("#import-table-wrap");
  wrap.hidden = !data && !state.leftOver.length;
  if (wrap.hidden) {
    renderPager($("#import-pager"), pageOf([], 1), 0, () => {}, "");
    return;
  }
  const all = data ? data.rows : state.leftOver;
  const rows = data && state.onlyProblems ? all.filter((r) => !r.valid) : all;
  const view = pageOf(rows, state.page);
  state.page = view.page;
  const table = $("#import-table");
  replaceChildren(table.querySelector("tbody"), ...view.rows.map(rowElement));
  labelCells(table);
  renderPager($("#import-pager"), view, rows.length, (page) => {
    state.page = page;
    renderRows();
  }, t("import.title"));
}

function cellText(row, field) {
  const value = row.registration ? row.registration[field] : row.values[field];
  if (!value) return "";
  if (field === "category" && row.registration) return t(`category.${value}`);
  return String(value);
}

function rowElement(row) {
  return h("tr", { class: row.valid ? "" : "has-problems", dataset: { line: row.line } },
    h("th", { scope: "row" }, formatNumber(row.line)),
    ...FIELDS.map((field) => h("td", {}, field === "email" ? breakableEmail(cellText(row, field)) : cellText(row, field))),
    h("td", {},
      row.valid
        ? h("span", { class: "tag live" }, t("import.ready"))
        : h("ul", { class: "problems" }, row.problems.map((p) => h("li", {}, problemText(p))))),
  );
}
