// The demo page: films picked, genre filter, recommendations and their timing, all computed
// here; then everything the page loaded is handed to the service worker for offline use.
import { FilmSearch } from './film-search.js';

const $ = (id) => document.getElementById(id);
const root = document.documentElement;

/** What the visitor chose: film indices in the order picked, and a genre index or null. */
const state = { picks: [], genre: null };
let films = [];
let genres = [];
let recommender;
/** Each update's number: a slow answer never overwrites a newer one. */
let generation = 0;
/** After "I like it" the list is redrawn; focus returns to the same row for keyboard users. */
let focusRowAfterUpdate = null;

main().catch(fail);

async function main() {
  const [catalogue, metrics] = await Promise.all([getJson('data/films.json'), getJson('data/metrics.json')]);
  ({ films, genres } = catalogue);
  describeModel(metrics);
  // Imported here rather than at the top so that a package that cannot load (an old browser
  // without import maps, a missing file) ends in fail() with a message, not a dead page.
  const { Recommender } = await import('./recommender.js');
  const started = performance.now();
  recommender = await Recommender.load('data/recommender.onnx', films);
  const loadMs = performance.now() - started;

  new FilmSearch({
    input: $('film-search'),
    listbox: $('film-options'),
    hint: $('film-search-hint'),
    films,
    isPicked: (film) => state.picks.includes(film),
    onPick: addPick,
  });
  for (const [i, name] of genres.entries()) $('genre').append(new Option(name, String(i)));
  $('genre').addEventListener('change', (e) => {
    state.genre = e.target.value === '' ? null : Number(e.target.value);
    update();
  });
  $('clear-picks').addEventListener('click', () => {
    state.picks = [];
    renderPicks();
    update();
    $('film-search').focus();
  });
  $('picked').addEventListener('click', (e) => {
    const button = e.target.closest('button[data-film]');
    if (button) removePick(Number(button.dataset.film));
  });
  $('recommendations').addEventListener('click', (e) => {
    const button = e.target.closest('button[data-film]');
    if (!button) return;
    focusRowAfterUpdate = [...$('recommendations').children].indexOf(button.closest('li'));
    addPick(Number(button.dataset.film));
  });

  $('film-search').disabled = false;
  $('genre').disabled = false;
  root.dataset.state = 'ready';
  $('status').textContent = `Model ready in ${formatMs(loadMs)}. Add a film you like to see recommendations.`;
  renderPicks();
  cacheForOffline();
}

function addPick(film) {
  if (state.picks.includes(film)) return;
  state.picks.push(film);
  renderPicks();
  update();
}

function removePick(film) {
  const buttons = [...$('picked').querySelectorAll('button')];
  const at = buttons.findIndex((b) => Number(b.dataset.film) === film);
  state.picks = state.picks.filter((f) => f !== film);
  renderPicks();
  update();
  // Focus goes to the neighbouring remove button, or back to the search when none is left.
  const left = $('picked').querySelectorAll('button');
  (left[Math.min(at, left.length - 1)] ?? $('film-search')).focus();
}

async function update() {
  const mine = ++generation;
  const list = $('recommendations');
  if (!state.picks.length) {
    list.replaceChildren();
    setListKey(list);
    $('status').textContent = 'Add a film you like to see recommendations.';
    return;
  }
  let result;
  try {
    result = await recommender.recommend(state.picks, state.genre);
  } catch (e) {
    return fail(e);
  }
  if (mine !== generation) return;
  const { recommendations, ms } = result;
  list.replaceChildren(...recommendations.map(renderRecommendation));
  setListKey(list);
  const within = state.genre === null ? '' : ` in ${genres[state.genre]}`;
  $('status').textContent = recommendations.length
    ? `${recommendations.length} recommendations${within} in ${formatMs(ms)}, computed in this browser.`
    : `No more ${genres[state.genre]} films to recommend: try another genre.`;
  showMonitoring();
  if (focusRowAfterUpdate !== null) {
    const rows = list.querySelectorAll('button');
    (rows[Math.min(focusRowAfterUpdate, rows.length - 1)] ?? $('film-search')).focus();
    focusRowAfterUpdate = null;
  }
}

/** Records on the list which picks and genre it answers, so a reader (or test) can tell it is current. */
function setListKey(list) {
  list.dataset.picks = state.picks.join(',');
  list.dataset.genre = state.genre ?? '';
}

function renderPicks() {
  const items = state.picks.map((film) => {
    const li = document.createElement('li');
    li.append(filmLabel(film));
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'remove';
    remove.dataset.film = film;
    remove.setAttribute('aria-label', `Remove ${filmName(film)}`);
    remove.textContent = '×';
    li.append(remove);
    return li;
  });
  $('picked').replaceChildren(...items);
  $('no-picks').hidden = items.length > 0;
  $('clear-picks').hidden = items.length < 2;
}

function renderRecommendation({ film, score, because }) {
  const li = document.createElement('li');
  li.dataset.film = film;
  li.dataset.score = score;
  li.dataset.because = because;
  const title = document.createElement('p');
  title.className = 'film';
  title.append(filmLabel(film));
  const genreLine = document.createElement('p');
  genreLine.className = 'genres';
  genreLine.textContent = films[film].genres.map((g) => genres[g]).join(' · ');
  const reason = document.createElement('p');
  reason.className = 'reason';
  const cite = document.createElement('cite');
  cite.textContent = films[because].title;
  reason.append('Because you liked ', cite);
  const like = document.createElement('button');
  like.type = 'button';
  like.className = 'like';
  like.dataset.film = film;
  like.setAttribute('aria-label', `I like ${filmName(film)} too`);
  like.textContent = '+ I like it';
  li.append(title, genreLine, reason, like);
  return li;
}

function filmLabel(film) {
  const span = document.createElement('span');
  span.className = 'title';
  span.textContent = films[film].title;
  const year = document.createElement('span');
  year.className = 'year';
  year.textContent = ` (${films[film].year})`;
  const label = document.createDocumentFragment();
  label.append(span, year);
  return label;
}

const filmName = (film) => `${films[film].title} (${films[film].year})`;

/** What the model's monitoring has seen in this page, from `model.stats()`: it stays here too. */
function showMonitoring() {
  const { predictions, latencyMs } = recommender.stats();
  $('monitor').textContent =
    `This model has made ${predictions} predictions here: median ${formatMs(latencyMs.p50)}, ` +
    `99th percentile ${formatMs(latencyMs.p99)} (its own monitoring; nothing is sent anywhere).`;
}

function formatMs(ms) {
  // Browsers coarsen performance.now() (to 0.1 ms in Chromium without cross-origin isolation).
  if (ms < 0.1) return 'under 0.1 ms';
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

function describeModel(metrics) {
  const { model, popularity_baseline: pop, k, users } = metrics;
  const pct = (x) => `${(100 * x).toFixed(1)}%`;
  $('about').innerHTML = `
    <p>Implicit-feedback ALS with ${model.factors} factors, trained on MovieLens 100K likes
    (ratings of 4 or 5 from ${users} people). Your picks are folded in as a new user; each
    recommendation's reason is the pick that adds most to its score.</p>
    <p>Held-out test (each person's most recent like): the liked film is in the top ${k}
    ${pct(model.hit_rate)} of the time (NDCG@${k} ${model.ndcg.toFixed(3)}), against
    ${pct(pop.hit_rate)} (NDCG@${k} ${pop.ndcg.toFixed(3)}) for the most popular films.</p>
    <p>Data: F. Maxwell Harper and Joseph A. Konstan, The MovieLens Datasets: History and Context,
    ACM TiiS 5(4), 2015 (GroupLens Research).</p>`;
}

async function getJson(url) {
  const response = await fetch(url);
  if (!response.ok) throw Object.assign(new Error(`${url}: HTTP ${response.status}`), { code: 'E_DATA_FETCH' });
  return response.json();
}

/** Explains a failure in words a visitor can act on; the code and message go under Details. */
function fail(e) {
  console.error(e);
  const advice =
    {
      E_WASM_LOAD:
        'This browser could not start WebAssembly, which computes the recommendations. ' +
        'Try a recent Chrome, Edge, Firefox or Safari, and check that WebAssembly is not turned off ' +
        '(some security settings and lockdown modes do that).',
      E_MODEL_FETCH: 'The recommendation model could not be downloaded. Check the connection and reload the page.',
      E_DATA_FETCH: 'The film list could not be downloaded. Check the connection and reload the page.',
    }[e?.code] ?? 'The recommender could not run in this browser.';
  const box = $('error');
  const summary = document.createElement('p');
  summary.textContent = advice;
  const details = document.createElement('details');
  const label = document.createElement('summary');
  label.textContent = 'Details';
  const code = document.createElement('code');
  code.textContent = `${e?.code ?? e?.name ?? 'Error'}: ${e?.message ?? e}`;
  details.append(label, code);
  box.replaceChildren(summary, details);
  box.hidden = false;
  root.dataset.state = 'error';
  $('film-search').disabled = true;
  $('genre').disabled = true;
  $('status').textContent = 'Recommendations are unavailable.';
}

/**
 * Registers the service worker and hands it every URL this page loaded, so the next visit works
 * offline: the package's wasm-bindgen glue imports a module whose name is a build hash, which
 * no list written in advance could name.
 */
async function cacheForOffline() {
  if (!('serviceWorker' in navigator)) return;
  try {
    await navigator.serviceWorker.register('sw.js');
    const { active } = await navigator.serviceWorker.ready;
    const urls = [location.href.split('#')[0], ...performance.getEntriesByType('resource').map((r) => r.name)];
    await new Promise((resolve, reject) => {
      const channel = new MessageChannel();
      channel.port1.onmessage = ({ data }) => (data.error ? reject(new Error(data.error)) : resolve());
      active.postMessage({ type: 'cache', urls }, [channel.port2]);
    });
    $('offline').textContent = 'Saved for offline use: this page keeps working without a connection.';
    root.dataset.offline = 'ready';
  } catch (e) {
    console.warn('offline use is unavailable:', e);
  }
}
