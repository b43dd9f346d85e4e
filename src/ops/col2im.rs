//! Col2Im (ONNX, opset 18), which tract lacks: the blocks of `input` (N, C * prod(block),
//! L) summed back into images (N, C, *image_shape), as the reference's loops do. pads are
//! [begins..., ends...]. `image_shape` and `block_shape` must be constants when the graph
//! is typed (graph inputs feeding them are value inputs, so they are). Sums in f64, cast
//! back to the input's type.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::ml::{Built, bad_shape, label, plain};

pub(super) fn build(_ctx: &ParsingContext, node: &NodeProto) -> Built {
    let list = |name: &str| -> TractResult<Option<Vec<i64>>> {
        Ok(node.get_attr_opt_tvec::<i64>(name)?.map(|a| a.into_vec()))
    };
    let t =
        Translate { label: label(node), dilations: list("dilations")?, pads: list("pads")?, strides: list("strides")? };
    Ok((expand(t), vec![]))
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Translate {
    label: String,
    dilations: Option<Vec<i64>>,
    pads: Option<Vec<i64>>,
    strides: Option<Vec<i64>>,
}

impl Translate {
    fn konst(&self, model: &TypedModel, at: OutletId, what: &str) -> TractResult<Vec<i64>> {
        let label = &self.label;
        let t = model.outlet_fact(at)?.konst.clone().with_context(|| format!("{label}: {what} must be a constant"))?;
        if !matches!(t.datum_type(), DatumType::I32 | DatumType::I64) || t.rank() != 1 {
            bail!("{label}: expected {what} as a 1-D int64 tensor");
        }
        Ok(plain::<i64>(&*t.cast_to::<i64>()?)?.to_vec())
    }
}

impl Expansion for Translate {
    fn name(&self) -> StaticName {
        "Col2Im".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 3)?;
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].datum_type, &outputs[0].datum_type)?;
        s.equals(&inputs[0].rank, 3)?;
        s.equals(&outputs[0].shape[0], &inputs[0].shape[0])?;
        Ok(())
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        let label = &self.label;
        let image = self.konst(model, inputs[1], "image_shape")?;
        let block = self.konst(model, inputs[2], "block_shape")?;
        let n = image.len();
        let dil = self.dilations.clone().unwrap_or_else(|| vec![1; n]);
        let pads = self.pads.clone().unwrap_or_else(|| vec![0; 2 * n]);
        let strides = self.strides.clone().unwrap_or_else(|| vec![1; n]);
        let bad = n == 0 || block.len() != n || dil.len() != n || pads.len() != 2 * n || strides.len() != n;
        if bad
            || [&image, &block, &dil, &strides].iter().any(|v| v.iter().any(|&x| x < 1))
            || pads.iter().any(|&p| p < 0)
        {
            bail!(
                "{label}: image_shape {image:?}, block_shape {block:?}, dilations {dil:?}, pads {pads:?}, strides {strides:?}"
            );
        }
        let mut cols = Vec::with_capacity(n);
        for i in 0..n {
            let span = image[i] + pads[i] + pads[i + n] - dil[i] * (block[i] - 1) - 1;
            if span < 0 {
                bail!("{label}: no block fits along axis {i}");
            }
            cols.push((span / strides[i] + 1) as usize);
        }
        let u = |v: &[i64]| v.iter().map(|&x| x as usize).collect::<Vec<_>>();
        let op = Col2Im {
            label: label.clone(),
            image: u(&image),
            block: u(&block),
            dil: u(&dil),
            begin: pads[..n].to_vec(),
            strides: u(&strides),
            cols,
        };
        model.wire_node(prefix, op, &inputs[..1])
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Col2Im {
    label: String,
    image: Vec<usize>,
    block: Vec<usize>,
    dil: Vec<usize>,
    /// The begin pads.
    begin: Vec<i64>,
    strides: Vec<usize>,
    /// The number of blocks along each axis.
    cols: Vec<usize>,
}

/// The row-major multi-index of `i` in `shape`, into `at`.
fn unravel(mut i: usize, shape: &[usize], at: &mut [usize]) {
    for (a, &d) in at.iter_mut().zip(shape).rev() {
        *a = i % d;
        i /= d;
    }
}

impl Col2Im {
    fn apply(&self, x: &Tensor) -> TractResult<Tensor> {
        let bl: usize = self.block.iter().product();
        let blocks: usize = self.cols.iter().product();
        let (n, rows, len) = (x.shape()[0], x.shape()[1], x.shape()[2]);
        if rows % bl != 0 || len != blocks {
            let msg = format!("input is {:?}, expected (N, C * {bl}, {blocks})", x.shape());
            return Err(bad_shape(&self.label, msg));
        }
        let pixels: usize = self.image.iter().product();
        let x64 = x.cast_to::<f64>()?;
        let data = plain::<f64>(&x64)?;
        let mut out = vec![0f64; n * (rows / bl) * pixels];
        let k = self.image.len();
        let (mut off, mut col, mut dst) = (vec![0; k], vec![0; k], vec![0usize; k]);
        for (src, image) in data.chunks_exact(bl * len).zip(out.chunks_exact_mut(pixels)) {
            for c in 0..bl {
                unravel(c, &self.block, &mut off);
                'blocks: for b in 0..len {
                    unravel(b, &self.cols, &mut col);
                    for i in 0..k {
                        let at = (col[i] * self.strides[i] + off[i] * self.dil[i]) as i64 - self.begin[i];
                        if at < 0 || at as usize >= self.image[i] {
                            continue 'blocks;
                        }
                        dst[i] = at as usize;
                    }
                    let at = dst.iter().zip(&self.image).fold(0, |acc, (&d, &s)| acc * s + d);
                    image[at] += src[c * len + b];
                }
            }
        }
        let mut shape = vec![n, rows / bl];
        shape.extend(&self.image);
        Ok(Tensor::from_shape(&shape, &out)?.cast_to_dt(x.datum_type())?.into_owned())
    }
}

crate::ops::one_input_eval!(Col2Im, "Col2Im");

impl TypedOp for Col2Im {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let x = inputs[0];
        if !x.datum_type.is_number() || x.rank() != 3 {
            bail!("{}: expected a 3-D numeric input", self.label);
        }
        let bl: usize = self.block.iter().product();
        let mut shape = tvec![x.shape[0].clone(), x.shape[1].clone() / bl as u64];
        shape.extend(self.image.iter().map(|d| d.to_dim()));
        Ok(tvec!(x.datum_type.fact(shape)))
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testing::{Attr, attr, run_node_with};

    fn ints(name: &str, values: &[i64]) -> tract_onnx::pb::AttributeProto {
        let mut a = attr(name, Attr::Int(0));
        (a.r#type, a.ints) = (7, values.to_vec());
        a
    }

    fn run(attrs: Vec<tract_onnx::pb::AttributeProto>, x: Tensor, image: &[i64], block: &[i64]) -> TractResult<Tensor> {
        let consts = [("i", tensor1(image)), ("b", tensor1(block))];
        Ok(run_node_with("Col2Im", attrs, &[("x", x)], &consts, &["y"])?.remove(0))
    }

    #[test]
    fn overlapping_blocks_sum() {
        // A 1x3 image from blocks of 2 with stride 1: the middle pixel gets two values.
        let x = Tensor::from_shape(&[1, 2, 2], &[1f32, 2., 10., 20.]).unwrap();
        let y = run(vec![], x.clone(), &[1, 3], &[1, 2]).unwrap();
        assert_eq!(y, tensor4(&[[[[1f32, 12., 20.]]]]));
        // Padded by one on each side, with stride 2: two blocks, the padding dropped.
        let y = run(vec![ints("pads", &[0, 1, 0, 1]), ints("strides", &[1, 2])], x.clone(), &[1, 3], &[1, 2]).unwrap();
        assert_eq!(y, tensor4(&[[[[10f32, 2., 20.]]]]));
        // Dilated by 2: block elements land two apart.
        let y = run(
            vec![ints("dilations", &[1, 2])],
            Tensor::from_shape(&[1, 2, 1], &[1f64, 2.]).unwrap(),
            &[1, 3],
            &[1, 2],
        );
        assert_eq!(y.unwrap(), tensor4(&[[[[1f64, 0., 2.]]]]));
        let x = Tensor::from_shape(&[1, 2, 1, 1], &[0f32; 2]).unwrap().into_shape(&[1, 2, 1]).unwrap();
        let err = run(vec![], x, &[1, 3], &[1, 2]).unwrap_err();
        assert!(format!("{err:?}").contains("expected (N, C * 2, 2)"), "{err:?}");
        assert_eq!(crate::error::from_tract(&err, crate::Error::Runtime).code(), "E_INPUT_SHAPE");
    }

    #[test]
    fn bad_attributes_are_refused_at_load() {
        let x = Tensor::zero::<f32>(&[1, 2, 2]).unwrap();
        let err =
            |attrs, image: &[i64], block: &[i64]| format!("{:?}", run(attrs, x.clone(), image, block).unwrap_err());
        assert!(err(vec![ints("strides", &[0, 1])], &[1, 3], &[1, 2]).contains("strides [0, 1]"));
        assert!(err(vec![], &[1, 3], &[1, 2, 1]).contains("block_shape [1, 2, 1]"));
        assert!(err(vec![], &[1, 1], &[1, 2]).contains("no block fits along axis 1"));
    }
}
