//! Value inputs: graph inputs tract needs as constants (here a Reshape's shape and a
//! ReduceSum's axes), typed once per set of values.

use crate::common::{node, value_info};
use edgeinfer::{Feed, HostTensor, LoadOptions, Model, Values};
use prost::Message;
use tract_onnx::pb;

/// y = ReduceSum(Reshape(x, shape), axes), keepdims=0: both `shape` and `axes` are inputs.
fn model() -> Vec<u8> {
    const F32: i32 = 1;
    const I64: i32 = 7;
    let graph = pb::GraphProto {
        name: "values".into(),
        node: vec![node("Reshape", &["x", "shape"], "r"), {
            let mut n = node("ReduceSum", &["r", "axes"], "y");
            n.attribute.push(pb::AttributeProto {
                name: "keepdims".into(),
                i: 0,
                r#type: pb::attribute_proto::AttributeType::Int as i32,
                ..Default::default()
            });
            n
        }],
        input: vec![value_info("x", F32, &[6]), value_info("shape", I64, &[2]), value_info("axes", I64, &[1])],
        output: vec![pb::ValueInfoProto { name: "y".into(), ..value_info("y", F32, &[]) }],
        ..Default::default()
    };
    let model = pb::ModelProto {
        ir_version: 8,
        opset_import: vec![pb::OperatorSetIdProto { domain: String::new(), version: 13 }],
        graph: Some(graph),
        ..Default::default()
    };
    model.encode_to_vec()
}

fn feeds(shape: [i64; 2], axis: i64) -> Vec<(String, Feed)> {
    let x = HostTensor::new(vec![6], Values::Float32(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
    vec![
        ("x".into(), Feed::new(x)),
        ("shape".into(), Feed::new(HostTensor::new(vec![2], Values::Int64(shape.to_vec())))),
        ("axes".into(), Feed::new(HostTensor::new(vec![1], Values::Int64(vec![axis])))),
    ]
}

fn y(model: &mut Model, shape: [i64; 2], axis: i64) -> HostTensor {
    model.predict(feeds(shape, axis)).unwrap().remove(0).1
}

#[test]
fn value_inputs_are_named_and_each_set_of_values_gets_its_model() {
    let mut model = Model::load(&model(), &LoadOptions::default()).unwrap();
    let flagged: Vec<(&str, bool)> = model.inputs().map(|i| (i.name.as_str(), i.value)).collect();
    assert_eq!(flagged, [("x", false), ("shape", true), ("axes", true)]);
    assert_eq!(model.value_sets(), 0, "no values seen yet, so nothing is typed");

    assert_eq!(y(&mut model, [2, 3], 1), HostTensor::new(vec![2], Values::Float32(vec![6.0, 15.0])));
    assert_eq!(y(&mut model, [2, 3], 0), HostTensor::new(vec![3], Values::Float32(vec![5.0, 7.0, 9.0])));
    assert_eq!(y(&mut model, [3, 2], 1), HostTensor::new(vec![3], Values::Float32(vec![3.0, 7.0, 11.0])));
    assert_eq!(model.value_sets(), 3);
    // Seen values reuse their model.
    assert_eq!(y(&mut model, [2, 3], 1), HostTensor::new(vec![2], Values::Float32(vec![6.0, 15.0])));
    assert_eq!(model.value_sets(), 3);
}

#[test]
fn the_cache_of_values_is_bounded() {
    let options = LoadOptions { max_specialized_plans: 2, ..LoadOptions::default() };
    let mut model = Model::load(&model(), &options).unwrap();
    for (shape, axis) in [([2, 3], 0), ([2, 3], 1), ([3, 2], 0), ([3, 2], 1), ([1, 6], 1)] {
        y(&mut model, shape, axis);
        assert!(model.value_sets() <= 2);
    }
    assert_eq!(y(&mut model, [6, 1], 0), HostTensor::new(vec![1], Values::Float32(vec![21.0])));
}

#[test]
fn values_the_graph_cannot_run_with_are_refused_and_the_model_stays_usable() {
    let mut model = Model::load(&model(), &LoadOptions::default()).unwrap();
    let err = model.predict(feeds([4, 4], 0)).unwrap_err();
    assert_eq!(err.code(), "E_INPUT_VALUE", "{err}");
    assert!(err.to_string().contains("shape"), "names the value input: {err}");
    let err = model.predict(feeds([2, 3], 5)).unwrap_err();
    assert!(matches!(err.code(), "E_INPUT_VALUE" | "E_RUNTIME"), "{err}");
    // A value input of the wrong element type is refused before anything is typed.
    let mut bad = feeds([2, 3], 0);
    bad[1].1 = Feed::new(HostTensor::new(vec![2], Values::Float32(vec![2.0, 3.0])));
    assert_eq!(model.predict(bad).unwrap_err().code(), "E_INPUT_DTYPE");
    assert_eq!(y(&mut model, [2, 3], 1), HostTensor::new(vec![2], Values::Float32(vec![6.0, 15.0])));
}

#[test]
fn a_missing_value_input_is_named() {
    let mut model = Model::load(&model(), &LoadOptions::default()).unwrap();
    let mut partial = feeds([2, 3], 0);
    partial.remove(2);
    let err = model.predict(partial).unwrap_err();
    assert_eq!(err.code(), "E_INPUT_MISSING");
    assert!(err.to_string().contains("axes"), "{err}");
}
