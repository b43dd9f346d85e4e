// Compiled with `tsc --noEmit`: the public types accept what the README shows and refuse
// what they must (each @ts-expect-error fails the build if the line ever type-checks).
import { Model, init, EdgeInferError, type Outputs, type TensorInfo, type ErrorCode } from 'edgeinfer';

async function main(): Promise<void> {
  await init();
  const model: Model = await Model.load('model.onnx', { inputShapes: { x: [1, 32] }, maxTensorBytes: 1 << 20 });
  const infos: readonly TensorInfo[] = model.inputs;
  const first: string | number | undefined = infos[0]?.shape[0];
  const out: Outputs = await model.predict({ x: { data: new Float32Array(32), shape: [1, 32] } });
  await model.predict({ ids: { data: [1n, 2n], shape: [1, 2], dtype: 'int64' } });
  await model.predict({ x: { data: new Float32Array(32), dims: [1, 32], type: 'float32' } });
  const y = out['y'];
  if (y?.dtype === 'int64') {
    const ints: BigInt64Array = y.data;
    void ints;
  }
  if (y?.dtype === 'string') {
    const strings: string[] = y.data;
    void strings;
  }
  if (y?.dtype === 'map') {
    const rows: Array<Record<string, number>> = y.data;
    void rows;
  }
  try {
    await Model.load(new Uint8Array(0));
  } catch (e) {
    if (e instanceof EdgeInferError) {
      const code: ErrorCode = e.code;
      void code;
    }
  }
  model.dispose();
  const disposed: boolean = model.disposed;
  void first;
  void disposed;
  // @ts-expect-error an unknown dtype
  await model.predict({ x: { data: [1], shape: [1], dtype: 'float' } });
  // @ts-expect-error 'map' is an output-only type
  await model.predict({ x: { data: [1], shape: [1], dtype: 'map' } });
  // @ts-expect-error options are typed
  await Model.load('m.onnx', { inputShape: {} });
  // @ts-expect-error a number is not a model source
  await Model.load(42);
}
void main;
