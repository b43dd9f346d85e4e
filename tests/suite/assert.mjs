// A few assertions that run unchanged in Node, workerd and browsers (node:assert does not).

export class AssertionError extends Error {}

export function ok(value, message = 'expected a truthy value') {
  if (!value) throw new AssertionError(message);
}

export function equal(actual, expected, message = '') {
  if (!Object.is(actual, expected)) {
    throw new AssertionError(`${message ? message + ': ' : ''}got ${show(actual)}, expected ${show(expected)}`);
  }
}

export function deepEqual(actual, expected, message = '') {
  const a = show(actual),
    e = show(expected);
  if (a !== e) throw new AssertionError(`${message ? message + ': ' : ''}got ${a}, expected ${e}`);
}

/** Awaits `promise` and checks it rejects with an Error of `code` whose message matches `pattern`. */
export async function rejects(promise, code, pattern) {
  let error;
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (e) {
    error = e;
  }
  if (!error) throw new AssertionError(`expected a rejection with ${code}, but it resolved`);
  if (!(error instanceof Error)) throw new AssertionError(`expected an Error, got ${show(error)}`);
  if (error.code !== code) throw new AssertionError(`expected code ${code}, got ${error.code}: ${error.message}`);
  if (pattern && !pattern.test(error.message)) {
    throw new AssertionError(`message ${JSON.stringify(error.message)} does not match ${pattern}`);
  }
  return error;
}

/** Element-wise |a - e| <= atol + rtol * |e|, NaN equal to NaN. */
export function close(actual, expected, { rtol = 1e-4, atol = 1e-5 } = {}, message = '') {
  equal(actual.length, expected.length, `${message} length`);
  for (let i = 0; i < expected.length; i++) {
    const a = Number(actual[i]),
      e = Number(expected[i]);
    if (Number.isNaN(a) && Number.isNaN(e)) continue;
    if (a === e) continue;
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) {
      throw new AssertionError(`${message}[${i}] = ${a}, expected ${e}`);
    }
  }
}

export function show(v) {
  return JSON.stringify(v, (_, x) => {
    if (typeof x === 'bigint') return `${x}n`;
    if (ArrayBuffer.isView(x))
      return { [x.constructor.name]: Array.from(x, (y) => (typeof y === 'bigint' ? `${y}n` : y)) };
    if (typeof x === 'number' && !Number.isFinite(x)) return String(x);
    return x;
  });
}

/** An IEEE half's bit pattern (as a Uint16Array holds it) as a number. */
export function half(h) {
  const s = h & 0x8000 ? -1 : 1,
    e = (h >> 10) & 0x1f,
    m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}
