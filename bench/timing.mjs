// What the benchmarks share: numbers and lists from the command line, medians, and timed rounds.

/** The number after `--name` on the command line, else `fallback`. */
export function numberArg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

/** The comma-separated list after `--name` on the command line, else null. */
export function listArg(name) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1].split(',') : null;
}

export const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** Awaits `step()` over and over for `ms` milliseconds (and at least `atLeast` times); calls per second. */
export async function callsPerSecond(step, ms, atLeast = 0) {
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms || n < atLeast) {
    await step();
    n++;
    t = performance.now();
  }
  return (n * 1000) / (t - t0);
}

/**
 * A/B of two warm models on the same feeds: alternating rounds of `ms` each, and the medians
 * of each side's ms per call and of each round pair's ratio B/A, which the machine's drift
 * cancels out of. Each model is warmed up first, yielding to timers so that the plan for
 * these shapes is built before timing starts.
 */
export async function abRounds([a, b], feeds, rounds, ms) {
  const sides = [];
  for (const m of [a, b]) {
    for (let i = 0; i < 5; i++) {
      await m.predict(feeds);
      await new Promise((r) => setTimeout(r, 0));
    }
    sides.push({ call: () => m.predict(feeds), ms: [] });
  }
  for (let r = 0; r < rounds; r++) {
    for (const s of sides) s.ms.push(1000 / (await callsPerSecond(s.call, ms, 1)));
  }
  const [A, B] = sides.map((s) => s.ms);
  return { a: median(A), b: median(B), ratio: median(B.map((m, i) => m / A[i])) };
}
