// Deterministic inputs for the benchmarked models.
function floats(n, seed = 1) {
  let x = seed;
  return Float32Array.from({ length: n }, () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 1073741824 - 1;
  });
}

export const FEEDS = {
  mlp_b1: () => ({ x: { data: floats(32), shape: [1, 32], dtype: 'float32' } }),
  mlp_b256: () => ({ x: { data: floats(256 * 32), shape: [256, 32], dtype: 'float32' } }),
  encoder_s16: () => ({ x: { data: floats(16 * 32), shape: [1, 16, 32], dtype: 'float32' } }),
  gbdt_b1: () => ({ x: { data: floats(32), shape: [1, 32], dtype: 'float32' } }),
  gbdt_b10000: () => ({ x: { data: floats(10000 * 32), shape: [10000, 32], dtype: 'float32' } }),
  cnn_b1: () => ({ image: { data: floats(3 * 64 * 64), shape: [1, 3, 64, 64], dtype: 'float32' } }),
};
