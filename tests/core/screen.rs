//! Model files refused from what they declare, before tract builds anything from them: the
//! load limits (file size, nodes, nesting, declared tensor sizes) and weights in external
//! files. Each refusal names its option, and a model within the limits loads.

use crate::common::{corpus_dir, node, value_info};
use edgeinfer::{Limits, LoadOptions, Model};
use prost::Message;
use tract_onnx::pb;

const F32: i32 = 1;
const BOOL: i32 = 9;
const I64: i32 = 7;

fn model(graph: pb::GraphProto) -> Vec<u8> {
    pb::ModelProto {
        ir_version: 8,
        opset_import: vec![pb::OperatorSetIdProto { domain: String::new(), version: 13 }],
        graph: Some(graph),
        ..Default::default()
    }
    .encode_to_vec()
}

fn with(limits: Limits) -> LoadOptions {
    LoadOptions { limits, ..Default::default() }
}

/// `load` refused with E_RESOURCE_LIMIT (or `code`), its message containing `needle`.
fn refused(bytes: &[u8], options: &LoadOptions, code: &str, needle: &str) {
    let e = Model::load(bytes, options).unwrap_err();
    assert_eq!(e.code(), code, "{e}");
    assert!(e.to_string().contains(needle), "{e}");
}

fn tensor(name: &str, data_type: i32, dims: &[i64]) -> pb::TensorProto {
    pb::TensorProto { name: name.into(), data_type, dims: dims.to_vec(), ..Default::default() }
}

/// y = If(c): each branch a graph making a constant `[1]`, itself holding another If until
/// `depth` graphs nest.
fn nested(depth: usize) -> pb::GraphProto {
    fn branch(depth: usize, name: &str) -> pb::GraphProto {
        let out = format!("{name}_out");
        let mut made = node("Constant", &[], &out);
        made.attribute.push(pb::AttributeProto {
            name: "value".into(),
            r#type: pb::attribute_proto::AttributeType::Tensor as i32,
            t: Some(pb::TensorProto { float_data: vec![1.0], ..tensor("", F32, &[1]) }),
            ..Default::default()
        });
        let mut nodes = vec![made];
        if depth > 1 {
            nodes = vec![choose(depth - 1, &out)];
        }
        pb::GraphProto {
            name: name.into(),
            node: nodes,
            output: vec![value_info(&out, F32, &[1])],
            ..Default::default()
        }
    }
    fn choose(depth: usize, out: &str) -> pb::NodeProto {
        branches(out, |name| branch(depth, &format!("{name}{depth}")))
    }
    pb::GraphProto {
        name: "main".into(),
        node: vec![choose(depth - 1, "y")],
        input: vec![value_info("c", BOOL, &[])],
        output: vec![value_info("y", F32, &[1])],
        ..Default::default()
    }
}

/// `out` = If(c), its branches `branch("then")` and `branch("else")`.
fn branches(out: &str, branch: impl Fn(&str) -> pb::GraphProto) -> pb::NodeProto {
    let mut n = node("If", &["c"], out);
    for (attr, name) in [("then_branch", "then"), ("else_branch", "else")] {
        n.attribute.push(pb::AttributeProto {
            name: attr.into(),
            r#type: pb::attribute_proto::AttributeType::Graph as i32,
            g: Some(branch(name)),
            ..Default::default()
        });
    }
    n
}

#[test]
fn files_over_the_size_limit_are_refused_before_decoding() {
    let mlp = std::fs::read(corpus_dir().join("mlp_tabular.onnx")).unwrap();
    let small = Limits { max_model_bytes: 100, ..Limits::default() };
    refused(&mlp, &with(small), "E_RESOURCE_LIMIT", "(option maxModelBytes)");
    Model::load(&mlp, &with(Limits { max_model_bytes: mlp.len() as u64, ..Limits::default() })).unwrap();
}

#[test]
fn nodes_are_counted_in_nested_graphs_and_nesting_is_bounded() {
    let two = model(nested(2));
    Model::load(&two, &LoadOptions::default()).unwrap();
    // The main graph's If and one Constant in each branch.
    refused(&two, &with(Limits { max_nodes: 2, ..Limits::default() }), "E_RESOURCE_LIMIT", "more than 2 nodes");
    Model::load(&two, &with(Limits { max_nodes: 3, ..Limits::default() })).unwrap();
    refused(&two, &with(Limits { max_graph_depth: 1, ..Limits::default() }), "E_RESOURCE_LIMIT", "nested 2 deep");
    let deep = model(nested(17));
    refused(&deep, &LoadOptions::default(), "E_RESOURCE_LIMIT", "more than the limit of 16 (option maxGraphDepth)");
}

#[test]
fn declared_tensors_over_the_tensor_limit_are_refused() {
    let graph = |input: &[i64], initializers: Vec<pb::TensorProto>, nodes: Vec<pb::NodeProto>| {
        model(pb::GraphProto {
            name: "g".into(),
            node: nodes,
            initializer: initializers,
            input: vec![value_info("x", F32, input)],
            output: vec![value_info("y", F32, &[])],
            ..Default::default()
        })
    };
    let relu = || vec![node("Relu", &["x"], "y")];
    let huge = graph(&[1_000_000, 1_000_000], vec![], relu());
    refused(&huge, &LoadOptions::default(), "E_RESOURCE_LIMIT", "tensor 'x' as declared would need 3.6 TiB");
    // An initializer declared far larger than its data, and a constant tract would make at
    // load: neither is allocated.
    let weights = graph(&[2], vec![tensor("w", F32, &[1 << 20, 1 << 20])], vec![node("Add", &["x", "w"], "y")]);
    refused(&weights, &LoadOptions::default(), "E_RESOURCE_LIMIT", "initializer 'w' would need 4.0 TiB");
    let shape = pb::TensorProto { int64_data: vec![20_000, 20_000], ..tensor("shape", I64, &[2]) };
    let filled =
        graph(&[2], vec![shape], vec![node("ConstantOfShape", &["shape"], "c"), node("Add", &["x", "c"], "y")]);
    refused(&filled, &LoadOptions::default(), "E_RESOURCE_LIMIT", "ConstantOfShape node '' would need 1.5 GiB");
    let tight = Limits { max_tensor_bytes: 4, ..Limits::default() };
    refused(&graph(&[2], vec![], relu()), &with(tight), "E_RESOURCE_LIMIT", "(option maxTensorBytes)");
}

/// Constants tract computes while it reads the file (every input a constant), each sized by
/// values no declaration states (some by operands its shape rules do not read): refused
/// before they are computed, where they were allocated first (terabytes here, which aborted
/// the process).
#[test]
fn constants_computed_while_reading_are_held_to_the_tensor_limit() {
    // A scalar, or a vector with `dims` [n].
    let ints = |name: &str, dims: &[i64], values: &[i64]| pb::TensorProto {
        int64_data: values.to_vec(),
        ..tensor(name, I64, dims)
    };
    let floats = |name: &str, values: &[f32]| pb::TensorProto {
        float_data: values.to_vec(),
        ..tensor(name, F32, &[values.len() as i64])
    };
    // tract reads some of these operands as 32-bit integers: 2^30 four-byte elements is 4 GiB.
    let big = 1i64 << 30;
    let cases: Vec<(&str, Vec<pb::NodeProto>, Vec<pb::TensorProto>)> = vec![
        (
            "Range node 'r'",
            vec![node("Range", &["a", "b", "d"], "r"), node("Cast", &["r"], "c")],
            vec![ints("a", &[], &[0]), ints("b", &[], &[big << 10]), ints("d", &[], &[1])],
        ),
        ("Tile node 'c'", vec![node("Tile", &["t", "n"], "c")], vec![floats("t", &[1.0]), ints("n", &[1], &[big])]),
        (
            "MultiBroadcastTo node 'c'",
            vec![node("Expand", &["t", "n"], "c")],
            vec![floats("t", &[1.0]), ints("n", &[1], &[big])],
        ),
        ("Pad node 'c'", vec![node("Pad", &["t", "n"], "c")], vec![floats("t", &[1.0]), ints("n", &[2], &[0, big])]),
        (
            "Resize node 'c'",
            vec![node("Resize", &["t", "", "n"], "c")],
            vec![floats("t", &[1.0]), floats("n", &[big as f32])],
        ),
        (
            "ConstantOfShape node 'c'",
            vec![node("Concat", &["p", "q"], "s"), node("ConstantOfShape", &["s"], "c")],
            vec![ints("p", &[1], &[1 << 20]), ints("q", &[1], &[1 << 20])],
        ),
    ];
    for (what, mut nodes, initializer) in cases {
        for n in &mut nodes {
            n.name = n.output[0].clone();
        }
        if let Some(concat) = nodes.iter_mut().find(|n| n.op_type == "Concat") {
            concat.attribute.push(pb::AttributeProto { name: "axis".into(), r#type: 2, i: 0, ..Default::default() });
        }
        if let Some(cast) = nodes.iter_mut().find(|n| n.op_type == "Cast") {
            cast.attribute.push(pb::AttributeProto {
                name: "to".into(),
                r#type: 2,
                i: F32 as i64,
                ..Default::default()
            });
        }
        nodes.push(node("Add", &["x", "c"], "y"));
        let bytes = model(pb::GraphProto {
            name: "g".into(),
            node: nodes,
            initializer,
            input: vec![value_info("x", F32, &[1])],
            output: vec![value_info("y", F32, &[])],
            ..Default::default()
        });
        refused(
            &bytes,
            &LoadOptions::default(),
            "E_RESOURCE_LIMIT",
            &format!("{what} computes a constant while the model is read that would need"),
        );
        refused(
            &bytes,
            &LoadOptions::default(),
            "E_RESOURCE_LIMIT",
            "more than the limit of 1.0 GiB (option maxTensorBytes)",
        );
    }
}

/// The same inside a branch: its graph is read with its parent.
#[test]
fn constants_computed_in_a_branch_are_held_to_the_tensor_limit() {
    let ints = |name: &str, value: i64| pb::TensorProto { int64_data: vec![value], ..tensor(name, I64, &[]) };
    let branch = |name: &str| pb::GraphProto {
        name: name.into(),
        node: vec![pb::NodeProto { name: format!("{name}_range"), ..node("Range", &["a", "b", "d"], "o") }],
        initializer: vec![ints("a", 0), ints("b", 1 << 40), ints("d", 1)],
        output: vec![value_info("o", I64, &[])],
        ..Default::default()
    };
    let bytes = model(pb::GraphProto {
        name: "main".into(),
        node: vec![branches("y", branch)],
        input: vec![value_info("c", BOOL, &[])],
        output: vec![value_info("y", I64, &[])],
        ..Default::default()
    });
    refused(
        &bytes,
        &LoadOptions::default(),
        "E_RESOURCE_LIMIT",
        "Range node 'then_range' computes a constant while the model is read that would need 8.0 TiB",
    );
}

#[test]
fn weights_in_external_files_are_refused_by_name() {
    let external = pb::TensorProto {
        data_location: Some(pb::tensor_proto::DataLocation::External as i32),
        external_data: vec![pb::StringStringEntryProto { key: "location".into(), value: "weights.bin".into() }],
        ..tensor("w", F32, &[2])
    };
    let bytes = model(pb::GraphProto {
        name: "g".into(),
        node: vec![node("Add", &["x", "w"], "y")],
        initializer: vec![external],
        input: vec![value_info("x", F32, &[2])],
        output: vec![value_info("y", F32, &[2])],
        ..Default::default()
    });
    refused(
        &bytes,
        &LoadOptions::default(),
        "E_UNSUPPORTED_OP",
        "initializer 'w' keeps its data in an external file ('weights.bin')",
    );
}

#[test]
fn outputs_that_nothing_makes_are_refused_by_name() {
    let bytes = |output: &str| {
        model(pb::GraphProto {
            name: "g".into(),
            node: vec![node("Relu", &["x"], "y")],
            input: vec![value_info("x", F32, &[2])],
            output: vec![value_info(output, F32, &[2])],
            ..Default::default()
        })
    };
    Model::load(&bytes("y"), &LoadOptions::default()).unwrap();
    // Found by fuzzing: tract's parser panicked on the lookup (E_INTERNAL).
    refused(&bytes("z"), &LoadOptions::default(), "E_MODEL_INVALID", "graph 'g' has output 'z', which none");
    // In a nested graph too: a branch whose output is made by nothing in it.
    let mut branchy = nested(2);
    let branch = branchy.node[0].attribute[0].g.as_mut().unwrap();
    branch.output[0].name = "nowhere".into();
    refused(&model(branchy), &LoadOptions::default(), "E_MODEL_INVALID", "has output 'nowhere'");
}
