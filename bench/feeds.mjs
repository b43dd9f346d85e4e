// Deterministic inputs for the benchmarked models.
function floats(n, seed = 1) {
  let x = seed;
  return Float32Array.from({ length: n }, () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 1073741824 - 1;
  });
}

/** `n` int64 values below `bound`, spread deterministically. */
const ids = (n, bound, step = 7919) => BigInt64Array.from({ length: n }, (_, i) => BigInt((i * step + 17) % bound));

const image = (batch, input = 'image') => ({
  [input]: { data: floats(batch * 3 * 224 * 224), shape: [batch, 3, 224, 224], dtype: 'float32' },
});
const text = (seq) => ({
  input_ids: { data: ids(seq, 30522), shape: [1, seq], dtype: 'int64' },
  attention_mask: { data: new BigInt64Array(seq).fill(1n), shape: [1, seq], dtype: 'int64' },
});
/** The demo's recommender: `n` picked films of 1,663, every film allowed. */
const picks = (n) => ({
  liked: { data: ids(n, 1663, 37), shape: [n], dtype: 'int64' },
  allowed: { data: new Uint8Array(1663).fill(1), shape: [1663], dtype: 'bool' },
});

export const FEEDS = {
  mlp_b1: () => ({ x: { data: floats(32), shape: [1, 32], dtype: 'float32' } }),
  mlp_b3: () => ({ x: { data: floats(3 * 32), shape: [3, 32], dtype: 'float32' } }),
  mlp_b256: () => ({ x: { data: floats(256 * 32), shape: [256, 32], dtype: 'float32' } }),
  encoder_s16: () => ({ x: { data: floats(16 * 32), shape: [1, 16, 32], dtype: 'float32' } }),
  encoder_s24: () => ({ x: { data: floats(24 * 32), shape: [1, 24, 32], dtype: 'float32' } }),
  lstm_s5: () => ({ x: { data: floats(5 * 8), shape: [5, 1, 8], dtype: 'float32' } }),
  lstm_s9: () => ({ x: { data: floats(9 * 8), shape: [9, 1, 8], dtype: 'float32' } }),
  topk_b1: () => ({ liked: { data: ids(3, 200), shape: [1, 3], dtype: 'int64' } }),
  topk_b1_n7: () => ({ liked: { data: ids(7, 200), shape: [1, 7], dtype: 'int64' } }),
  gbdt_b1: () => ({ x: { data: floats(32), shape: [1, 32], dtype: 'float32' } }),
  gbdt_b10000: () => ({ x: { data: floats(10000 * 32), shape: [10000, 32], dtype: 'float32' } }),
  cnn_b1: () => ({ image: { data: floats(3 * 64 * 64), shape: [1, 3, 64, 64], dtype: 'float32' } }),
  image224: (input) => image(1, input),
  image224_b2: (input) => image(2, input),
  text128: () => text(128),
  text64: () => text(64),
  ...Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`picks_${i + 1}`, () => picks(i + 1)])),
};

/** The feeds a spec names: `KEY` or `KEY:ARG` (`image224:data_0`, the input's name). */
export function feeds(spec) {
  const [key, ...args] = spec.split(':');
  if (!FEEDS[key]) throw new Error(`no feeds '${key}'`);
  return FEEDS[key](...args);
}
