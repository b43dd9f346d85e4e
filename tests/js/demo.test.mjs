// The film recommender demo (www/) in headless Chromium, served by scripts/serve.mjs with the
// package under test: its answers are onnxruntime's (www/data/reference.json, written by
// scripts/train_recommender.py), it works with the keyboard alone and on a phone-sized
// screen, it keeps working offline once its service worker is installed, and it explains a
// WebAssembly module that cannot start.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { launchChromium } from './chromium.mjs';
import { packageDir, root } from './harness.mjs';
import { freePort, start, waitFor } from './processes.mjs';

const data = (file) => JSON.parse(readFileSync(join(root, 'www/data', file), 'utf8'));
const { films, genres } = data('films.json');
const { cases } = data('reference.json');
const artifacts = join(root, 'test-results');
const filmIndex = (title) => films.findIndex((f) => f.title === title);

/** The demo server, as `npm start` runs it, serving the package under test. */
async function startDemo() {
  const port = await freePort();
  const proc = start(process.execPath, [join(root, 'scripts/serve.mjs'), '--port', String(port)], {
    env: { ...process.env, EDGEINFER_PACKAGE: packageDir },
  });
  const url = `http://127.0.0.1:${port}/`;
  await waitFor(url, proc, 30000);
  return { url, proc };
}

let demo;
let browser;
before(async () => {
  demo = await startDemo();
  browser = await launchChromium();
  mkdirSync(artifacts, { recursive: true });
});

after(async () => {
  await browser?.close();
  demo?.proc.stop();
});

/** A page of the demo once its model is ready; console errors and exceptions go to `problems`. */
async function open(context, url) {
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(e.message));
  await page.goto(url);
  await page.waitForSelector('html[data-state="ready"]', { timeout: 120000 });
  return { page, problems };
}

/** Adds a film by typing its title in the search and clicking its option. */
async function pick(page, film) {
  await page.fill('#film-search', films[film].title);
  await page.click(`#film-option-${film}`);
}

/** The recommendations once the list answers `picks` within `genre` (an index, or null). */
async function recommendations(page, picks, genre = null) {
  await page.waitForSelector(`#recommendations[data-picks="${picks.join(',')}"][data-genre="${genre ?? ''}"]`);
  return page.$$eval('#recommendations > li', (rows) =>
    rows.map((li) => ({
      film: Number(li.dataset.film),
      score: Number(li.dataset.score),
      because: Number(li.dataset.because),
      reason: li.querySelector('.reason').textContent,
    })),
  );
}

function assertMatchesReference(rows, c) {
  assert.deepEqual(
    rows.map((r) => r.film),
    c.items,
    `${c.name}: films`,
  );
  assert.deepEqual(
    rows.map((r) => r.because),
    c.because,
    `${c.name}: reasons`,
  );
  rows.forEach((r, i) => {
    const tolerance = 1e-4 * Math.abs(c.scores[i]) + 1e-5;
    assert.ok(
      Math.abs(r.score - c.scores[i]) <= tolerance,
      `${c.name}: score ${i} is ${r.score}, onnxruntime ${c.scores[i]}`,
    );
    assert.equal(r.reason, `Because you liked ${films[c.because[i]].title}`);
  });
}

test('picked films get the top 10 onnxruntime computes, with reasons, with and without a genre filter', async () => {
  assert.ok(cases.filter((c) => c.picks.length === 3).length >= 2 && cases.some((c) => c.genre));
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const origin = new URL(demo.url).origin;
  const elsewhere = [];
  context.on('request', (r) => {
    if (!r.url().startsWith(origin) && !r.url().startsWith('data:')) elsewhere.push(r.url());
  });
  const { page, problems } = await open(context, demo.url);
  for (const [n, c] of cases.entries()) {
    if (n > 0) {
      await page.reload();
      await page.waitForSelector('html[data-state="ready"]');
    }
    const genre = c.genre === null ? null : genres.indexOf(c.genre);
    await page.selectOption('#genre', genre === null ? '' : String(genre));
    // Once the page has loaded and handed its files to the service worker, nothing else is fetched.
    await page.waitForSelector('html[data-offline="ready"]', { timeout: 60000 });
    const requests = [];
    const record = (r) => requests.push(r.url());
    page.on('request', record);
    for (const film of c.picks) await pick(page, film);
    const rows = await recommendations(page, c.picks, genre);
    page.off('request', record);
    assert.deepEqual(requests, [], 'recommending fetches nothing: it all happens in the page');
    assert.equal(rows.length, 10);
    assertMatchesReference(rows, c);
    assert.match(
      await page.textContent('#status'),
      /^10 recommendations( in [^ ]+)? in (under )?\d+(\.\d)? ms, computed in this browser\.$/,
    );
    // The model's own monitoring, shown: the load's warm-up, then one prediction per pick and per genre change.
    const monitored =
      /^This model has made (\d+) predictions here: median (under )?\d+(\.\d)? ms, 99th percentile (under )?\d+(\.\d)? ms/.exec(
        await page.textContent('#monitor'),
      );
    assert.ok(monitored && Number(monitored[1]) >= 1 + c.picks.length, await page.textContent('#monitor'));
    if (n === 0) await page.screenshot({ path: join(artifacts, 'demo.png'), fullPage: true });
  }
  assert.deepEqual(elsewhere, [], 'the page talks to no other origin');
  assert.deepEqual(problems, []);
  await context.close();
});

test('the keyboard alone finds, adds and removes films, filters and follows a recommendation', async () => {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const { page, problems } = await open(context, demo.url);
  const focused = () =>
    page.evaluate(() => {
      const e = document.activeElement;
      return {
        id: e.id,
        label: e.getAttribute('aria-label'),
        film: e.dataset.film === undefined ? null : Number(e.dataset.film),
      };
    });
  const search = '#film-search';

  // The introduction's one link, then the search.
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.tagName), 'A');
  await page.keyboard.press('Tab');
  assert.equal((await focused()).id, 'film-search');
  await page.keyboard.type('godfather');
  assert.equal(await page.getAttribute(search, 'aria-expanded'), 'true');
  const options = await page.$$eval('#film-options [role="option"]', (o) => o.map((x) => Number(x.dataset.film)));
  assert.ok(options.length >= 2, `options for "godfather": ${options}`);
  assert.equal(await page.getAttribute(search, 'aria-activedescendant'), `film-option-${options[0]}`);
  await page.keyboard.press('ArrowDown');
  assert.equal(await page.getAttribute(search, 'aria-activedescendant'), `film-option-${options[1]}`);
  assert.equal(await page.getAttribute(`#film-option-${options[1]}`, 'aria-selected'), 'true');
  await page.keyboard.press('Enter');
  assert.equal(await page.getAttribute(search, 'aria-expanded'), 'false');
  assert.equal((await focused()).id, 'film-search', 'focus stays in the search after adding');
  const second = filmIndex('Casablanca');
  await page.keyboard.type('casabl');
  await page.keyboard.press('Enter');
  const picks = [options[1], second];
  assert.equal((await recommendations(page, picks)).length, 10);

  // Then the picks' remove buttons, "Clear all", the genre, and the recommendations.
  await page.keyboard.press('Tab');
  assert.deepEqual(await focused(), {
    id: '',
    label: `Remove ${films[options[1]].title} (${films[options[1]].year})`,
    film: options[1],
  });
  await page.keyboard.press('Tab');
  assert.equal((await focused()).film, second);
  await page.keyboard.press('Tab');
  assert.equal((await focused()).id, 'clear-picks');
  await page.keyboard.press('Tab');
  assert.equal((await focused()).id, 'genre');
  await page.keyboard.press('ArrowDown');
  const genre = Number(await page.inputValue('#genre'));
  assert.equal(genre, 0, 'ArrowDown chose the first genre');
  const filtered = await recommendations(page, picks, genre);
  assert.ok(filtered.length === 10 && filtered.every((r) => films[r.film].genres.includes(genre)));
  await page.keyboard.press('Tab');
  const liked = await focused();
  assert.equal(liked.film, filtered[0].film);
  assert.match(liked.label, /^I like .+ too$/);
  await page.keyboard.press('Space');
  const rows = await recommendations(page, [...picks, liked.film], genre);
  assert.equal(rows.length, 10);
  assert.ok(!rows.some((r) => r.film === liked.film));
  assert.equal((await focused()).film, rows[0].film, 'focus returns to the same row');

  // Back to the last pick's remove button: Enter removes it and focus moves to its neighbour.
  for (let i = 0; i < 3; i += 1) await page.keyboard.press('Shift+Tab');
  assert.equal((await focused()).film, liked.film);
  await page.keyboard.press('Enter');
  assert.equal((await recommendations(page, picks, genre)).length, 10);
  assert.equal((await focused()).film, second);
  assert.deepEqual(problems, []);
  await context.close();
});

test('on a phone-sized touch screen the page fits and works by tapping', async () => {
  const context = await browser.newContext({
    viewport: { width: 390, height: 844 },
    isMobile: true,
    hasTouch: true,
    deviceScaleFactor: 2,
  });
  const { page, problems } = await open(context, demo.url);
  const film = filmIndex('Toy Story');
  await page.tap('#film-search');
  await page.fill('#film-search', 'toy sto');
  await page.tap(`#film-option-${film}`);
  const rows = await recommendations(page, [film]);
  assert.equal(rows.length, 10);
  const layout = await page.evaluate(() => ({
    overflow: document.documentElement.scrollWidth - window.innerWidth,
    targets: [...document.querySelectorAll('button, input, select')]
      .filter((e) => e.offsetParent)
      .map((e) => e.getBoundingClientRect().height),
  }));
  assert.ok(layout.overflow <= 0, `the page is ${layout.overflow}px wider than the screen`);
  assert.ok(Math.min(...layout.targets) >= 40, `touch targets as small as ${Math.min(...layout.targets)}px`);
  await page.screenshot({ path: join(artifacts, 'demo-phone.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await context.close();
});

test('after the first visit the page recommends with the server gone', async () => {
  const own = await startDemo();
  const context = await browser.newContext();
  try {
    const { page, problems } = await open(context, own.url);
    await page.waitForSelector('html[data-offline="ready"]', { timeout: 60000 });
    assert.ok(await page.evaluate(() => navigator.serviceWorker.controller !== null));
    own.proc.stop();
    await assert.rejects(async () => {
      for (;;) {
        await fetch(own.url);
        await new Promise((r) => setTimeout(r, 100));
      }
    }, 'the server is down');

    await page.reload();
    await page.waitForSelector('html[data-state="ready"]', { timeout: 60000 });
    const c = cases[0];
    for (const film of c.picks) await pick(page, film);
    assertMatchesReference(await recommendations(page, c.picks), c);
    // Served by the service worker, the page is still cross-origin isolated, and its model
    // runs on one thread per core (at most four): the threads build and its Workers.
    const [isolated, started, cores] = await page.evaluate(async () => [
      crossOriginIsolated,
      await (await import('/edgeinfer/js/browser.js')).init(),
      navigator.hardwareConcurrency,
    ]);
    assert.equal(isolated, true);
    assert.deepEqual(started, { simd: 'relaxed-simd', threads: Math.min(4, cores) });
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
    own.proc.stop();
  }
});

test('a WebAssembly module that cannot start is explained, with its code', async () => {
  const context = await browser.newContext({ serviceWorkers: 'block' });
  await context.route('**/edgeinfer*_bg.wasm', (route) =>
    route.fulfill({ status: 200, contentType: 'application/wasm', body: Buffer.from('not wasm') }),
  );
  const page = await context.newPage();
  await page.goto(demo.url);
  await page.waitForSelector('html[data-state="error"]', { timeout: 60000 });
  assert.match(await page.textContent('[role="alert"] p'), /could not start WebAssembly/);
  assert.match(await page.textContent('[role="alert"] code'), /^E_WASM_LOAD: /);
  assert.ok(await page.isDisabled('#film-search'));
  assert.equal(await page.textContent('#status'), 'Recommendations are unavailable.');
  await context.close();
});

test('the server gives each file its type and nothing outside the page and the package', async () => {
  const get = (path) => fetch(new URL(path, demo.url));
  const types = {
    '': 'text/html',
    'edgeinfer/dist/edgeinfer_bg.wasm': 'application/wasm',
    'edgeinfer/dist/edgeinfer_relaxed_bg.wasm': 'application/wasm',
    'edgeinfer/dist/edgeinfer_threads_bg.wasm': 'application/wasm',
    'edgeinfer/js/web-thread.js': 'text/javascript',
    'edgeinfer/js/browser.js': 'text/javascript',
    'sw.js': 'text/javascript',
    'data/films.json': 'application/json',
  };
  for (const [path, type] of Object.entries(types)) {
    const r = await get(path);
    assert.equal(r.status, 200, path);
    assert.equal(r.headers.get('content-type').split(';')[0], type, path);
    // Cross-origin isolated, so that the page may share memory with the threads' Workers.
    assert.equal(r.headers.get('cross-origin-opener-policy'), 'same-origin', path);
    assert.equal(r.headers.get('cross-origin-embedder-policy'), 'require-corp', path);
    await r.arrayBuffer();
  }
  for (const path of [
    'edgeinfer/package.json',
    'edgeinfer/js/%2e%2e/Cargo.toml',
    'edgeinfer/js/..%2f..%2fCargo.toml',
    'edgeinfer/dist/..%5c..%5cCargo.toml',
    '..%2fCargo.toml',
  ]) {
    const r = await get(path);
    assert.equal(r.status, 404, path);
    await r.arrayBuffer();
  }
});
