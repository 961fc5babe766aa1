// 評価書の検索 (/search/): Pagefind's JS API with a Japanese, accessible UI.
// No inline script: this file is loaded as a module. See docs/search.md for the design.

const FILTERS = ["団体", "評価書の種類", "状態", "システム", "事務"];
// Each result needs its page's fragment (30–70 KB gzipped for a long assessment), so results
// are loaded two at a time to keep one search under 300 KB (docs/search.md).
const BATCH = 2;
const MAX_SECTIONS = 3;

const $ = (id) => document.getElementById(id);
const app = $("search-app");
const form = $("search-form");
const input = $("search-q");
const status = $("search-status");
const section = $("search-results-section");
const list = $("search-results");
const filterBox = $("search-filters");
const more = $("search-more");

// Pagefind segments Japanese at index time with a dictionary (Lindera) but at query time with
// the browser's Intl.Segmenter, and the two disagree on compounds (Pagefind issue #1237).
// Normalise the query the way the index's extra terms are written: NFKC (ＣＳ → CS), the
// half-width middle dot, and no trailing long-vowel mark (サーバー → サーバ, which still
// finds サーバー as a prefix).
export function normalise(q) {
  return q
    .normalize("NFKC")
    .replace(/･/g, "・")
    .replace(/―/g, "ー")
    .replace(/([ァ-ヶ])ー+(?=$|[^ァ-ヶー])/gu, "$1")
    .replace(/\s+/g, " ")
    .trim();
}

// Registry aliases (住基ネット → 住民基本台帳ネットワークシステム): the index has every alias of
// the systems a page names, but the full name also finds the sections that use it, so an
// alias is searched by its full name first, and as typed if that finds nothing.
const ALIASES = new Map(
  Object.entries(JSON.parse(form.dataset.aliases || "{}")).map(([a, n]) => [normalise(a), normalise(n)]),
);
// One Japanese word is searched as a quoted phrase first: unquoted, its segments may match
// apart (国税連携 → 国税 … 連携: 4 pages, 1 true). Pagefind's phrase search takes only one
// phrase and finds nothing when the word is only in the hidden system names, so the plain
// terms follow, and the word as typed last. The first that finds anything is used.
const JAPANESE = /[\u3040-\u30ff\u3400-\u9fff]/u;
const quote = (q) => (!q.includes(" ") && JAPANESE.test(q) && [...q].length >= 2 ? `"${q}"` : q);
export function candidates(q) {
  const expanded = q.split(" ").map((w) => ALIASES.get(w) || w).join(" ");
  return [...new Set([quote(expanded), expanded, quote(q), q])];
}

// Each query word with its full name when it is an alias: a section matches a word whole
// when it holds either (documents write 市町村ＣＳ more often than the full name).
export const wordsOf = (q) => q.split(" ").filter(Boolean).map((w) => [w, ALIASES.get(w)].filter(Boolean));

// The results for a normalised query: the first candidate that finds anything. A phrase
// picks the pages, but Pagefind gives a phrase hit no sections, so their sections (and the
// ranking) come from the same words unquoted.
export async function find(pf, q, options = {}) {
  if (!q) return pf.search(null, options);
  for (const c of candidates(q)) {
    const search = await pf.search(c, options);
    if (!search.results.length) continue;
    if (!c.startsWith('"')) return search;
    const plain = await pf.search(c.slice(1, -1), options);
    const keep = new Set(search.results.map((r) => r.id));
    const results = plain.results.filter((r) => keep.has(r.id));
    return results.length ? { results } : search;
  }
  // Last: the words cut where the index cut them (ガバメントクラウド → ガバメント クラウド), for
  // the compounds the browser's segmenter splits elsewhere (#1237; docs/search.md).
  const spaced = segment(q, await vocabulary());
  return spaced !== q ? pf.search(spaced, options) : { results: [] };
}

// The index's own words (written by piasite's index stage from Pagefind's fragments), loaded
// only when a query finds nothing as typed.
let indexWords = null;
async function vocabulary() {
  if (!indexWords) {
    try {
      const list = await (await fetch("/pagefind/piasite-words.json")).json();
      const starts = (w) => [...w].map((_, i) => [...w].slice(0, i + 1).join(""));
      indexWords = { all: new Set(list), prefixes: new Set(list.flatMap(starts)) };
    } catch {
      indexWords = { all: new Set(), prefixes: new Set() };
    }
  }
  return indexWords;
}

// Split each Japanese run of the query into the fewest index words (the last may be the start
// of one, as Pagefind matches prefixes); a character in no word stands alone.
const RUN = /[\u3040-\u30ff\u3400-\u9fff々]+|[^\u3040-\u30ff\u3400-\u9fff々\s]+/gu;
export function segment(q, vocab) {
  return q.split(" ").flatMap((word) => (word.match(RUN) || []).map((run) => {
    if (!JAPANESE.test(run)) return run;
    const chars = [...run];
    const n = chars.length;
    const best = Array(n + 1).fill(null);
    best[0] = { cost: 0, cuts: [] };
    for (let i = 0; i < n; i++) {
      if (!best[i]) continue;
      for (let j = n; j > i; j--) {
        const piece = chars.slice(i, j).join("");
        const known = vocab.all.has(piece) || (j === n && vocab.prefixes.has(piece));
        if (!known && j > i + 1) continue;
        const cost = best[i].cost + (known ? 1 : 10);
        if (!best[j] || cost < best[j].cost) best[j] = { cost, cuts: [...best[i].cuts, piece] };
      }
    }
    return best[n].cuts.join(" ");
  })).join(" ");
}

let pagefind = null;
let seq = 0;

function text(tag, content, cls) {
  const el = document.createElement(tag);
  if (content) el.textContent = content;
  if (cls) el.className = cls;
  return el;
}

// Pagefind excerpts are HTML with <mark> around matches. Copy only text and <mark> into the
// page, never markup from the index.
function excerpt(html) {
  const p = text("p", "", "search-excerpt");
  const doc = new DOMParser().parseFromString(`<body>${html}</body>`, "text/html");
  for (const node of doc.body.childNodes) {
    if (node.nodeName === "MARK") p.append(text("mark", node.textContent));
    else p.append(document.createTextNode(node.textContent));
  }
  return p;
}

function selectedFilters() {
  const out = {};
  for (const sel of filterBox.querySelectorAll("select[data-filter]")) {
    if (sel.value) out[sel.dataset.filter] = sel.value;
  }
  return out;
}

async function buildFilters() {
  const available = await pagefind.filters();
  const params = new URLSearchParams(location.search);
  filterBox.replaceChildren(text("legend", "絞り込み"));
  FILTERS.forEach((name, i) => {
    const values = Object.keys(available[name] || {}).sort((a, b) => a.localeCompare(b, "ja"));
    if (!values.length) return;
    const wrap = text("p", "", "search-filter");
    const id = `search-filter-${i}`;
    const label = text("label", name);
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
  const sortWrap = text("p", "", "search-filter");
  const sortLabel = text("label", "並び順");
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

// Pagefind ranks a page by its segments, which may match apart (住民 … 基本 … 台帳). Put
// first the sections whose excerpt holds a query word whole, then those with more matches.
const fold = (s) => normalise(s.replace(/<[^>]*>/g, ""));
function rank(data, words) {
  const subs = (data.sub_results || []).filter((s) => s.url !== data.url);
  const has = (s, alts) => alts.some((w) => fold(s.excerpt).includes(w) || fold(s.title).includes(w));
  const whole = (s) => words.filter((alts) => has(s, alts)).length;
  subs.forEach((s, i) => { s.score = whole(s) * 1000 + (s.locations || []).length; s.order = i; });
  subs.sort((a, b) => b.score - a.score || a.order - b.order);
  data.sections = subs;
  data.whole = subs.length ? Math.max(...subs.map(whole)) : 0;
  return data;
}

// For benchmarks/search_payload.py --false-hits: the section URLs in the order shown.
export const rankedSections = (data, q) => rank(data, wordsOf(normalise(q))).sections.map((s) => s.url);

function renderResult(data) {
  const li = document.createElement("li");
  li.className = "search-result";
  const h = document.createElement("h3");
  const a = text("a", data.meta.title || data.url);
  a.href = data.url;
  h.append(a);
  li.append(h);
  const f = data.filters || {};
  const facts = [f["評価書の種類"] && `${f["評価書の種類"][0]}項目評価書`, f["状態"] && f["状態"][0]]
    .filter(Boolean).join("・");
  if (facts) li.append(text("p", facts, "search-facts"));
  const subs = data.sections.slice(0, MAX_SECTIONS);
  if (subs.length) {
    const ul = document.createElement("ul");
    ul.className = "search-sections";
    for (const s of subs) {
      const item = document.createElement("li");
      const link = text("a", s.title);
      link.href = s.url;
      item.append(link, excerpt(s.excerpt));
      ul.append(item);
    }
    li.append(ul);
  } else {
    // Only the indexed-but-hidden system names matched: say so rather than show that list.
    li.append(text("p", "この評価書が記載するシステムの名称・別名に一致しました。", "search-excerpt"));
  }
  return li;
}

async function run(fromFilter = false) {
  const raw = input.value;
  const q = normalise(raw);
  const filters = selectedFilters();
  const params = new URLSearchParams();
  if (raw.trim()) params.set("q", raw.trim());
  for (const [k, v] of Object.entries(filters)) params.set(k, v);
  const sortValue = $("search-sort") ? $("search-sort").value : "";
  if (sortValue) params.set("sort", sortValue);
  history.replaceState(null, "", params.toString() ? `?${params}` : location.pathname);
  const mine = ++seq;
  if (!q && !Object.keys(filters).length) {
    list.replaceChildren();
    section.hidden = true;
    more.hidden = true;
    status.textContent = fromFilter ? "検索する語句を入力してください。" : "";
    return;
  }
  status.textContent = "検索しています…";
  const options = { filters };
  if (sortValue) options.sort = { date: "desc" };
  const search = await find(pagefind, q, options);
  if (mine !== seq) return; // a newer search has started
  current = { search, words: wordsOf(q), shown: 0, mine, sortValue };
  list.replaceChildren();
  await showMore(false);
  if (mine !== seq) return;
  section.hidden = search.results.length === 0;
  const what = raw.trim() ? `「${raw.trim()}」の検索結果` : "絞り込みの結果";
  const n = search.results.length;
  status.textContent = n
    ? `${what}：${n}件`
    : `${what}：見つかりませんでした。別の言い方（略称ではなく正式名称など）や、長いカタカナ語の区切りに空白を入れる（例：ガバメント クラウド）とお試しください。`;
}

let current = null;

async function showMore(focus) {
  const c = current;
  const batch = c.search.results.slice(c.shown, c.shown + BATCH);
  const results = (await Promise.all(batch.map((r) => r.data())))
    .map((d, i) => Object.assign(rank(d, c.words), { order: i }));
  if (c.mine !== seq) return;
  // Within a batch, pages with the words whole first (else Pagefind's order); sorting by
  // date keeps Pagefind's order.
  if (!c.sortValue) results.sort((a, b) => b.whole - a.whole || a.order - b.order);
  const items = results.map(renderResult);
  list.append(...items);
  c.shown += batch.length;
  const left = c.search.results.length - c.shown;
  more.hidden = left <= 0;
  more.textContent = `次の結果を表示（残り${left}件）`;
  if (focus && items.length) items[0].querySelector("h3 a").focus();
}

async function main() {
  try {
    pagefind = await import("/pagefind/pagefind.js");
    // noWorker: the worker would download a second copy of the library (41 KB).
    await pagefind.options({ basePath: "/pagefind/", excerptLength: 40, noWorker: true });
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
