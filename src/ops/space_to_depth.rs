//! SpaceToDepth (ONNX). tract ignores `mode` and always orders the output channels DCR
//! (block row, block column, channel), so a CRD model silently got its channels shuffled.
//! Both orders are the same reshape and transposition, only the axes moved differ.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::ml::{Built, label};

pub(super) fn build(_ctx: &ParsingContext, node: &NodeProto) -> Built {
    let blocksize: i64 = node.get_attr("blocksize")?;
    let mode: String = node.get_attr_opt("mode")?.unwrap_or_else(|| "DCR".to_string());
    let crd = match mode.as_str() {
        "DCR" => false,
        "CRD" => true,
        other => bail!("{}: mode is '{other}', expected DCR or CRD", label(node)),
    };
    if blocksize < 1 {
        bail!("{}: blocksize is {blocksize}, expected at least 1", label(node));
    }
    Ok((expand(SpaceToDepth { label: label(node), blocksize: blocksize as usize, crd }), vec![]))
}

#[derive(Debug, Clone, Hash, PartialEq, Eq)]
struct SpaceToDepth {
    label: String,
    blocksize: usize,
    /// Channels ordered (channel, block row, block column), else (block row, block column,
    /// channel).
    crd: bool,
}

impl SpaceToDepth {
    fn output_shape(&self, x: &[TDim]) -> TVec<TDim> {
        let b = self.blocksize;
        tvec!(x[0].clone(), x[1].clone() * b * b, x[2].clone() / b, x[3].clone() / b)
    }
}

impl Expansion for SpaceToDepth {
    fn name(&self) -> StaticName {
        "SpaceToDepth".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 1)?;
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].rank, 4)?;
        s.equals(&outputs[0].rank, 4)?;
        s.equals(&outputs[0].datum_type, &inputs[0].datum_type)?;
        s.given(&inputs[0].shape, move |s, shape| {
            s.equals(&outputs[0].shape, ShapeFactoid::from(self.output_shape(&shape)))
        })
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        let x = model.outlet_fact(inputs[0])?.shape.to_tvec();
        let b: TDim = self.blocksize.into();
        for (axis, what) in [(2, "height"), (3, "width")] {
            if let Ok(d) = x[axis].to_usize()
                && d % self.blocksize != 0
            {
                bail!("{}: the input's {what} {d} is not a multiple of blocksize {}", self.label, self.blocksize);
            }
        }
        let y = self.output_shape(&x);
        // [N, C, H/b, b, W/b, b], then the two block axes next to C, before it for DCR.
        let mut ops = vec![AxisOp::Reshape(
            2,
            tvec!(x[2].clone(), x[3].clone()),
            tvec!(y[2].clone(), b.clone(), y[3].clone(), b.clone()),
        )];
        let channels = if self.crd {
            ops.extend([AxisOp::Move(3, 2), AxisOp::Move(5, 3)]);
            tvec!(x[1].clone(), b.clone(), b)
        } else {
            ops.extend([AxisOp::Move(3, 1), AxisOp::Move(5, 2)]);
            tvec!(b.clone(), b, x[1].clone())
        };
        ops.push(AxisOp::Reshape(1, channels, tvec!(y[1].clone())));
        let mut wire = tvec!(inputs[0]);
        for (ix, op) in ops.into_iter().enumerate() {
            wire = model.wire_node(format!("{prefix}.{ix}"), op, &wire)?;
        }
        Ok(wire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(crd: bool, x: &Tensor) -> TractResult<Tensor> {
        let op = SpaceToDepth { label: "s2d".into(), blocksize: 2, crd };
        let mut model = TypedModel::default();
        let source = model.add_source("x", f32::fact(x.shape()))?;
        let y = op.wire("op", &mut model, &[source])?;
        model.select_output_outlets(&y)?;
        Ok(model.into_runnable()?.run(tvec!(x.clone().into_tvalue()))?[0].clone().into_tensor())
    }

    /// The onnx reference: y[n, c', i, j] where c' counts (channel, row, column) for CRD and
    /// (row, column, channel) for DCR, from x[n, c, i*2+row, j*2+column].
    #[test]
    fn both_modes_order_channels_as_the_standard_says() {
        let (c, h, w) = (2, 4, 6);
        let x: Vec<f32> = (0..c * h * w).map(|v| v as f32).collect();
        let x = Tensor::from_shape(&[1, c, h, w], &x).unwrap();
        for crd in [false, true] {
            let mut expected = vec![0f32; c * h * w];
            for ch in 0..c {
                for row in 0..2 {
                    for col in 0..2 {
                        let out_c = if crd { ch * 4 + row * 2 + col } else { (row * 2 + col) * c + ch };
                        for i in 0..h / 2 {
                            for j in 0..w / 2 {
                                expected[(out_c * (h / 2) + i) * (w / 2) + j] =
                                    ((ch * h + i * 2 + row) * w + j * 2 + col) as f32;
                            }
                        }
                    }
                }
            }
            let expected = Tensor::from_shape(&[1, c * 4, h / 2, w / 2], &expected).unwrap();
            assert_eq!(run(crd, &x).unwrap(), expected, "crd: {crd}");
        }
    }

    /// onnx's test_spacetodepth_crd_mode_example, through the registry.
    #[test]
    fn the_registry_gives_crd_mode_to_this_operator() {
        use crate::ops::testing::{Attr, attr, run_node};
        let x: Vec<f32> = (0..48).map(|v| v as f32).collect();
        let x = Tensor::from_shape(&[1, 2, 4, 6], &x).unwrap();
        let attrs = vec![attr("blocksize", Attr::Int(2)), attr("mode", Attr::Str("CRD"))];
        let y = run_node("SpaceToDepth", attrs, &[("x", x)], &["y"]).unwrap();
        // Channel 1 is x's channel 0, rows 0 and 2, columns 1, 3 and 5.
        let channel1 = y[0].slice(1, 1, 2).unwrap();
        assert_eq!(channel1.into_shape(&[2, 3]).unwrap(), tensor2(&[[1f32, 3.0, 5.0], [13.0, 15.0, 17.0]]));
    }

    #[test]
    fn a_height_not_a_multiple_of_the_block_is_refused() {
        let err = run(true, &Tensor::zero::<f32>(&[1, 1, 3, 4]).unwrap()).unwrap_err();
        assert!(err.to_string().contains("height 3 is not a multiple"), "{err}");
    }
}
