//! Rewrites of the ONNX graph, applied before tract parses it, that put valid models tract
//! mishandles into an equivalent form it takes. Each rewrite keeps the model's meaning.

use tract_onnx::pb::{self, AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto};

const FLOAT: i32 = 1;
const INT64: i32 = 7;
const ATTR_TENSOR: i32 = 4;

pub(crate) fn apply(model: &mut ModelProto) {
    if let Some(graph) = model.graph.as_mut() {
        zero_recurrent_states(graph);
    }
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
        let missing: Vec<usize> = state_slots
            .iter()
            .copied()
            .filter(|&slot| node.input.get(slot).is_none_or(|s| s.is_empty()))
            .collect();
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
        let (first, second) = if batch_first {
            (name("batch"), name("directions"))
        } else {
            (name("directions"), name("batch"))
        };
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
