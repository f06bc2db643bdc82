// The explain page: a form built from GET /metadata's schema, POST /explain on the same origin, and the
// answer drawn as SVG (a SHAP waterfall from the base value to f(x), LIME's weights beside it), with the
// prediction, the warnings and the accuracy fields. Plain JS, no library, no network but this origin.
// Every bar carries data-* attributes (method, column, value, start, end, std-error) for the tests.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const DEFAULT_TOP_K = 10; // as the figure of `litelens invoke --plot`
const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
const MISSING = "\u0000missing"; // the select option that sends null
const state = { columns: [], classes: null };

function $(id) { return document.getElementById(id); }

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function svgEl(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

// A number as a person reads it: 4 significant digits, scientific only when very large or small.
function fmt(v, digits = 4) {
  if (v === null || v === undefined) return "null";
  if (typeof v !== "number") return String(v);
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v);
  if (v !== 0 && (Math.abs(v) >= 1e6 || Math.abs(v) < 1e-3)) return v.toExponential(digits - 1);
  const decimals = Math.max(0, digits - 1 - Math.floor(Math.log10(Math.abs(v))));
  const text = v.toFixed(decimals);
  return text.includes(".") ? text.replace(/0+$/, "").replace(/\.$/, "") : text;
}
const signed = (v) => (v > 0 ? "+" : "") + fmt(v);
const isNum = (v) => typeof v === "number" && Number.isFinite(v);

function headers() {
  const h = { "Content-Type": "application/json", Accept: "application/json" };
  const key = $("api-key").value;
  if (key) h["x-api-key"] = key;
  return h;
}

// The API's own words for a refused request: {"error": {"code", "message"}} or {"message"}.
function errorText(status, body) {
  if (body && typeof body === "object") {
    if (body.error && typeof body.error === "object") return `${status} ${body.error.code}: ${body.error.message}`;
    if (body.message) return `${status}: ${body.message}`;
  }
  return `${status}: ${typeof body === "string" ? body.slice(0, 500) : "the request was refused"}`;
}

async function call(method, path, payload) {
  const response = await fetch(path, { method, headers: headers(), body: payload === undefined ? undefined : JSON.stringify(payload) });
  const raw = await response.text();
  let body = raw;
  try { body = raw ? JSON.parse(raw) : null; } catch (_) { /* not JSON: shown as text */ }
  if (!response.ok) throw new Error(errorText(response.status, body));
  return body;
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

function status(message) { $("status").textContent = message; }

// -- the form ------------------------------------------------------------------------------------

const isoDay = (days) => new Date(days * 86400000).toISOString().slice(0, 10);

function field(column) {
  const box = el("div", { class: "field", "data-column": column.name, "data-kind": column.kind });
  const id = `col-${state.columns.length}`;
  box.append(el("label", { for: id }, column.name));
  let input, hint;
  if (column.kind === "categorical") {
    input = el("select", { id, name: column.name });
    for (const level of column.levels) input.append(el("option", { value: level }, level));
    input.append(el("option", { value: MISSING }, "(missing)"));
    hint = `${column.levels.length} training levels` + (column.missing ? ", missing seen in training" : "");
  } else if (column.kind === "date") {
    input = el("input", { id, name: column.name, type: "date" });
    if (isNum(column.min)) input.min = isoDay(column.min);
    if (isNum(column.max)) input.max = isoDay(column.max);
    if (isNum(column.median)) input.value = isoDay(column.median);
    hint = isNum(column.min) ? `training ${isoDay(column.min)} … ${isoDay(column.max)}; empty: missing` : "empty: missing";
  } else {
    input = el("input", { id, name: column.name, type: "text", inputmode: "decimal", autocomplete: "off" });
    if (isNum(column.median)) input.value = fmt(column.integer ? Math.round(column.median) : column.median);
    hint = isNum(column.min) ? `training ${fmt(column.min)} … ${fmt(column.max)}` : "a number";
    hint += column.missing ? "; missing seen in training" : "; empty: missing";
    if (isNum(column.min)) input.placeholder = `${fmt(column.min)} … ${fmt(column.max)}`;
  }
  box.append(input, el("span", { class: "hint" }, hint));
  state.columns.push({ column, input });
  return box;
}

// A field's value as the API reads it: a number, a string (level, date, or text that is not a number,
// sent as it is for the API to name the mistake), or null for missing.
function valueOf({ column, input }) {
  const text = input.value.trim();
  if (column.kind === "categorical") return input.value === MISSING ? null : input.value;
  if (text === "") return null;
  if (column.kind === "numeric" && NUMBER.test(text)) return Number(text);
  return text;
}

function buildForm(meta) {
  $("model").textContent = `${meta.name || ""} ${meta.version || ""} (${meta.task || "?"})`;
  const columns = meta.schema && Array.isArray(meta.schema.columns)
    ? meta.schema.columns
    : (meta.features || []).map((name) => ({ name, kind: "numeric" }));
  state.columns = [];
  const fields = $("fields");
  fields.replaceChildren(...columns.map(field));
  $("num-features").max = columns.length; // the API refuses more columns than the model has
  $("num-features").value = Math.min(DEFAULT_TOP_K, columns.length);
  const excluded = (meta.schema && meta.schema.excluded) || [];
  $("excluded").hidden = excluded.length === 0;
  $("excluded").textContent = "Not used by the model: " + excluded.map((e) => `${e.name} (${e.reason})`).join(", ");
  state.classes = meta.classes || null;
  const select = $("class");
  select.replaceChildren(el("option", { value: "" }, "the predicted class"));
  for (const c of state.classes || []) select.append(el("option", { value: c }, c));
  if (state.classes) select.append(el("option", { value: "all" }, "every class"));
  $("class-label").hidden = !state.classes;
  $("explain").disabled = false;
}

async function loadColumns() {
  showError("");
  status("Loading the columns…");
  try {
    buildForm(await call("GET", "/metadata"));
    status("");
  } catch (err) {
    status("");
    showError(`GET /metadata: ${err.message}`);
  }
}

// -- the answer ----------------------------------------------------------------------------------

function targetsOf(explanation) {
  if (explanation && explanation.classes) return Object.entries(explanation.classes);
  return [[explanation.class === undefined ? null : explanation.class, explanation]];
}

// The waterfall's bars, largest |value| first, the folded rest last; each placed from the base value
// upwards (rest, then the smallest, ..., the largest ends at f(x)). As `panels.waterfall` in Python.
function waterfallBars(shap, row, topK) {
  const phi = Object.entries(shap.values || {}).filter(([, v]) => isNum(v));
  phi.sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]));
  const errors = shap.std_errors || {};
  let shown = phi;
  let rest = isNum(shap.rest) ? shap.rest : null;
  let folded = isNum(shap.rest_columns) ? shap.rest_columns : 0;
  let restError = isNum(shap.rest_std_error) ? shap.rest_std_error : null;
  if (rest === null && phi.length > topK) {
    const left = phi.slice(topK);
    shown = phi.slice(0, topK);
    rest = left.reduce((s, [, v]) => s + v, 0);
    folded = left.length;
    if (left.every(([c]) => isNum(errors[c]))) restError = Math.sqrt(left.reduce((s, [c]) => s + errors[c] ** 2, 0));
  }
  const bars = shown.map(([c, v]) => ({
    column: c, value: v, label: c in row ? `${c} = ${fmt(row[c])}` : c, error: isNum(errors[c]) ? errors[c] : null,
  }));
  if (rest !== null) bars.push({ column: null, value: rest, label: folded ? `${folded} other columns` : "other columns", error: restError });
  let start = shap.base_value;
  for (let i = bars.length - 1; i >= 0; i--) { bars[i].start = start; start += bars[i].value; }
  return { bars, base: shap.base_value, end: start };
}

function limeBars(lime) {
  const weights = (lime.weights || []).filter((w) => isNum(w.weight));
  weights.sort((a, b) => Math.abs(b.weight) - Math.abs(a.weight));
  const bars = weights.map((w) => ({ column: w.feature, value: w.weight, label: w.condition || w.feature, start: 0, error: null }));
  if (isNum(lime.rest)) bars.push({ column: null, value: lime.rest, label: "other columns", start: 0, error: null });
  return bars;
}

function niceTicks(low, high, count = 5) {
  const raw = (high - low) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw) || raw;
  const ticks = [];
  for (let t = Math.ceil(low / step) * step; t <= high + step * 1e-9; t += step) ticks.push(Math.abs(t) < step * 1e-9 ? 0 : t);
  return ticks;
}

// Cut a label to `width` pixels, keeping its end (the value, the condition); the full text in <title>.
function fitText(node, text, width) {
  node.textContent = text;
  if (node.getComputedTextLength() <= width) return;
  const tail = Math.min(14, Math.floor(text.length / 2));
  let head = text.length - tail;
  while (head > 1) {
    head -= 1;
    node.textContent = text.slice(0, head) + "…" + text.slice(text.length - tail);
    if (node.getComputedTextLength() <= width) break;
  }
  node.append(svgEl("title", {}, text));
}

function barChart(container, { bars, method, lines = [], caption }) {
  const width = 640, row = 26, top = 8, axis = 34;
  const height = top + bars.length * row + axis + 18;
  const svg = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "data-method": method });
  svg.append(svgEl("title", {}, caption));
  container.append(svg); // measured in place
  const measure = svgEl("text", { x: 0, y: -10 });
  svg.append(measure);
  const longest = (texts) => Math.max(0, ...texts.map((t) => { measure.textContent = t; return measure.getComputedTextLength(); }));
  const labelWidth = Math.min(width * 0.42, longest(bars.map((b) => b.label)) + 8);
  const valueText = (b) => signed(b.value) + (b.error ? ` ± ${fmt(b.error)}` : "");
  const valueWidth = longest(bars.map(valueText)) + 10;
  measure.remove();
  const x0 = labelWidth + 6, x1 = width - valueWidth - 6;
  const points = [...lines.map((l) => l.x), ...bars.flatMap((b) => [b.start, b.start + b.value, b.start + b.value - (b.error || 0), b.start + b.value + (b.error || 0)])];
  let low = Math.min(...points), high = Math.max(...points);
  const pad = (high - low) * 0.06 || Math.abs(high) * 0.06 || 0.01;
  low -= pad; high += pad;
  const sx = (v) => x0 + ((v - low) / (high - low)) * (x1 - x0);
  const bottom = top + bars.length * row;
  const ticks = niceTicks(low, high);
  const axisGroup = svgEl("g", { class: "axis" });
  for (const t of ticks) {
    axisGroup.append(svgEl("line", { class: "grid", x1: sx(t), x2: sx(t), y1: top, y2: bottom }));
    axisGroup.append(svgEl("text", { x: sx(t), y: bottom + 16, "text-anchor": "middle" }, fmt(t, 3)));
  }
  axisGroup.append(svgEl("line", { x1: x0, x2: x1, y1: bottom, y2: bottom }));
  svg.append(axisGroup);
  for (const line of lines) {
    svg.append(svgEl("line", { x1: sx(line.x), x2: sx(line.x), y1: top - 4, y2: bottom, stroke: line.colour, "stroke-dasharray": line.dash || "", "data-line": line.name, "data-x": line.x }));
  }
  bars.forEach((b, i) => {
    const y = top + i * row;
    const a = sx(b.start), z = sx(b.start + b.value);
    const colour = b.column === null ? "var(--rest)" : b.value > 0 ? "var(--positive)" : "var(--negative)";
    const rect = svgEl("rect", {
      x: Math.min(a, z), y: y + 4, width: Math.max(Math.abs(z - a), 1), height: row - 8, fill: colour,
      "data-method": method, "data-column": b.column === null ? "" : b.column, "data-rest": b.column === null,
      "data-value": b.value, "data-start": b.start, "data-end": b.start + b.value, "data-std-error": b.error === null ? "" : b.error,
    });
    rect.append(svgEl("title", {}, `${b.label}: ${valueText(b)}`));
    svg.append(rect);
    if (b.error) {
      const e = b.start + b.value, cy = y + row / 2;
      svg.append(svgEl("path", { d: `M${sx(e - b.error)},${cy}H${sx(e + b.error)}M${sx(e - b.error)},${cy - 5}v10M${sx(e + b.error)},${cy - 5}v10`, stroke: "#000", fill: "none", class: "error-bar" }));
    }
    const label = svgEl("text", { x: labelWidth, y: y + row / 2 + 4, "text-anchor": "end" });
    svg.append(label);
    fitText(label, b.label, labelWidth - 4);
    svg.append(svgEl("text", { x: x1 + 8, y: y + row / 2 + 4 }, valueText(b)));
  });
  svg.append(svgEl("text", { x: x0, y: height - 4, fill: "#666" }, caption));
}

function qualityList(fields) {
  const list = el("dl", { class: "quality" });
  const add = (name, value) => { list.append(el("dt", {}, name), el("dd", {}, value)); };
  const shap = fields.shap || {}, lime = fields.lime || {}, agreement = fields.agreement || {};
  if (shap.exact === true) add("SHAP", "exact (every coalition)");
  if (isNum(shap.relative_error)) add("SHAP relative error", fmt(shap.relative_error));
  if (isNum(shap.additivity_gap)) add("additivity gap", fmt(shap.additivity_gap));
  if (isNum(shap.nsamples)) add("SHAP samples", fmt(shap.nsamples));
  if (isNum(lime.score)) add("LIME fit R²", fmt(lime.score));
  const localError = isNum(lime.local_error) ? lime.local_error
    : isNum(lime.local_prediction) && isNum(lime.model_prediction) ? Math.abs(lime.local_prediction - lime.model_prediction) : null;
  if (localError !== null) add("LIME local error", fmt(localError));
  if (lime.sampling) add("LIME sampling", lime.sampling);
  if (isNum(agreement.overlap)) add("top-k overlap", `${agreement.overlap} of ${agreement.k}`);
  if (isNum(agreement.spearman)) add("Spearman", fmt(agreement.spearman));
  return list;
}

function warningList(items, cls) {
  const list = el("ul", { class: cls });
  for (const w of items || []) list.append(el("li", { "data-code": w.code || "" }, w.message || w.code));
  return list;
}

function render(answer, row, topK) {
  const prediction = (answer.predictions || [])[0] || {};
  const explanation = (answer.explanations || [])[0];
  let heading = "prediction";
  if (prediction.label !== undefined) {
    const p = isNum(prediction.probability) ? prediction.probability : (prediction.probabilities || {})[prediction.label];
    heading = `predicted ${prediction.label}` + (isNum(p) ? ` (p = ${fmt(p)})` : "");
  } else if (isNum(prediction.value)) heading = `predicted value ${fmt(prediction.value)}`;
  $("prediction").textContent = heading;
  $("warnings").replaceWith(Object.assign(warningList(prediction.warnings, ""), { id: "warnings" }));
  const panels = $("panels");
  panels.replaceChildren();
  $("result").hidden = false;
  if (!explanation) { panels.append(el("p", {}, "This row was not explained.")); return; }
  for (const [target, fields] of targetsOf(explanation)) {
    const panel = el("section", { class: "panel", "data-target": target === null ? "" : target });
    panels.append(panel);
    panel.append(el("h3", {}, target === null ? "Why this value" : `Why class ${target}`));
    const charts = el("div", { class: "charts" });
    panel.append(charts);
    if (fields.shap && fields.shap.values) {
      const box = el("div", { class: "chart" });
      charts.append(box);
      const w = waterfallBars(fields.shap, row, topK);
      box.append(el("h4", {}, `SHAP: base ${fmt(w.base)} → f(x) ${fmt(w.end)} (${fields.shap.output_space || "output"})`));
      barChart(box, {
        bars: w.bars, method: "shap", caption: "base value (dashed) + contributions = f(x) (solid)",
        lines: [{ x: w.base, colour: "#555", dash: "4 3", name: "base" }, { x: w.end, colour: "#000", name: "output" }],
      });
    }
    if (fields.lime && fields.lime.weights) {
      const box = el("div", { class: "chart" });
      charts.append(box);
      box.append(el("h4", {}, "LIME: the local linear model's weights"));
      barChart(box, { bars: limeBars(fields.lime), method: "lime", caption: "weight", lines: [{ x: 0, colour: "#000", name: "zero" }] });
    }
    panel.append(qualityList(fields), warningList(fields.warnings, "warnings"));
  }
}

async function explain(event) {
  event.preventDefault();
  showError("");
  const row = Object.fromEntries(state.columns.map((f) => [f.column.name, valueOf(f)]));
  const parameters = {};
  const k = $("num-features").value.trim();
  if (k) parameters.num_features = NUMBER.test(k) ? Number(k) : k;
  const seed = $("seed").value.trim();
  if (seed) parameters.seed = NUMBER.test(seed) ? Number(seed) : seed;
  if ($("class").value) parameters.class = $("class").value;
  status("Explaining…");
  $("explain").disabled = true;
  try {
    const answer = await call("POST", "/explain", { instances: [row], parameters });
    render(answer, row, isNum(parameters.num_features) ? parameters.num_features : DEFAULT_TOP_K);
    status("");
  } catch (err) {
    status("");
    $("result").hidden = true;
    showError(err.message);
  } finally {
    $("explain").disabled = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("row-form").addEventListener("submit", explain);
  $("connect").addEventListener("click", loadColumns);
  const keyRequired = document.querySelector('meta[name="litelens-api-key"]').content === "required";
  $("key-field").hidden = !keyRequired;
  if (keyRequired) $("fields").replaceChildren(el("p", { class: "note" }, "Enter the API key, then load the columns."));
  else loadColumns();
});
