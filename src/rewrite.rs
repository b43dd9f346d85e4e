//! Rewrites of the ONNX graph, applied before tract parses it, that put valid models tract
//! mishandles into an equivalent form it takes. Each rewrite keeps the model's meaning.

use std::collections::{HashMap, HashSet};

use tract_onnx::pb::{self, AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto};

const FLOAT: i32 = 1;
const INT64: i32 = 7;
const ATTR_TENSOR: i32 = 4;

pub(crate) fn apply(model: &mut ModelProto) {
    if let Some(graph) = model.graph.as_mut() {
        zero_recurrent_states(graph);
        fold_batch_norms(graph);
    }
}

/// Folds each BatchNormalization that follows a Conv into the Conv's weights and bias.
///
/// tract folds them too, but its broadcasting multiply over the weights runs in its
/// size-optimised generic code, and at a cold start in V8's baseline compiler: about 100 ms of
/// a 4.6 MB CNN's 580 ms start. Here each output channel is scaled by a call of its own, so the
/// loop is soon in optimised code. Only a Conv whose output feeds nothing but the
/// BatchNormalization is folded, and only with float initializers that a caller cannot
/// override as inputs; anything else is left for tract.
fn fold_batch_norms(graph: &mut GraphProto) {
    // Most graphs have none: they skip the maps below, which every load would build.
    if !graph.node.iter().any(|n| n.op_type == "BatchNormalization") {
        return;
    }
    let mut uses: HashMap<String, usize> = HashMap::new();
    count_uses(graph, &mut uses);
    for output in &graph.output {
        *uses.entry(output.name.clone()).or_default() += 1;
    }
    let fed: HashSet<&str> = graph.input.iter().map(|i| i.name.as_str()).collect();
    let inits: HashMap<String, usize> = graph
        .initializer
        .iter()
        .enumerate()
        .filter(|(_, t)| !fed.contains(t.name.as_str()))
        .map(|(i, t)| (t.name.clone(), i))
        .collect();
    let producer: HashMap<String, usize> =
        graph.node.iter().enumerate().flat_map(|(i, n)| n.output.iter().map(move |o| (o.clone(), i))).collect();
    let mut folded = Vec::new();
    for bn_index in 0..graph.node.len() {
        let bn = &graph.node[bn_index];
        if bn.op_type != "BatchNormalization" {
            continue;
        }
        let Some(&conv_index) = bn.input.first().and_then(|x| producer.get(x)) else { continue };
        if let Some(fold) = batch_norm_fold(graph, conv_index, bn_index, &uses, &inits) {
            folded.push((conv_index, bn_index, fold));
        }
    }
    let mut removed = HashSet::new();
    for (conv_index, bn_index, fold) in folded {
        set_floats(&mut graph.initializer[fold.weights], &fold.scaled_weights);
        let bias_name = match fold.own_bias {
            Some(index) => {
                set_floats(&mut graph.initializer[index], &fold.bias);
                graph.initializer[index].name.clone()
            }
            None => {
                let name = format!("{}_edgeinfer_folded_bias", graph.node[conv_index].output[0]);
                let dims = vec![fold.bias.len() as i64];
                let mut bias = TensorProto { name: name.clone(), dims, data_type: FLOAT, ..Default::default() };
                set_floats(&mut bias, &fold.bias);
                graph.initializer.push(bias);
                name
            }
        };
        let output = graph.node[bn_index].output[0].clone();
        let conv = &mut graph.node[conv_index];
        conv.input.truncate(2);
        conv.input.push(bias_name);
        conv.output[0] = output;
        removed.insert(bn_index);
    }
    let nodes = std::mem::take(&mut graph.node);
    graph.node = nodes.into_iter().enumerate().filter(|(i, _)| !removed.contains(i)).map(|(_, n)| n).collect();
}

struct Fold {
    /// The initializers the folded values replace: the weights, and the Conv's bias when
    /// nothing else reads it (else a new one is added).
    weights: usize,
    own_bias: Option<usize>,
    scaled_weights: Vec<f32>,
    bias: Vec<f32>,
}

fn batch_norm_fold(
    graph: &GraphProto,
    conv_index: usize,
    bn_index: usize,
    uses: &HashMap<String, usize>,
    inits: &HashMap<String, usize>,
) -> Option<Fold> {
    let (conv, bn) = (&graph.node[conv_index], &graph.node[bn_index]);
    let plain_domain = |n: &NodeProto| n.domain.is_empty() || n.domain == "ai.onnx";
    if conv.op_type != "Conv"
        || !plain_domain(conv)
        || !plain_domain(bn)
        || conv.output.len() != 1
        || bn.input.len() != 5
    {
        return None;
    }
    // Inference mode only: one output, per channel (`spatial`, before opset 9, defaults to 1).
    if bn.output.iter().skip(1).any(|o| !o.is_empty())
        || int_attr(bn, "training_mode").unwrap_or(0) != 0
        || int_attr(bn, "spatial").unwrap_or(1) != 1
    {
        return None;
    }
    if uses.get(&conv.output[0]).copied() != Some(1) {
        return None;
    }
    let init = |name: &String| inits.get(name).map(|&i| (i, &graph.initializer[i]));
    let (weights_index, weights) = init(conv.input.get(1)?)?;
    if uses.get(&weights.name).copied() != Some(1) {
        return None;
    }
    let w = floats(weights)?;
    let channels = usize::try_from(*weights.dims.first()?).ok()?;
    let mut params = bn.input[1..].iter().map(|name| floats(init(name)?.1));
    let (gamma, beta, mean, var) = (params.next()??, params.next()??, params.next()??, params.next()??);
    let (own_bias, conv_bias) = match conv.input.get(2).filter(|b| !b.is_empty()) {
        Some(name) => {
            let (index, bias) = init(name)?;
            (uses.get(name).is_some_and(|&n| n == 1).then_some(index), floats(bias)?)
        }
        None => (None, vec![0.0; channels]),
    };
    if channels == 0
        || w.is_empty()
        || w.len() % channels != 0
        || [&gamma, &beta, &mean, &var, &conv_bias].iter().any(|p| p.len() != channels)
    {
        return None;
    }
    let epsilon = bn.attribute.iter().find(|a| a.name == "epsilon").map_or(1e-5, |a| a.f) as f64;
    let scale: Vec<f64> = gamma.iter().zip(&var).map(|(&g, &v)| g as f64 / (v as f64 + epsilon).sqrt()).collect();
    let mut scaled_weights = w;
    let per_channel = scaled_weights.len() / channels;
    for (chunk, &s) in scaled_weights.chunks_mut(per_channel).zip(&scale) {
        scale_in_place(chunk, s);
    }
    let bias =
        (0..channels).map(|m| ((conv_bias[m] as f64 - mean[m] as f64) * scale[m] + beta[m] as f64) as f32).collect();
    Some(Fold { weights: weights_index, own_bias, scaled_weights, bias })
}

/// One call per channel, not inlined: V8 moves a wasm function to optimised code between
/// calls, never in the middle of one.
#[inline(never)]
fn scale_in_place(xs: &mut [f32], s: f64) {
    for x in xs {
        *x = (*x as f64 * s) as f32;
    }
}

fn count_uses(graph: &GraphProto, uses: &mut HashMap<String, usize>) {
    for node in &graph.node {
        for input in &node.input {
            *uses.entry(input.clone()).or_default() += 1;
        }
        for attr in &node.attribute {
            for g in attr.g.iter().chain(&attr.graphs) {
                count_uses(g, uses);
                // A subgraph may also read outer names as its outputs.
                for output in &g.output {
                    *uses.entry(output.name.clone()).or_default() += 1;
                }
            }
        }
    }
}

/// A float tensor's values, from either of its encodings; `None` for other types and for
/// data kept outside the file.
fn floats(t: &TensorProto) -> Option<Vec<f32>> {
    if t.data_type != FLOAT || t.data_location == Some(1) {
        return None;
    }
    let len = t.dims.iter().try_fold(1usize, |n, &d| n.checked_mul(usize::try_from(d).ok()?))?;
    let values: Vec<f32> = if t.raw_data.is_empty() {
        t.float_data.clone()
    } else {
        t.raw_data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
    };
    (values.len() == len).then_some(values)
}

fn set_floats(t: &mut TensorProto, values: &[f32]) {
    t.float_data.clear();
    t.raw_data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
}

/// tract builds the default (zero) initial state of LSTM, GRU and RNN with a concrete batch
/// size, so a symbolic batch fails to load. Feeding an explicit zero state computed from the
/// input's shape gives the same result for every batch size.
fn zero_recurrent_states(graph: &mut GraphProto) {
    let mut rewritten: Vec<NodeProto> = Vec::with_capacity(graph.node.len());
    let mut added_inits: Vec<TensorProto> = Vec::new();
    let nodes = std::mem::take(&mut graph.node);
    for (index, mut node) in nodes.into_iter().enumerate() {
        for attr in &mut node.attribute {
            if let Some(g) = attr.g.as_mut() {
                zero_recurrent_states(g);
            }
            for g in &mut attr.graphs {
                zero_recurrent_states(g);
            }
        }
        let state_slots: &[usize] = match node.op_type.as_str() {
            "LSTM" => &[5, 6],
            "GRU" | "RNN" => &[5],
            _ => &[],
        };
        let missing: Vec<usize> =
            state_slots.iter().copied().filter(|&slot| node.input.get(slot).is_none_or(|s| s.is_empty())).collect();
        let Some(x) = node.input.first().cloned() else {
            rewritten.push(node);
            continue;
        };
        if missing.is_empty() {
            rewritten.push(node);
            continue;
        }
        let hidden = int_attr(&node, "hidden_size").unwrap_or(0);
        let directions = if string_attr(&node, "direction").as_deref() == Some("bidirectional") { 2 } else { 1 };
        let batch_first = int_attr(&node, "layout") == Some(1);
        let dtype = node
            .input
            .get(1)
            .and_then(|w| graph.initializer.iter().find(|t| &t.name == w))
            .map(|t| t.data_type)
            .unwrap_or(FLOAT);
        let prefix = format!("edgeinfer_zero_state_{index}");
        let name = |suffix: &str| format!("{prefix}_{suffix}");
        added_inits.push(int64_tensor(&name("batch_axis"), &[if batch_first { 0 } else { 1 }]));
        added_inits.push(int64_tensor(&name("directions"), &[directions]));
        added_inits.push(int64_tensor(&name("hidden"), &[hidden]));
        let (first, second) =
            if batch_first { (name("batch"), name("directions")) } else { (name("directions"), name("batch")) };
        rewritten.push(simple_node("Shape", &[&x], &name("x_shape")));
        let mut gather = simple_node("Gather", &[&name("x_shape"), &name("batch_axis")], &name("batch"));
        gather.attribute.push(AttributeProto { name: "axis".into(), r#type: 2, i: 0, ..Default::default() });
        rewritten.push(gather);
        let mut concat = simple_node("Concat", &[&first, &second, &name("hidden")], &name("state_shape"));
        concat.attribute.push(AttributeProto { name: "axis".into(), r#type: 2, i: 0, ..Default::default() });
        rewritten.push(concat);
        let mut zeros = simple_node("ConstantOfShape", &[&name("state_shape")], &name("zeros"));
        zeros.attribute.push(AttributeProto {
            name: "value".into(),
            r#type: ATTR_TENSOR,
            t: Some(zero_scalar(dtype)),
            ..Default::default()
        });
        rewritten.push(zeros);
        for slot in missing {
            while node.input.len() <= slot {
                node.input.push(String::new());
            }
            node.input[slot] = name("zeros");
        }
        rewritten.push(node);
    }
    graph.node = rewritten;
    graph.initializer.extend(added_inits);
}

fn simple_node(op: &str, inputs: &[&str], output: &str) -> NodeProto {
    NodeProto {
        op_type: op.into(),
        name: output.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        ..Default::default()
    }
}

fn int64_tensor(name: &str, values: &[i64]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: vec![values.len() as i64],
        data_type: INT64,
        int64_data: values.to_vec(),
        ..Default::default()
    }
}

/// A one-element zero of the given ONNX element type, as ConstantOfShape's `value` wants.
fn zero_scalar(data_type: i32) -> TensorProto {
    let width = match data_type {
        10 | 16 => 2, // float16, bfloat16
        11 => 8,      // double
        _ => 4,
    };
    TensorProto { dims: vec![1], data_type, raw_data: vec![0; width], ..Default::default() }
}

fn int_attr(node: &pb::NodeProto, name: &str) -> Option<i64> {
    node.attribute.iter().find(|a| a.name == name).map(|a| a.i)
}

fn string_attr(node: &pb::NodeProto, name: &str) -> Option<String> {
    node.attribute.iter().find(|a| a.name == name).map(|a| String::from_utf8_lossy(&a.s).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_onnx::prelude::Framework;

    fn fixture(name: &str) -> ModelProto {
        let path = format!("{}/tests/fixtures/folds/{name}.onnx", env!("CARGO_MANIFEST_DIR"));
        crate::ops::framework().proto_model_for_read(&mut &std::fs::read(path).unwrap()[..]).unwrap()
    }

    fn op_types(model: &ModelProto) -> Vec<&str> {
        model.graph.as_ref().unwrap().node.iter().map(|n| n.op_type.as_str()).collect()
    }

    #[test]
    fn batch_norms_after_a_conv_fold_into_it() {
        for name in ["conv_bn", "conv_no_bias_bn", "depthwise_bn", "conv1d_bn"] {
            let mut model = fixture(name);
            apply(&mut model);
            assert_eq!(op_types(&model), ["Conv", "Relu"], "{name}");
            let graph = model.graph.as_ref().unwrap();
            let conv = &graph.node[0];
            assert_eq!((conv.input.len(), conv.output[0].as_str()), (3, "n"), "{name}");
            let bias = graph.initializer.iter().find(|t| t.name == conv.input[2]).unwrap();
            assert_eq!(
                floats(bias).unwrap().len() as i64,
                graph.initializer.iter().find(|t| t.name == "w").unwrap().dims[0]
            );
        }
    }

    #[test]
    fn batch_norms_whose_fold_would_change_another_reader_stay() {
        for name in ["conv_output_read_twice", "shared_weights"] {
            let mut model = fixture(name);
            let before = model.clone();
            apply(&mut model);
            assert_eq!(model, before, "{name}");
        }
        // Parameters a caller can feed are inputs, not constants.
        let mut model = fixture("conv_bn");
        let graph = model.graph.as_mut().unwrap();
        graph.input.push(pb::ValueInfoProto { name: "bn_mean".into(), ..Default::default() });
        apply(&mut model);
        assert_eq!(op_types(&model), ["Conv", "BatchNormalization", "Relu"]);
    }
}
