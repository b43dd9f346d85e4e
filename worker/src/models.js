// The models this Worker serves. `edgeinfer worker MODEL.onnx ...` writes this file.
import iris from '../models/iris.onnx';

export const MODELS = [{ name: 'iris', version: '1', bytes: iris }];
