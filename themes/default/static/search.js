// 検索 (/search/): substring search over piasite's index (docs/search.md).
// No inline script: this file is loaded as a module.
//
// The index (piasite/index.py) holds every searchable text as overlapping character bigrams,
// written as ASCII codes, one per character position. A query's bigrams searched as a quoted
// phrase must sit at consecutive positions: exactly the pages whose text contains the query.
// Pagefind keeps no readable text this way, so results, excerpts and ranking come from
// piasite's own files beside the index (piasite.json, text/<page>.json).

const FILTERS = ["種類", "団体", "事務", "評価書の種類", "状態", "システム"];
const LABELS = { 種類: "ページの種類" };
const NOT_APPLICABLE = "na"; // the filters that do not apply to a page (never shown)
const KINDS = ["評価書", "意見募集", "関連資料", "システム"];
// Each result needs its page's text (up to ~60 KB compressed for a long assessment), so
// results are shown two at a time to keep one search under 300 KB (docs/search.md).
const BATCH = 2;
const MAX_SECTIONS = 3;
const CONTEXT = 30; // characters of excerpt on each side of a match

const $ = (id) => document.getElementById(id);
const app = $("search-app");
const form = $("search-form");
const input = $("search-q");
const status = $("search-status");
const section = $("search-results-section");
const list = $("search-results");
const filterBox = $("search-filters");
const more = $("search-more");

// ------------------------------------------------------------------------- normalisation
// Exactly piasite/index.py's `normalise`: NFKC per character (with its combining marks),
// lower case, ― → ー, a katakana word's final ー dropped, then letters and digits only.
// Returns the normalised characters and, for each, where it came from in `text`.

const MARK = /[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f\u3099\u309a\uff9e\uff9f]/;
const PLAIN = /^[ぁ-ゖァ-ヺ一-鿿0-9a-z]$/; // characters every step leaves as they are
const KEEP = /^[\p{L}\p{N}]$/u;
const KATAKANA = /^[ァ-ヶ]$/;
const KATAKANA_OR_LONG = /^[ァ-ヶー]$/;

export function normalise(text) {
  const chars = [];
  const from = [];
  const to = [];
  for (let i = 0; i < text.length;) {
    const start = i;
    i += text.codePointAt(i) > 0xffff ? 2 : 1;
    while (i < text.length && MARK.test(text[i])) i++;
    const cluster = text.slice(start, i);
    if (PLAIN.test(cluster)) {
      chars.push(cluster);
      from.push(start);
      to.push(i);
      continue;
    }
    for (const c of cluster.normalize("NFKC")) {
      for (const lower of c.toLowerCase()) {
        chars.push(lower === "\u2015" ? "ー" : lower);
        from.push(start);
        to.push(i);
      }
    }
  }
  const out = { chars: [], from: [], to: [] };
  for (let k = 0; k < chars.length; k++) {
    if (chars[k] === "ー" && k > 0 && KATAKANA.test(chars[k - 1])) {
      let end = k;
      while (end < chars.length && chars[end] === "ー") end++;
      if (end === chars.length || !KATAKANA_OR_LONG.test(chars[end])) {
        k = end - 1; // the word's final long vowel: サーバー → サーバ
        continue;
      }
    }
    if (!KEEP.test(chars[k])) continue;
    out.chars.push(chars[k]);
    out.from.push(from[k]);
    out.to.push(to[k]);
  }
  out.text = out.chars.join("");
  // UTF-16 offset in out.text -> index of the character (they differ after an astral one).
  out.index = new Int32Array(out.text.length);
  for (let k = 0, u = 0; k < out.chars.length; u += out.chars[k].length, k++) out.index[u] = k;
  return out;
}

export const norm = (text) => normalise(text).text;
export const queryForm = (word) => norm(word).replace(/^ー+/, "");

// The index's word for each character: three base-36 digits, or z and four (index.py `_code`).
const DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz";
function code(cp) {
  if (cp < 35 * 36 * 36) return DIGITS[Math.floor(cp / 1296)] + DIGITS[Math.floor(cp / 36) % 36] + DIGITS[cp % 36];
  return "z" + [46656, 1296, 36, 1].map((d) => DIGITS[Math.floor(cp / d) % 36]).join("");
}
const codes = (n) => [...n].map((c) => code(c.codePointAt(0)));
// A normalised word as a Pagefind query: its bigrams as one phrase; one character alone is
// the prefix of every bigram that starts with it.
function queries(n) {
  const c = codes(n);
  if (c.length === 1) return { exact: c[0], plain: c[0] };
  const words = c.slice(0, -1).map((x, i) => x + c[i + 1]);
  return { exact: `"${words.join(" ")}"`, plain: words.join(" "), length: words.length };
}

// ----------------------------------------------------------------------------- aliases
// The registry's systems (data-aliases: each one's name, then its aliases). A query word that
// is one of them finds the pages that name the system in any of its ways.
const GROUPS = JSON.parse(form.dataset.aliases || "[]").map((names) => names.map((w) => ({ shown: w, n: norm(w) })));

export function parseQuery(raw) {
  return raw.split(/\s+/).filter(Boolean).map((typed) => {
    // A word's leading ー may follow, on the page, a katakana word's final ー, which the
    // normalisation drops (サーバー・プラットフォーム → サーバプラットフォーム): drop it here too.
    const n = queryForm(typed);
    const names = [];
    for (const g of GROUPS) {
      if (g.some((x) => x.n === n)) for (const x of g) if (x.n && !names.some((y) => y.n === x.n)) names.push(x);
    }
    const forms = [...new Set([n, ...names.map((x) => x.n)])].filter(Boolean);
    // A form containing another one finds no page the shorter one misses.
    const minimal = forms.filter((f) => !forms.some((g) => g !== f && f.includes(g)));
    return { typed, n, names, minimal };
  }).filter((w) => w.n);
}

// ---------------------------------------------------------------------------- searching

let pagefind = null;
const chunks = []; // [first, last] word of each index chunk (piasite.json)
const pages = new Map(); // Pagefind page id -> {url, kind, title, date, length, facts, base}
const texts = new Map(); // Pagefind page id -> Promise of its text
let filterCounts = {}; // filter name -> value -> pages (piasite.json)

// A filter that does not apply to a page (状態 on a system's page) does not hide it from a
// search; listing by filters alone (no query) shows the pages that have every chosen value.
function pagefindFilters(selected, lenient) {
  const all = Object.entries(selected).map(([k, v]) =>
    (lenient ? { any: [{ [k]: v }, { [NOT_APPLICABLE]: k }] } : { [k]: v }));
  return all.length ? { all } : {};
}

// Pagefind loads, for a word searched as a prefix, only the index chunk whose range holds the
// word itself; the bigrams that start with a one-character query may run on into the next
// chunks, so those are loaded first.
async function prefixChunks(prefix) {
  const last = prefix + "~"; // after every word that starts with the prefix
  const needed = chunks.filter(([first, end]) => end >= prefix && first <= last);
  await Promise.all(needed.map(([first]) => pagefind.preload(first)));
}

// Occurrences of a phrase of `length` bigrams, from every position of any of its bigrams.
function occurrences(positions, length) {
  const sorted = [...new Set(positions)].sort((a, b) => a - b);
  let count = 0;
  let run = 0;
  for (let i = 0; i < sorted.length; i++) {
    run = i && sorted[i] === sorted[i - 1] + 1 ? run + 1 : 1;
    if (run >= length) count++;
  }
  return count;
}

// The pages containing every query word (or an alias of it), best first. Everything used to
// order them is of the page itself, so results do not depend on how the index is split.
export async function search(raw, selected = {}, sort = "") {
  const words = parseQuery(raw);
  const filters = pagefindFilters(selected, words.length > 0);
  let ids = null;
  const scores = new Map();
  if (!words.length) {
    const all = await pagefind.search(null, { filters });
    ids = new Set(all.results.map((r) => r.id));
  }
  for (const word of words) {
    const found = new Map(); // id -> occurrences of the word's forms
    for (const f of word.minimal) {
      const q = queries(f);
      if (!q.length) await prefixChunks(q.plain);
      const exact = await pagefind.search(q.exact, { filters });
      if (!exact.results.length) continue;
      let counts = new Map(exact.results.map((r) => [r.id, r.words.length]));
      if (q.length > 1) {
        const plain = await pagefind.search(q.plain, { filters });
        const wordsOf = new Map(plain.results.map((r) => [r.id, r.words]));
        counts = new Map(exact.results.map((r) => [r.id, Math.max(1, occurrences(wordsOf.get(r.id) || [], q.length))]));
      }
      for (const [id, c] of counts) found.set(id, (found.get(id) || 0) + c);
    }
    ids = ids === null ? new Set(found.keys()) : new Set([...ids].filter((id) => found.has(id)));
    for (const [id, c] of found) scores.set(id, [...(scores.get(id) || []), c]);
    if (!ids.size) break; // no page has every word so far
  }
  const results = [...ids].filter((id) => pages.has(id)).map((id) => {
    const p = pages.get(id);
    // BM25's saturation with a fixed page length (characters) instead of the index's average.
    const length = 0.25 + 0.75 * (p.length / 20000);
    const score = (scores.get(id) || []).reduce((s, tf) => s + (tf * 2.2) / (tf + 1.2 * length), 0);
    return { id, ...p, score };
  });
  const kind = (r) => (KINDS.includes(r.kind) ? KINDS.indexOf(r.kind) : KINDS.length);
  const cmp = (x, y) => (x < y ? -1 : x > y ? 1 : 0);
  const byDate = (a, b) => cmp(b.date || "", a.date || ""); // newest first, undated last
  results.sort((a, b) =>
    (sort === "date" ? byDate(a, b) : b.score - a.score || kind(a) - kind(b) || byDate(a, b)) ||
    cmp(a.url, b.url));
  return { words, results };
}

function loadText(r) {
  if (!texts.has(r.id)) {
    texts.set(r.id, fetch(`${r.base}text/${r.id}.json`).then((res) => {
      if (!res.ok) throw new Error(`${res.status} ${res.url}`);
      return res.json();
    }));
  }
  return texts.get(r.id);
}

// ------------------------------------------------------------------------------ excerpts

// Where each query word (or one of its names) occurs in a page's text, by place (anchor).
export function matchesIn(body, words) {
  const segments = body.s;
  const whole = segments.map((s) => s[1]).join("");
  const starts = [];
  let at = 0;
  for (const s of segments) {
    starts.push(at);
    at += s[1].length;
  }
  const n = normalise(whole);
  const hits = [];
  const found = words.map(() => new Set());
  for (const [w, word] of words.entries()) {
    const needles = [...new Set([word.n, ...word.names.map((x) => x.n)])].filter(Boolean);
    for (const needle of needles) {
      const len = [...needle].length;
      for (let i = n.text.indexOf(needle); i >= 0; i = n.text.indexOf(needle, i + 1)) {
        const k = n.index[i];
        const from = n.from[k];
        const to = n.to[k + len - 1];
        let seg = 0;
        while (seg + 1 < starts.length && starts[seg + 1] <= from) seg++;
        hits.push({ w, seg, from: from - starts[seg], to: Math.min(to, starts[seg] + segments[seg][1].length) - starts[seg] });
        found[w].add(needle);
      }
    }
  }
  return { hits, found };
}

function excerpt(textOf, hits) {
  const first = hits.reduce((a, b) => (b.from < a.from ? b : a));
  const start = Math.max(0, first.from - CONTEXT);
  const end = Math.min(textOf.length, first.to + CONTEXT);
  const p = el("p", "", "search-excerpt");
  if (start > 0) p.append("…");
  const inside = hits.filter((h) => h.to > start && h.from < end).sort((a, b) => a.from - b.from);
  let at = start;
  for (const h of inside) {
    const from = Math.max(h.from, at);
    const to = Math.min(h.to, end);
    if (to <= from) continue;
    p.append(textOf.slice(at, from), el("mark", textOf.slice(from, to)));
    at = to;
  }
  p.append(textOf.slice(at, end));
  if (end < textOf.length) p.append("…");
  return p;
}

// --------------------------------------------------------------------------------- page

function el(tag, content, cls) {
  const e = document.createElement(tag);
  if (content) e.textContent = content;
  if (cls) e.className = cls;
  return e;
}

function selectedFilters() {
  const out = {};
  for (const sel of filterBox.querySelectorAll("select[data-filter]")) {
    if (sel.value) out[sel.dataset.filter] = sel.value;
  }
  return out;
}

async function buildFilters() {
  // piasite counts them: a base index with a delta still holds the pages the delta replaced.
  const available = filterCounts;
  const params = new URLSearchParams(location.search);
  filterBox.replaceChildren(el("legend", "絞り込み"));
  FILTERS.forEach((name, i) => {
    const values = Object.keys(available[name] || {}).sort((a, b) =>
      name === "種類" ? KINDS.indexOf(a) - KINDS.indexOf(b) : a.localeCompare(b, "ja"));
    if (!values.length) return;
    const wrap = el("p", "", "search-filter");
    const id = `search-filter-${i}`;
    const label = el("label", LABELS[name] || name);
    label.htmlFor = id;
    const sel = document.createElement("select");
    sel.id = id;
    sel.name = name;
    sel.dataset.filter = name;
    sel.append(new Option("すべて", ""));
    for (const v of values) sel.append(new Option(`${v}（${available[name][v]}件）`, v));
    sel.value = values.includes(params.get(name)) ? params.get(name) : "";
    sel.addEventListener("change", () => run(true));
    wrap.append(label, " ", sel);
    filterBox.append(wrap);
  });
  const sortWrap = el("p", "", "search-filter");
  const sortLabel = el("label", "並び順");
  sortLabel.htmlFor = "search-sort";
  const sort = document.createElement("select");
  sort.id = "search-sort";
  sort.name = "sort";
  sort.append(new Option("関連の高い順", ""), new Option("公表日の新しい順", "date"));
  sort.value = params.get("sort") === "date" ? "date" : "";
  sort.addEventListener("change", () => run(true));
  sortWrap.append(sortLabel, " ", sort);
  filterBox.append(sortWrap);
}

async function renderResult(r, words) {
  const li = el("li", "", "search-result");
  const h = el("h3");
  const a = el("a", r.title || r.url);
  a.href = r.url;
  h.append(a);
  li.append(h);
  li.append(el("p", [r.kind, r.facts].filter(Boolean).join("・"), "search-facts"));
  let body;
  try {
    body = await loadText(r);
  } catch (err) {
    console.warn("search: no text for", r.url, err);
    return li;
  }
  const { hits, found } = matchesIn(body, words);
  // Reached through a registry name only: say which one the page uses.
  for (const [w, word] of words.entries()) {
    if (found[w].has(word.n)) continue;
    const shown = word.names.find((x) => found[w].has(x.n));
    if (shown) li.append(el("p", `${word.typed}（${shown.shown}）として検索`, "search-alias"));
  }
  const bySeg = new Map();
  // Segment 0 is the result's title (index.py puts it first), shown above already.
  for (const h of hits.filter((x) => x.seg > 0)) {
    const anchor = body.s[h.seg][0];
    if (!bySeg.has(anchor)) bySeg.set(anchor, []);
    bySeg.get(anchor).push(h);
  }
  // Places holding more of the query's words first, then more matches; the page's top last.
  const places = [...bySeg.entries()].map(([anchor, hs]) => ({
    anchor, hs, words: new Set(hs.map((x) => x.w)).size, first: Math.min(...hs.map((x) => x.seg)),
  }));
  places.sort((x, y) => (x.anchor < 0) - (y.anchor < 0) || y.words - x.words || y.hs.length - x.hs.length || x.first - y.first);
  // Show every query word at least once when the best places do not hold them all, and
  // the same passage only once (assessments repeat sentences item after item).
  const chosen = [];
  const shown = new Set();
  const passages = new Set();
  for (const pass of [true, false]) {
    for (const place of places) {
      if (chosen.length >= MAX_SECTIONS || chosen.includes(place)) continue;
      const seg = place.hs.reduce((x, y) => (y.seg < x.seg ? y : x)).seg;
      const inSeg = place.hs.filter((x) => x.seg === seg);
      if (pass && inSeg.every((x) => shown.has(x.w)) && chosen.length) continue;
      const first = inSeg.reduce((x, y) => (y.from < x.from ? y : x));
      const passage = body.s[seg][1].slice(Math.max(0, first.from - CONTEXT), first.to + CONTEXT);
      if (passages.has(passage)) continue;
      passages.add(passage);
      for (const x of inSeg) shown.add(x.w);
      chosen.push(Object.assign(place, { seg, inSeg }));
    }
  }
  const ul = el("ul", "", "search-sections");
  const page = r.url.split("#")[0];
  for (const { anchor, seg, inSeg } of chosen) {
    const item = el("li");
    if (anchor >= 0) {
      const [id, label] = body.a[anchor];
      const link = el("a", label || id);
      link.href = `${page}#${id}`;
      item.append(link);
    }
    item.append(excerpt(body.s[seg][1], inSeg));
    ul.append(item);
  }
  if (ul.children.length) li.append(ul);
  return li;
}

let seq = 0;
let current = null;

async function run(fromFilter = false) {
  const raw = input.value.trim();
  const filters = selectedFilters();
  const params = new URLSearchParams();
  if (raw) params.set("q", raw);
  for (const [k, v] of Object.entries(filters)) params.set(k, v);
  const sortValue = $("search-sort") ? $("search-sort").value : "";
  if (sortValue) params.set("sort", sortValue);
  history.replaceState(null, "", params.toString() ? `?${params}` : location.pathname);
  const mine = ++seq;
  const done = () => { document.body.dataset.searchDone = String(mine); };
  list.replaceChildren();
  more.hidden = true;
  if (!raw && !Object.keys(filters).length) {
    section.hidden = true;
    status.textContent = fromFilter ? "検索する語句を入力してください。" : "";
    return done();
  }
  if (raw && !parseQuery(raw).length) {
    section.hidden = true;
    status.textContent = `「${raw}」には検索できる文字がありません。文字か数字を入力してください（記号と空白は区別しません）。`;
    return done();
  }
  status.textContent = "検索しています…";
  const found = await search(raw, filters, sortValue);
  if (mine !== seq) return; // a newer search has started
  current = { ...found, shown: 0, mine };
  await showMore(false);
  if (mine !== seq) return;
  const n = found.results.length;
  section.hidden = n === 0;
  const what = raw ? `「${raw}」の検索結果` : "絞り込みの結果";
  if (n) {
    const named = found.words.filter((w) => w.names.length).map((w) => `「${w.typed}」`);
    status.textContent = `${what}：${n}件` +
      (named.length ? `（${named.join("")}はシステム登録簿の別名・正式名称も含めて検索しました）` : "");
  } else {
    status.textContent = `${what}：0件。この語句を含むページは見つかりませんでした。` +
      (Object.keys(filters).length ? "絞り込みを外すか、" : "") +
      "語句を短くするか、別の言い方（略称ではなく正式名称など）でお試しください。";
  }
  done();
}

async function showMore(focus) {
  const c = current;
  const batch = c.results.slice(c.shown, c.shown + BATCH);
  const items = await Promise.all(batch.map((r) => renderResult(r, c.words)));
  if (c.mine !== seq) return;
  list.append(...items);
  c.shown += batch.length;
  const left = c.results.length - c.shown;
  more.hidden = left <= 0;
  more.textContent = `次の結果を表示（残り${left}件）`;
  if (focus && items.length) items[0].querySelector("h3 a").focus();
}

async function loadManifest(base) {
  const res = await fetch(`${base}piasite.json`);
  if (!res.ok) throw new Error(`${res.status} ${res.url}`);
  const manifest = await res.json();
  for (const [id, [url, kind, title, date, length, facts]] of Object.entries(manifest.pages)) {
    pages.set(id, { url, kind, title, date, length, facts, base });
  }
  chunks.push(...(manifest.chunks || []));
  return manifest;
}

async function main() {
  try {
    pagefind = await import("/pagefind/pagefind.js");
    // noWorker: the worker would download a second copy of the library (41 KB).
    await pagefind.options({ basePath: "/pagefind/", noWorker: true });
    const manifest = await loadManifest("/pagefind/");
    // Other bundles to search with this one: the delta of the records an incremental build
    // added (piasite/index.py), or the parts of a split index.
    for (const base of manifest.bundles || []) {
      await Promise.all([pagefind.mergeIndex(base), loadManifest(base)]);
    }
    // Pages of the base a delta replaced or the site no longer has: never a result.
    for (const id of manifest.drop || []) pages.delete(id);
    filterCounts = manifest.filters || {};
    await pagefind.init();
  } catch (err) {
    // The index is missing (e.g. the preview server) or the browser blocks WebAssembly:
    // keep the no-JavaScript notice, which links to the index pages.
    console.warn("search unavailable:", err);
    $("search-nojs").querySelector("strong").textContent = "検索を読み込めませんでした。";
    return;
  }
  $("search-nojs").hidden = true;
  app.hidden = false;
  await buildFilters();
  more.addEventListener("click", () => showMore(true));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run();
  });
  const q = new URLSearchParams(location.search).get("q");
  if (q) input.value = q;
  if (q || Object.keys(selectedFilters()).length) await run();
  document.body.dataset.searchReady = "true";
}

main();
