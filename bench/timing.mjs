// What the benchmarks share: numbers from the command line, medians, and timed rounds.

/** The number after `--name` on the command line, else `fallback`. */
export function numberArg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
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
