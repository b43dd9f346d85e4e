// The package's behaviour, written once and run in Node (node:test), in workerd (a test
// Worker) and in headless Chromium (a test page), against the same packed tarball.
//
// suite(api, fixtures, internal) returns [{ name, fn }]; `api` is what `import * from
// 'edgeinfer'` gives, `fixtures` is decodeFixtures() of the shared corpus, `internal` the
// package's js/core.js (the same module the entry point imports), for what the package keeps
// from its users.
import { ok, equal, deepEqual, rejects, close, show, half } from './assert.mjs';

/** Same dtype, shape and values (within the case's tolerance) as the reference. */
export function assertMatches(actual, expected, tol, label) {
  ok(actual, `${label}: output missing`);
  equal(actual.dtype, expected.dtype, `${label} dtype`);
  deepEqual(Array.from(actual.shape), expected.shape, `${label} shape`);
  if (expected.dtype === 'string' || expected.dtype === 'int64' || expected.dtype === 'uint64') {
    deepEqual(Array.from(actual.data), Array.from(expected.data), `${label} values`);
  } else if (expected.dtype === 'float16') {
    close(Array.from(actual.data, half), Array.from(expected.data, half), tol, label);
  } else {
    equal(actual.data.constructor, expected.data.constructor, `${label} array type`);
    close(actual.data, expected.data, tol, label);
  }
}

/** A deterministic stream of floats in [-1, 1), so failures reproduce. */
function rand(seed) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 31 - 1;
  };
}

function floats(n, seed = 7) {
  const r = rand(seed);
  return Float32Array.from({ length: n }, r);
}

/** Replaces the first occurrence of `from` by `to` (same length) in the model's bytes. */
function patch(bytes, from, to, occurrence = 0) {
  const enc = new TextEncoder();
  const f = enc.encode(from),
    t = enc.encode(to);
  const out = bytes.slice();
  let seen = 0;
  for (let i = 0; i + f.length <= out.length; i++) {
    if (f.every((b, j) => out[i + j] === b) && seen++ === occurrence) {
      out.set(t, i);
      return out;
    }
  }
  throw new Error(`${from} not found in the model`);
}

export function suite(api, fixtures, internal) {
  const { Model } = api;
  const tests = [];
  const test = (name, fn) => tests.push({ name, fn });
  const model = (name) => fixtures.models[`${name}.onnx`];
  const mlpInput = (batch, seed) => ({ x: { data: floats(batch * 32, seed), shape: [batch, 32] } });

  // Answers may not depend on the plan: a model that never specialises, then one that runs
  // the symbolic plan twice, builds the plan for these shapes when idle (a timer), and runs it.
  const plans = [
    [{ maxSpecializedPlans: 0 }, ['symbolic plan', 'symbolic plan again']],
    [{}, ['first call', 'second call', 'specialised plan', 'specialised plan again']],
  ];
  const idle = () => new Promise((resolve) => setTimeout(resolve, 0));
  for (const c of fixtures.cases) {
    test(`corpus ${c.name} matches onnxruntime in every plan`, async () => {
      for (const [options, calls] of plans) {
        const m = await Model.load(c.model, options);
        try {
          for (const call of calls) {
            if (call === 'specialised plan') await idle();
            const out = await m.predict(c.inputs);
            for (const [name, expected] of Object.entries(c.outputs)) {
              assertMatches(out[name], expected, { rtol: c.rtol, atol: c.atol }, `${c.name} ${name} (${call})`);
            }
          }
        } finally {
          m.dispose();
        }
      }
    });
  }

  test('value inputs are marked, each set of values gets its model, and bad values are refused', async () => {
    const m = await Model.load(fixtures.models['reshape_reduce.onnx']);
    deepEqual(
      m.inputs.map((i) => [i.name, i.valueInput ?? false]),
      [
        ['x', false],
        ['shape', true],
        ['axes', true],
      ],
    );
    const x = new Float32Array(24).map((_, i) => i);
    const feeds = (shape, axis) => ({
      x: { data: x, shape: [24] },
      shape: { data: BigInt64Array.from(shape, BigInt), shape: [3] },
      axes: { data: [axis], shape: [1] },
    });
    const y = await m.predict(feeds([2, 3, 4], 1));
    deepEqual(y.y.shape, [2, 4]);
    equal(y.y.data[0], 0 + 4 + 8);
    await rejects(m.predict(feeds([5, 5, 5], 0)), 'E_INPUT_VALUE');
    const again = await m.predict(feeds([4, 6, 1], 2));
    deepEqual(again.y.shape, [4, 6]);
    equal(again.y.data[5], 5);
    m.dispose();
  });

  test('profile says where a prediction spent its time, and is not counted as one', async () => {
    const m = await Model.load(model('mlp_tabular'), { monitoring: { name: 'mlp' } });
    const times = await m.profile(mlpInput(2, 3));
    ok(times.length >= 3, JSON.stringify(times));
    for (const t of times) {
      equal(typeof t.node, 'string');
      ok(typeof t.op === 'string' && t.op.length > 0, JSON.stringify(t));
      ok(Number.isFinite(t.ms) && t.ms >= 0, JSON.stringify(t));
    }
    ok(
      times.some((t) => t.op.startsWith('DenseF32')),
      `the dense layers run fused: ${times.map((t) => t.op)}`,
    );
    equal(m.stats().predictions, 0);
    await rejects(m.profile({ x: { data: new Float32Array(3), shape: [1, 3] } }), 'E_INPUT_SHAPE');
    m.dispose();
    await rejects(m.profile(mlpInput(1, 1)), 'E_DISPOSED');
  });

  test('a model runs on every thread the instance started, or on fewer when it asks', async () => {
    const { threads } = await api.init();
    ok(Number.isInteger(threads) && threads >= 1, `init() started ${threads} threads`);
    const all = await Model.load(model('mlp_tabular'));
    const one = await Model.load(model('mlp_tabular'), { threads: 1 });
    const more = await Model.load(model('mlp_tabular'), { threads: Math.min(threads + 1, 64) });
    deepEqual([all.threads, one.threads, more.threads], [threads, 1, threads]);
    const feeds = mlpInput(3, 5);
    const [a, b] = [await all.predict(feeds), await one.predict(feeds)];
    deepEqual(Array.from(a.y.data), Array.from(b.y.data));
    await rejects(Model.load(model('mlp_tabular'), { threads: 0 }), 'E_INVALID_OPTION');
    for (const m of [all, one, more]) m.dispose();
  });

  test('load reports inputs and outputs with symbolic dimensions as strings', async () => {
    const m = await Model.load(model('mlp_tabular'));
    deepEqual(m.inputs, [{ name: 'x', dtype: 'float32', shape: ['batch', 32] }]);
    deepEqual(m.outputs, [{ name: 'y', dtype: 'float32', shape: ['batch', 1] }]);
    deepEqual(m.metadata, {});
    const sk = await Model.load(fixtures.models['sk_ridge_diabetes.onnx']);
    equal(sk.metadata.producer_name, 'skl2onnx');
    const r = await Model.load(model('recommender_topk'));
    deepEqual(r.inputs, [{ name: 'liked', dtype: 'int64', shape: ['batch', 'n_liked'] }]);
    deepEqual(
      r.outputs.map((o) => [o.name, o.dtype]),
      [
        ['top_scores', 'float32'],
        ['top_items', 'int64'],
      ],
    );
  });

  test('one loaded model serves any batch size, row by row the same as batch 1', async () => {
    const m = await Model.load(model('mlp_tabular'));
    const big = mlpInput(50, 11);
    const all = await m.predict(big);
    deepEqual(all.y.shape, [50, 1]);
    for (const row of [0, 17, 49]) {
      const one = await m.predict({ x: { data: big.x.data.slice(row * 32, row * 32 + 32), shape: [1, 32] } });
      deepEqual(one.y.shape, [1, 1]);
      close(one.y.data, [all.y.data[row]], { rtol: 1e-5, atol: 1e-6 }, `row ${row}`);
    }
    const seven = await m.predict(mlpInput(7, 3));
    deepEqual(seven.y.shape, [7, 1]);
  });

  test('plain arrays of numbers and bigints work like typed arrays', async () => {
    const m = await Model.load(model('mlp_tabular'));
    const input = mlpInput(2, 5);
    const typed = await m.predict(input);
    const plain = await m.predict({ x: { data: Array.from(input.x.data), shape: [2, 32] } });
    close(plain.y.data, typed.y.data, { rtol: 0, atol: 0 }, 'plain numbers');
    const r = await Model.load(model('recommender_topk'));
    const a = await r.predict({ liked: { data: new BigInt64Array([3n, 17n, 42n]), shape: [1, 3] } });
    const b = await r.predict({ liked: { data: [3, 17, 42], shape: [1, 3] } });
    const c = await r.predict({ liked: { data: [3n, 17n, 42n], shape: [1n, 3n], dtype: 'int64' } });
    equal(a.top_items.data.constructor, BigInt64Array);
    deepEqual(b.top_items.data, a.top_items.data, 'numbers for int64');
    deepEqual(c.top_items.data, a.top_items.data, 'bigints for int64');
  });

  test("onnxruntime-web's tensor fields (dims, type) are accepted", async () => {
    const m = await Model.load(model('mlp_tabular'));
    const input = mlpInput(3, 9);
    const a = await m.predict(input);
    const b = await m.predict({ x: { data: input.x.data, dims: [3, 32], type: 'float32' } });
    close(b.y.data, a.y.data, { rtol: 0, atol: 0 });
  });

  test('inputShapes pins a shape at load', async () => {
    const m = await Model.load(model('mlp_tabular'), { inputShapes: { x: [4, 32] } });
    deepEqual(m.inputs[0].shape, [4, 32]);
    const free = await Model.load(model('mlp_tabular'));
    const input = mlpInput(4, 2);
    close((await m.predict(input)).y.data, (await free.predict(input)).y.data, { rtol: 1e-5, atol: 1e-6 });
    await rejects(m.predict(mlpInput(2, 2)), 'E_INPUT_SHAPE', /'x'.*dimension 0 is 2, expected 4/);
    await rejects(
      Model.load(model('mlp_tabular'), { inputShapes: { nope: [1, 32] } }),
      'E_INVALID_OPTION',
      /'nope'.*x/,
    );
    await rejects(
      Model.load(model('mlp_tabular'), { inputShapes: { x: [1, 31] } }),
      'E_INVALID_OPTION',
      /dimension 1 = 31.*32/,
    );
    await rejects(Model.load(model('mlp_tabular'), { inputShapes: { x: [1] } }), 'E_INVALID_OPTION', /rank 1.*rank 2/);
    await rejects(
      Model.load(model('mlp_tabular'), { inputShapes: { x: [-1, 32] } }),
      'E_INVALID_OPTION',
      /non-negative integer/,
    );
  });

  test('bad model bytes are refused with a code, never a crash', async () => {
    const good = model('mlp_tabular');
    await rejects(Model.load(new Uint8Array(0)), 'E_MODEL_PARSE', /empty/);
    for (const cut of [1, 10, good.length >> 1, good.length - 1]) {
      const e = await rejects(async () => {
        try {
          await Model.load(good.slice(0, cut));
        } catch (err) {
          if (err.code === 'E_MODEL_INVALID') err.code = 'E_MODEL_PARSE';
          throw err;
        }
      }, 'E_MODEL_PARSE');
      ok(e.message.length > 10, `a message for a ${cut}-byte model`);
    }
    const r = rand(99);
    for (let i = 0; i < 20; i++) {
      const junk = Uint8Array.from({ length: 64 + i * 97 }, () => (r() * 128 + 128) & 255);
      let err;
      try {
        await Model.load(junk);
      } catch (e) {
        err = e;
      }
      ok(err, `random bytes #${i} were accepted as a model`);
      ok(['E_MODEL_PARSE', 'E_MODEL_INVALID'].includes(err.code), `random bytes #${i}: ${err.code} ${err.message}`);
    }
    await rejects(Model.load(new TextEncoder().encode('<html>404 Not Found</html>')), 'E_MODEL_PARSE');
  });

  test('an unsupported operator is named with its node', async () => {
    const bytes = patch(model('mlp_tabular'), 'Sigmoid', 'Sigmaid');
    await rejects(Model.load(bytes), 'E_UNSUPPORTED_OP', /Sigmaid/);
  });

  test('an inconsistent graph is E_MODEL_INVALID', async () => {
    // The second "W1" is the initializer's name; renaming it leaves the MatMul's input dangling.
    const bytes = patch(model('mlp_tabular'), 'W1', 'Q1', 1);
    await rejects(Model.load(bytes), 'E_MODEL_INVALID', /W1/);
  });

  test('bad sources and options are refused', async () => {
    await rejects(Model.load(42), 'E_INVALID_OPTION', /number.*Uint8Array/);
    await rejects(Model.load(null), 'E_INVALID_OPTION', /null/);
    await rejects(Model.load(model('mlp_tabular'), { maxInputElemnts: 5 }), 'E_INVALID_OPTION', /maxInputElemnts/);
    await rejects(Model.load(model('mlp_tabular'), { maxTensorBytes: -3 }), 'E_INVALID_OPTION', /maxTensorBytes/);
    await rejects(Model.load(model('mlp_tabular'), 'fast'), 'E_INVALID_OPTION', /options/);
  });

  test('bad inputs get coded errors naming the input, and the model keeps working', async () => {
    const m = await Model.load(model('mlp_tabular'));
    const input = mlpInput(2, 21);
    const reference = await m.predict(input);
    const data = input.x.data;
    const cases = [
      [{}, 'E_INPUT_MISSING', /missing input 'x'.*float32\[batch,32\]/],
      [{ ...input, z: input.x }, 'E_INPUT_UNKNOWN', /unknown input 'z'.*'x'/],
      [
        { x: { data: Float64Array.from(data), shape: [2, 32] } },
        'E_INPUT_DTYPE',
        /'x'.*expected float32 data, got float64/,
      ],
      [{ x: { data, shape: [2, 32], dtype: 'int32' } }, 'E_INPUT_DTYPE', /'x'.*expected float32, got dtype 'int32'/],
      [{ x: { data, shape: [2, 32], dtype: 'float' } }, 'E_INPUT_DTYPE', /unknown dtype 'float'/],
      [{ x: { data, shape: [3, 32] } }, 'E_INPUT_SHAPE', /'x'.*needs 96 values, got 64/],
      [{ x: { data, shape: [64] } }, 'E_INPUT_SHAPE', /'x'.*rank 1, expected rank 2/],
      [{ x: { data, shape: [4, 16] } }, 'E_INPUT_SHAPE', /'x'.*dimension 1 is 16, expected 32/],
      [{ x: { data, shape: [2.5, 32] } }, 'E_INPUT_SHAPE', /shape\[0\] is 2.5/],
      [{ x: { data, shape: [-2, 32] } }, 'E_INPUT_SHAPE', /shape\[0\] is -2/],
      [{ x: { data, shape: '2,32' } }, 'E_INPUT_SHAPE', /shape must be an array/],
      [{ x: { data } }, 'E_INPUT_SHAPE', /missing shape/],
      [{ x: { data: 'abc', shape: [2, 32] } }, 'E_INPUT_DTYPE', /data must be a typed array/],
      [{ x: { data: [1, 'a'], shape: [1, 2] } }, 'E_INPUT_DTYPE', /data\[1\] is .*string/],
      [{ x: { data: Array(64).fill('a'), shape: [2, 32] } }, 'E_INPUT_DTYPE', /expected float32 data, got string data/],
      [{ x: data }, 'E_INPUT_SHAPE', /'x'.*shape/],
      [{ x: null }, 'E_INPUT_SHAPE', /'x'.*expected \{ data, shape \}, got null/],
      // Would need gigabytes: refused from the numbers, before anything is allocated.
      [{ x: { data, shape: [31250000, 32] } }, 'E_INPUT_SHAPE', /needs 1000000000 values, got 64/],
      [{ x: { data, shape: [65536, 65536, 32] } }, 'E_INPUT_SHAPE', /rank 3, expected rank 2/],
      [{ x: { data, shape: [2 ** 31, 2 ** 31] } }, 'E_INPUT_SHAPE', /dimension 1 is 2147483648, expected 32/],
      [{ x: { data, shape: [31250000000, 32] } }, 'E_INPUT_SHAPE', /shape\[0\] is 31250000000, more than/],
    ];
    for (const [feeds, code, pattern] of cases) {
      await rejects(m.predict(feeds), code, pattern);
      const again = await m.predict(input);
      close(again.y.data, reference.y.data, { rtol: 0, atol: 0 }, `after ${code}`);
    }
    await rejects(m.predict(undefined), 'E_INVALID_OPTION', /feeds must be an object/);
    await rejects(m.predict([input.x]), 'E_INVALID_OPTION', /feeds must be an object/);
  });

  test('values an input type cannot hold are refused by element', async () => {
    const r = await Model.load(model('recommender_topk'));
    await rejects(
      r.predict({ liked: { data: [3, 1.5, 42], shape: [1, 3] } }),
      'E_INPUT_VALUE',
      /'liked'.*element 1 is 1.5/,
    );
    await rejects(r.predict({ liked: { data: [3, NaN], shape: [1, 2] } }), 'E_INPUT_VALUE', /element 1 is NaN/);
    await rejects(
      r.predict({ liked: { data: new Float32Array([3, 4]), shape: [1, 2] } }),
      'E_INPUT_DTYPE',
      /expected int64 data.*BigInt64Array/,
    );
    await rejects(r.predict({ liked: { data: [true], shape: [1, 1] } }), 'E_INPUT_DTYPE', /int64/);
    const out = await r.predict({ liked: { data: [3, 17, 42], shape: [1, 3] } });
    deepEqual(out.top_items.shape, [1, 10]);
  });

  test('a batch whose intermediate tensors need gigabytes is refused before it runs', async () => {
    const r = await Model.load(model('recommender_topk'));
    // 600,000 users x 500 items of float32 scores is 1.1 GiB, over the default 1 GiB limit.
    const users = 600000;
    const liked = { liked: { data: new BigInt64Array(users), shape: [users, 1] } };
    await rejects(r.predict(liked), 'E_RESOURCE_LIMIT', /GiB.*maxTensorBytes/);
    const small = await Model.load(model('recommender_topk'), { maxTensorBytes: 100000 });
    await rejects(
      small.predict({ liked: { data: new BigInt64Array(100), shape: [100, 1] } }),
      'E_RESOURCE_LIMIT',
      /KiB/,
    );
    const fine = await small.predict({ liked: { data: new BigInt64Array(2), shape: [2, 1] } });
    deepEqual(fine.top_items.shape, [2, 10]);
    const few = await Model.load(model('mlp_tabular'), { maxInputElements: 64 });
    await rejects(few.predict(mlpInput(3, 1)), 'E_RESOURCE_LIMIT', /96 elements.*64.*maxInputElements/);
    deepEqual((await few.predict(mlpInput(2, 1))).y.shape, [2, 1]);
  });

  test('a model file over a load limit is refused, naming the option, and the next load goes on', async () => {
    const bytes = model('mlp_tabular');
    await rejects(Model.load(bytes, { maxModelBytes: 1000 }), 'E_RESOURCE_LIMIT', /option maxModelBytes/);
    await rejects(Model.load(bytes, { maxNodes: 1 }), 'E_RESOURCE_LIMIT', /more than 1 nodes \(option maxNodes\)/);
    await rejects(Model.load(bytes, { maxTensorBytes: 64 }), 'E_RESOURCE_LIMIT', /would need .*option maxTensorBytes/);
    await rejects(
      Model.load(bytes, { maxGraphDepth: 0 }),
      'E_INVALID_OPTION',
      /maxGraphDepth must be a positive integer/,
    );
    const within = await Model.load(bytes, { maxModelBytes: bytes.length, maxNodes: 100, maxGraphDepth: 1 });
    deepEqual((await within.predict(mlpInput(2, 1))).y.shape, [2, 1]);
  });

  test('an out-of-range index fails the call, not the model', async () => {
    const r = await Model.load(model('recommender_topk'));
    const err = await rejects(async () => {
      try {
        await r.predict({ liked: { data: [3, 9999], shape: [1, 2] } });
      } catch (e) {
        if (e.code === 'E_INTERNAL') e.code = 'E_RUNTIME';
        throw e;
      }
    }, 'E_RUNTIME');
    ok(err.message.length > 0);
    const out = await r.predict({ liked: { data: [3, 17, 42], shape: [1, 3] } });
    deepEqual(out.top_items.shape, [1, 10]);
  });

  test('NaN and Infinity pass through, as onnxruntime does', async () => {
    const m = await Model.load(model('mlp_tabular'));
    const data = floats(64, 4);
    data[0] = NaN;
    const out = await m.predict({ x: { data, shape: [2, 32] } });
    ok(Number.isNaN(out.y.data[0]), `NaN in, ${out.y.data[0]} out`);
    ok(Number.isFinite(out.y.data[1]), 'the other row is untouched');
    const mixed = await Model.load(model('mixed_types'));
    const r = await mixed.predict({
      amount: { data: new Float32Array([Infinity, NaN, -Infinity, 5]), shape: [1, 4] },
      count: { data: [2, 2, 2, 2], shape: [1, 4] },
      flag: { data: [true, true, true, true], shape: [1, 4] },
    });
    deepEqual(Array.from(r.masked_d.data), [Infinity, NaN, -Infinity, 10].map(Number));
    ok(Number.isNaN(r.masked_d.data[1]));
    deepEqual(Array.from(r.over.data), [1, 0, 0, 0]);
    equal(r.over.data.constructor, Uint8Array);
    equal(r.masked_d.data.constructor, Float64Array);
  });

  test('dispose frees the model; later calls reject with E_DISPOSED', async () => {
    const m = await Model.load(model('mlp_tabular'));
    const other = await Model.load(model('mlp_tabular'));
    equal(m.disposed, false);
    m.dispose();
    equal(m.disposed, true);
    m.dispose();
    await rejects(m.predict(mlpInput(1, 1)), 'E_DISPOSED', /disposed/);
    deepEqual((await other.predict(mlpInput(1, 1))).y.shape, [1, 1]);
  });

  test('memory: a model reports the bytes it holds, flat over predictions, given back by dispose', async () => {
    const onnx = model('mlp_tabular');
    const m = await Model.load(onnx, { monitoring: false });
    const loaded = m.memory();
    // The weights, as given (the source of plans for new shapes): most of the file.
    ok(loaded.bytes > 0.8 * onnx.length, `holds ${loaded.bytes} bytes of a ${onnx.length}-byte model`);
    ok(loaded.bytes < 50 * onnx.length, `holds ${loaded.bytes} bytes of a ${onnx.length}-byte model`);
    ok(loaded.heapBytes >= loaded.bytes, 'the heap holds the model');
    ok(loaded.instanceBytes >= loaded.heapBytes && loaded.instanceBytes % 65536 === 0, 'memory is whole pages');
    await m.predict(mlpInput(4, 1));
    await m.predict(mlpInput(4, 2));
    await idle();
    const planned = m.memory().bytes;
    ok(planned > loaded.bytes, `the plans built add to it: ${loaded.bytes} then ${planned}`);
    for (let i = 0; i < 20; i++) await m.predict(mlpInput(4, i));
    equal(m.memory().bytes, planned, 'predictions of a seen shape hold nothing more');
    await rejects(m.predict({ x: { data: floats(31), shape: [1, 31] } }), 'E_INPUT_SHAPE');
    await m.predict(mlpInput(4, 3));
    equal(m.memory().bytes, planned, 'nor does a refused prediction');
    const other = await Model.load(onnx, { monitoring: false });
    ok(m.memory().heapBytes >= planned + other.memory().bytes, 'two models: the heap holds both');
    const before = other.memory().heapBytes;
    m.dispose();
    const after = other.memory();
    equal(m.memory().bytes, 0, 'a disposed model holds nothing');
    ok(
      before - after.heapBytes > 0.9 * planned && before - after.heapBytes <= planned,
      `dispose gives back what the model held: ${before - after.heapBytes} of ${planned} bytes`,
    );
    other.dispose();
  });

  test('every error is an EdgeInferError', async () => {
    const e1 = await rejects(Model.load(new Uint8Array(0)), 'E_MODEL_PARSE');
    ok(e1 instanceof api.EdgeInferError, 'wasm errors are EdgeInferError');
    const e2 = await rejects(Model.load(7), 'E_INVALID_OPTION');
    ok(e2 instanceof api.EdgeInferError, 'JS errors are EdgeInferError');
    const cause = new Error('below');
    const own = new api.EdgeInferError('E_INPUT_SHAPE', 'x has 3 columns', { cause });
    ok(own instanceof Error, 'an Error');
    deepEqual(
      [own.name, own.code, own.message, own.cause],
      ['EdgeInferError', 'E_INPUT_SHAPE', 'x has 3 columns', cause],
    );
  });

  test('the entry point exports the public API and nothing internal', async () => {
    deepEqual(Object.keys(api).sort(), ['EdgeInferError', 'Model', 'buildReference', 'init', 'predictionId']);
    equal(api.Model.fromBundleModule, undefined, 'bundles open through their generated modules');
  });

  test('a wasm option in a form no runtime takes is E_INVALID_OPTION, after start too', async () => {
    await Model.load(model('mlp_tabular'));
    for (const wasm of [42, { module: 'x' }]) {
      await rejects(api.init({ wasm }), 'E_INVALID_OPTION', /the wasm option takes .* got a (number|Object)/);
      await rejects(Model.load(model('mlp_tabular'), { wasm }), 'E_INVALID_OPTION', /the wasm option/);
    }
  });

  test('a panic in the core becomes E_INTERNAL and the instance keeps serving', async () => {
    const m = await Model.load(model('mlp_tabular'));
    const before = await m.predict(mlpInput(2, 8));
    for (let i = 0; i < 3; i++) {
      await rejects(async () => internal.testPanic(), 'E_INTERNAL', /index out of bounds/);
    }
    const after = await m.predict(mlpInput(2, 8));
    close(after.y.data, before.y.data, { rtol: 0, atol: 0 });
    const fresh = await Model.load(model('mlp_tabular'));
    deepEqual((await fresh.predict(mlpInput(1, 8))).y.shape, [1, 1]);
  });

  // predict hands typed arrays with plain-array shapes to the core as bytes (js/core.js
  // `stage`); a shape given as an Int32Array takes the core's general reading instead. Both
  // must agree on every answer and every refusal.
  test('typed-array feeds: the fast path and the general reading give the same outputs and errors', async () => {
    const m = await Model.load(model('mlp_tabular'));
    const general = (feeds) =>
      Object.fromEntries(Object.entries(feeds).map(([k, f]) => [k, { ...f, shape: Int32Array.from(f.shape) }]));
    const same = async (feeds, label) => {
      const [a, b] = [await m.predict(feeds), await m.predict(general(feeds))];
      deepEqual(Array.from(a.y.data), Array.from(b.y.data), `${label}: values`);
      deepEqual(a.y.shape, b.y.shape, `${label}: shape`);
      return a;
    };
    const x = floats(3 * 32, 5);
    const full = await same({ x: { data: x, shape: [3, 32] } }, 'plain');
    await same({ x: { data: x, shape: [3, 32], dtype: 'float32' } }, 'declared dtype');
    // A view into a larger buffer: only its own elements count.
    const wide = new Float32Array(200);
    wide.set(x, 40);
    const view = await same({ x: { data: wide.subarray(40, 40 + x.length), shape: [3, 32] } }, 'subarray');
    deepEqual(Array.from(view.y.data), Array.from(full.y.data), 'subarray values');
    const refusals = [
      [{ x: { data: x, shape: [4, 32] } }, 'E_INPUT_SHAPE', /x/],
      [{ x: { data: Float64Array.from(x), shape: [3, 32] } }, 'E_INPUT_DTYPE', /x.*float32/],
      [{ x: { data: Int32Array.from(x), shape: [3, 32] } }, 'E_INPUT_DTYPE', /x/],
      [{ x: { data: x, shape: [3, 32], dtype: 'float64' } }, 'E_INPUT_DTYPE', /x/],
      [{ x: { data: x, shape: [96] } }, 'E_INPUT_SHAPE', /x/],
    ];
    for (const [feeds, code, pattern] of refusals) {
      const fast = await rejects(m.predict(feeds), code, pattern);
      const slow = await rejects(m.predict(general(feeds)), code, pattern);
      equal(fast.message, slow.message, `the same message for ${code}`);
    }
    // Shapes an Int32Array cannot hold, refused with the axis named.
    await rejects(
      m.predict({ x: { data: x, shape: [3, -32] } }),
      'E_INPUT_SHAPE',
      /shape\[1\] is -32, expected a non-negative integer/,
    );
    await rejects(m.predict({ x: { data: x, shape: [NaN, 32] } }), 'E_INPUT_SHAPE', /shape\[0\] is NaN/);
    await rejects(m.predict({ x: { data: x, shape: [1.5, 32] } }), 'E_INPUT_SHAPE', /shape\[0\] is 1.5/);
    await rejects(
      m.predict({ x: { data: x, shape: [3, 32] }, extra: { data: x, shape: [3, 32] } }),
      'E_INPUT_UNKNOWN',
      /extra/,
    );
    await rejects(m.predict({}), 'E_INPUT_MISSING', /x/);
    const after = await m.predict({ x: { data: x, shape: [3, 32] } });
    deepEqual(Array.from(after.y.data), Array.from(full.y.data), 'the model still serves after every refusal');
    // int64 ids, and a model with two outputs.
    const r = await Model.load(model('recommender_topk'));
    const liked = { liked: { data: BigInt64Array.of(1n, 5n, 9n, 2n, 3n, 4n), shape: [2, 3] } };
    const [ra, rb] = [await r.predict(liked), await r.predict(general(liked))];
    deepEqual(Array.from(ra.top_items.data), Array.from(rb.top_items.data), 'int64 feeds: items');
    deepEqual(Array.from(ra.top_scores.data), Array.from(rb.top_scores.data), 'int64 feeds: scores');
    ok(ra.top_items.data instanceof BigInt64Array && ra.top_scores.data instanceof Float32Array, 'output array types');
    await rejects(r.predict({ liked: { data: BigInt64Array.of(99999n), shape: [1, 1] } }), 'E_RUNTIME', /99999/);
    m.dispose();
    await rejects(m.predict({ x: { data: x, shape: [3, 32] } }), 'E_DISPOSED');
  });

  /** Every batch `predictBatches` yields (Array.fromAsync is not in Node 20). */
  const batchesOf = async (iterable) => {
    const out = [];
    for await (const b of iterable) out.push(b);
    return out;
  };

  test('predictBatches: records in batches, outputs as predict gives them, bad records rejected by index', async () => {
    const m = await Model.load(model('mlp_tabular'), { monitoring: false });
    const data = floats(10 * 32, 3);
    const rows = Array.from({ length: 10 }, (_, i) => Array.from(data.slice(i * 32, (i + 1) * 32)));
    const whole = await m.predict({ x: { data, shape: [10, 32] } });
    async function* source() {
      for (const r of rows) yield r;
    }
    const batches = await batchesOf(m.predictBatches(source(), { batchSize: 4 }));
    deepEqual(
      batches.map((b) => b.indices),
      [
        [0, 1, 2, 3],
        [4, 5, 6, 7],
        [8, 9],
      ],
    );
    const got = batches.flatMap((b) => Array.from(b.outputs.y.data));
    close(Float32Array.from(got), whole.y.data, { rtol: 1e-6, atol: 1e-6 });
    // Bad records: too few values, a value that is no number, no record at all. The others
    // are predicted; objects are read by the feature names given.
    const names = Array.from({ length: 32 }, (_, j) => `f${j}`);
    const record = (r) => Object.fromEntries(names.map((n, j) => [n, r[j]]).reverse());
    const mixed = [record(rows[0]), { ...record(rows[1]), f7: 'abc' }, null, record(rows[3])];
    const [only] = await batchesOf(m.predictBatches(mixed, { features: names }));
    deepEqual(only.indices, [0, 3]);
    deepEqual(only.rejected, [
      { index: 1, reason: `column 'f7' "abc" is not a number` },
      { index: 2, reason: 'null is not a record (an object or an array)' },
    ]);
    close(only.outputs.y.data, Float32Array.of(whole.y.data[0], whole.y.data[3]), { rtol: 1e-6, atol: 1e-6 });
    const [short] = await batchesOf(m.predictBatches([rows[0], rows[1].slice(1)]));
    deepEqual(short.rejected, [{ index: 1, reason: '31 values, expected 32' }]);
    // A record the model refuses (an item id past the catalogue) is found and rejected alone.
    const r = await Model.load(model('recommender_topk'), { monitoring: false });
    const ids = [
      [1, 5, 9],
      [2, 99999, 4],
      [3, 4, 5],
    ];
    const [topk] = await batchesOf(r.predictBatches(ids));
    deepEqual(topk.indices, [0, 2]);
    equal(topk.rejected.length, 1);
    ok(/^E_RUNTIME: .*99999/.test(topk.rejected[0].reason), topk.rejected[0].reason);
    const direct = await r.predict({ liked: { data: BigInt64Array.of(1n, 5n, 9n, 3n, 4n, 5n), shape: [2, 3] } });
    deepEqual(Array.from(topk.outputs.top_items.data), Array.from(direct.top_items.data));
    // What cannot be a table is refused before any prediction, with a code.
    await rejects(batchesOf(m.predictBatches(42)), 'E_INVALID_OPTION', /iterable/);
    await rejects(batchesOf(m.predictBatches(rows, { batchSize: 0 })), 'E_INVALID_OPTION', /batchSize/);
    await rejects(batchesOf(m.predictBatches([{ a: 1 }], { features: names })), 'E_INPUT_MISSING', /no column 'f0'/);
    await rejects(batchesOf(m.predictBatches([[1, 2]])), 'E_INPUT_SHAPE', /takes 32 features/);
    m.dispose();
    r.dispose();
  });

  // Monitoring: the core watches every prediction; these check it through the public API.

  test('monitoring: predictions carry a hidden id, and stats count calls, rows, errors and latency', async () => {
    const { predictionId } = api;
    const m = await Model.load(model('mlp_tabular'), { monitoring: { name: 'mlp', version: '7' } });
    const ids = new Set();
    for (const batch of [1, 2, 5]) {
      const out = await m.predict(mlpInput(batch, batch));
      deepEqual(Object.keys(out), ['y'], 'the id is not an output');
      deepEqual(
        Object.entries(out).map(([k]) => k),
        ['y'],
      );
      const seen = [];
      for (const k in out) seen.push(k);
      deepEqual(seen, ['y']);
      const id = predictionId(out);
      ok(/^[0-9a-f]{8}-[0-9a-f]{24}$/.test(id), `id ${id}`);
      ok(!JSON.stringify(out).includes(id), 'JSON.stringify leaves the id out');
      equal(predictionId({ ...out }), id, 'a copy keeps it');
      ids.add(id);
    }
    equal(ids.size, 3, 'ids are distinct');
    await rejects(m.predict({ x: { data: new Float32Array(31), shape: [1, 31] } }), 'E_INPUT_SHAPE');
    await rejects(m.predict(null), 'E_INVALID_OPTION');
    const s = m.stats();
    equal(s.model, 'mlp');
    equal(s.version, '7');
    deepEqual([s.predictions, s.rows], [3, 8]);
    deepEqual(s.errors, { total: 2, byCode: { E_INPUT_SHAPE: 1, E_INVALID_OPTION: 1 } });
    equal(s.latencyMs.count, 3);
    ok(
      s.latencyMs.p50 >= 0 && s.latencyMs.p50 <= s.latencyMs.p99 && s.latencyMs.p99 <= s.latencyMs.max + 1e-9,
      JSON.stringify(s.latencyMs),
    );
    equal(s.batchSize.max, 5);
    deepEqual(
      s.batchSize.histogram.slice(0, 4).map((b) => [b.le, b.count]),
      [
        [1, 1],
        [2, 2],
        [4, 2],
        [8, 3],
      ],
    );
    equal(s.batchSize.histogram.at(-1).le, null);
    equal(s.quality.task, 'regression', 'one number per row: a regressor');
    const off = await Model.load(model('mlp_tabular'), { monitoring: false });
    equal(predictionId(await off.predict(mlpInput(1, 1))), undefined);
    await rejects(async () => off.stats(), 'E_INVALID_OPTION', /monitoring is off/);
    await rejects(
      Model.load(model('mlp_tabular'), { monitoring: { windw: 5 } }),
      'E_INVALID_OPTION',
      /monitoring\.windw/,
    );
    await rejects(
      Model.load(model('mlp_tabular'), { monitoring: { log: { sink: 'stdout' } } }),
      'E_INVALID_OPTION',
      /sink/,
    );
  });

  test('monitoring: feedback joins ground truth to predictions for quality metrics', async () => {
    const id = api.predictionId;
    const c = fixtures.cases.find((x) => x.name === 'sk_logreg_breast_cancer#1');
    const m = await Model.load(c.model, { monitoring: { qualityWindow: 100 } });
    const out = await m.predict(c.inputs);
    const labels = out.label.data;
    equal(m.feedback(id(out), labels), 32, 'BigInt64Array labels, one per row');
    equal(m.feedback(id(out), Array.from(labels, Number)), 0, 'the same labels again change nothing');
    let q = m.stats().quality;
    deepEqual([q.task, q.rows, q.accuracy], ['classification', 32, 1]);
    deepEqual(q.classes, ['0', '1']);
    const zeros = Array.from(labels).filter((l) => l === 0n).length;
    deepEqual(q.confusion, [
      [zeros, 0],
      [0, 32 - zeros],
    ]);
    ok(q.rocAuc > 0.99, `ROC AUC ${q.rocAuc}`);
    // One more prediction, labelled wrong: 32 right of 33.
    const one = await m.predict({ X: { data: c.inputs.X.data.slice(0, 30), shape: [1, 30] } });
    const wrong = one.label.data[0] === 0n ? 1 : 0;
    equal(m.feedback(id(one), wrong), 1);
    q = m.stats().quality;
    close([q.accuracy], [32 / 33], { rtol: 1e-12, atol: 0 });
    equal(m.stats().feedback.rows, 33);
    await rejects(async () => m.feedback('nope', 1), 'E_PREDICTION_UNKNOWN', /not a prediction id/);
    await rejects(
      async () => m.feedback(`${id(out).split('-')[0]}-${'0'.repeat(24)}`, 1),
      'E_PREDICTION_UNKNOWN',
      /no prediction/,
    );
    await rejects(async () => m.feedback(id(out), [1, 0]), 'E_FEEDBACK_INVALID', /32 rows, got 2 labels/);
    await rejects(async () => m.feedback(id(one), 1 - wrong), 'E_FEEDBACK_INVALID', /already has the label/);
    await rejects(async () => m.feedback(id(one), { label: 1 }), 'E_FEEDBACK_INVALID', /a label must be/);
    // Any array-like holds one label per row, as arrays and typed arrays do.
    const two = await m.predict({ X: { data: c.inputs.X.data.slice(0, 60), shape: [2, 30] } });
    equal(m.feedback(id(two), { length: 2, 0: two.label.data[0], 1: null }), 1, 'an array-like, null skipping a row');
    equal(m.feedback(id(two), { length: 2, 0: null, 1: Number(two.label.data[1]) }), 1);
    await rejects(async () => m.feedback(id(two), { length: -1 }), 'E_FEEDBACK_INVALID', /length/);
    await rejects(async () => m.feedback(id(two), { length: 1, 0: 0 }), 'E_FEEDBACK_INVALID', /2 rows, got 1 label/);
    const other = await Model.load(c.model);
    await other.predict(c.inputs);
    await rejects(async () => other.feedback(id(out), labels), 'E_PREDICTION_UNKNOWN', /another instance/);
    // A regressor: MAE and RMSE.
    const r = await Model.load(model('mlp_tabular'));
    for (const [i, offset] of [0.25, -0.25, 0.5].entries()) {
      const p = await r.predict(mlpInput(1, 40 + i));
      r.feedback(id(p), p.y.data[0] + offset);
    }
    const rq = r.stats().quality;
    close([rq.mae, rq.rmse], [1 / 3, Math.sqrt(0.375 / 3)], { rtol: 1e-9, atol: 1e-12 });
  });

  test('monitoring: drift against a reference is detected, and names the shifted feature', async () => {
    const m = await Model.load(model('mlp_tabular'));
    const reference = await m.buildReference({ x: { data: floats(2000 * 32, 101), shape: [2000, 32] } });
    equal(reference.format, 'edgeinfer-reference');
    equal(reference.rows, 2000);
    equal(reference.features.length, 32);
    equal(reference.features[5].name, 'x[5]');
    equal(reference.prediction.name, 'y');
    equal(m.stats().predictions, 0, 'a reference is not traffic');
    const watched = await Model.load(model('mlp_tabular'), {
      reference: JSON.stringify(reference),
      monitoring: { window: 500 },
    });
    equal(watched.drift().status, 'insufficient_data');
    for (let i = 0; i < 5; i++) {
      const data = floats(100 * 32, 200 + i);
      for (let row = 0; row < 100; row++) data[row * 32 + 5] += 0.5;
      await watched.predict({ x: { data, shape: [100, 32] } });
    }
    const d = watched.drift();
    equal(d.rows, 500);
    equal(d.status, 'drift');
    deepEqual(
      d.features.filter((f) => f.status === 'drift').map((f) => f.name),
      ['x[5]'],
    );
    const x5 = d.features[5];
    equal(x5.test, 'ks');
    ok(x5.pValue < d.alphaPerTest && x5.psi > x5.psiThreshold, JSON.stringify(x5));
    ok(d.features[0].pValue > d.alphaPerTest, 'an unshifted feature');
    equal(d.prediction.name, 'y');
    // Without a model: CSV text or records.
    const csv = await api.buildReference('age,country\n41,FR\n35,DE\n,FR\n');
    deepEqual(
      csv.features.map((f) => [f.name, f.type, f.count, f.missing]),
      [
        ['age', 'numeric', 2, 1],
        ['country', 'categorical', 3, 0],
      ],
    );
    deepEqual(csv.features[1].categories, [
      ['FR', 2],
      ['DE', 1],
    ]);
    const records = await api.buildReference(
      [
        { age: 41, code: 3 },
        { age: 35, code: 4 },
      ],
      { categorical: ['code'] },
    );
    deepEqual(
      records.features.map((f) => f.type),
      ['numeric', 'categorical'],
    );
    await rejects(Model.load(model('mlp_tabular'), { reference: csv }), 'E_INVALID_OPTION', /'age'.*x\[0\]/);
    await rejects(
      Model.load(model('mlp_tabular'), { reference: '{"format": "nope"}' }),
      'E_INVALID_OPTION',
      /reference/,
    );
    await rejects(api.buildReference('a,b\n1\n'), 'E_INVALID_OPTION', /data row 1 has 1 fields/);
  });

  test('monitoring: prediction logs reach the sink, sampled, and never with redacted fields', async () => {
    const names = Array.from({ length: 32 }, (_, i) => `f${i}`);
    const lines = [];
    const m = await Model.load(model('mlp_tabular'), {
      monitoring: {
        name: 'mlp',
        version: '1',
        features: names,
        log: { sink: (line) => lines.push(line), includeInputs: true, redact: ['f3'] },
      },
    });
    const input = mlpInput(2, 8);
    input.x.data[3] = 12345.678;
    input.x.data[35] = 23456.789;
    const out = await m.predict(input);
    await rejects(m.predict({ x: { data: input.x.data, shape: [1, 32] } }), 'E_INPUT_SHAPE');
    equal(lines.length, 2);
    const first = JSON.parse(lines[0]);
    deepEqual([first.id, first.model, first.version, first.rows], [api.predictionId(out), 'mlp', '1', 2]);
    ok(typeof first.latency_ms === 'number' && /^\d{4}-\d\d-\d\dT/.test(first.time), lines[0]);
    close(first.outputs.y.data, out.y.data, { rtol: 1e-6, atol: 0 });
    deepEqual(first.outputs.y.shape, [2, 1]);
    close(first.inputs.f0, [input.x.data[0], input.x.data[32]], { rtol: 1e-6, atol: 0 });
    equal(JSON.parse(lines[1]).error, 'E_INPUT_SHAPE');
    // The console sink, and the redacted feature in neither.
    const printed = [];
    const log = console.log;
    console.log = (line) => printed.push(line);
    try {
      m.configureLogs({ sink: 'console', includeInputs: true, redact: ['f3'] });
      await m.predict(input);
    } finally {
      console.log = log;
    }
    equal(printed.length, 1);
    for (const line of [...lines, ...printed]) {
      ok(
        !line.includes('"f3"') && !line.includes('12345.6') && !line.includes('23456.7'),
        `a redacted value was logged: ${line}`,
      );
    }
    // Without a sink, sampled lines wait for takeLogs(), bounded.
    m.configureLogs({ sampleRate: 0.5, maxLines: 50 });
    const before = m.stats().logs.written;
    for (let i = 0; i < 200; i++) await m.predict(mlpInput(1, i));
    const kept = m.takeLogs();
    equal(kept.length, 50, 'the oldest were dropped');
    deepEqual(m.takeLogs(), []);
    const s = m.stats().logs;
    const written = s.written - before;
    ok(written > 60 && written < 140, `${written} of 200 sampled at 50%`);
    equal(s.dropped, written - 50);
    equal(s.sampledOut, 200 - written);
    ok(!kept.some((l) => l.includes('"inputs"')), 'inputs only when asked');
  });

  test("monitoring: a reference's column names name the features, in drift and in redaction", async () => {
    const names = ['mean_radius', ...Array.from({ length: 31 }, (_, i) => `c${i + 1}`)];
    const rows = Array.from({ length: 20 }, (_, r) => names.map((_, j) => ((r * 7 + j) % 11) / 10).join(','));
    const reference = await api.buildReference(`${names.join(',')}\n${rows.join('\n')}\n`);
    const lines = [];
    const m = await Model.load(model('mlp_tabular'), {
      reference,
      monitoring: { log: { sink: (line) => lines.push(line), includeInputs: true, redact: ['mean_radius', 'x[2]'] } },
    });
    const input = mlpInput(1, 3);
    input.x.data[0] = 12345.678;
    input.x.data[2] = 23456.789;
    await m.predict(input);
    const logged = JSON.parse(lines[0]).inputs;
    ok(!('mean_radius' in logged) && !('c2' in logged) && !('x[0]' in logged), Object.keys(logged).join());
    ok(!lines[0].includes('12345.6') && !lines[0].includes('23456.7'), lines[0]);
    close(logged.c1, [input.x.data[1]], { rtol: 1e-6, atol: 0 });
    deepEqual(
      m
        .drift()
        .features.slice(0, 2)
        .map((f) => f.name),
      ['mean_radius', 'c1'],
    );
  });

  test('monitoring: Prometheus text with model and version labels', async () => {
    const m = await Model.load(model('mlp_tabular'), { monitoring: { name: 'mlp', version: '7' } });
    await m.predict(mlpInput(3, 1));
    await rejects(m.predict({}), 'E_INPUT_MISSING');
    const text = m.prometheus();
    for (const line of [
      '# TYPE edgeinfer_predictions_total counter',
      'edgeinfer_predictions_total{model="mlp",version="7"} 1',
      'edgeinfer_predict_rows_total{model="mlp",version="7"} 3',
      'edgeinfer_predict_errors_total{model="mlp",version="7",code="E_INPUT_MISSING"} 1',
      '# TYPE edgeinfer_predict_duration_seconds histogram',
      'edgeinfer_predict_duration_seconds_bucket{model="mlp",version="7",le="+Inf"} 1',
      'edgeinfer_predict_duration_seconds_count{model="mlp",version="7"} 1',
      'edgeinfer_predict_batch_size_bucket{model="mlp",version="7",le="4"} 1',
    ]) {
      ok(text.split('\n').includes(line), `missing ${line} in\n${text}`);
    }
    ok(m.prometheus({ model: 'other' }).includes('edgeinfer_predictions_total{model="other"} 1'));
    await rejects(async () => m.prometheus({ le: '1' }), 'E_INVALID_OPTION');
  });

  return tests;
}

/** Runs every test, returning [{ name, ok, error? }] (for runtimes without a test runner). */
export async function runSuite(api, fixtures, filter, internal) {
  const results = [];
  for (const t of suite(api, fixtures, internal)) {
    if (filter && !filter.test(t.name)) continue;
    try {
      await t.fn();
      results.push({ name: t.name, ok: true });
    } catch (e) {
      results.push({ name: t.name, ok: false, error: `${e?.code ?? ''} ${e?.message ?? show(e)}`.trim() });
    }
  }
  return results;
}
