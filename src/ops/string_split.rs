//! StringSplit (ONNX, opset 20), which tract lacks: each string split as Python's
//! `str.split(delimiter, maxsplit)` splits it (no delimiter or "": on runs of whitespace,
//! dropping the ends), the pieces padded with "" to the longest count, which the output's
//! last dimension names as a symbol known at run time; the second output holds the counts.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::ml::{Built, label, plain, typed};

pub(super) fn build(ctx: &ParsingContext, node: &NodeProto) -> Built {
    let delimiter = node.get_attr_opt::<String>("delimiter")?.filter(|d| !d.is_empty());
    let maxsplit = node.get_attr_opt::<i64>("maxsplit")?.and_then(|m| usize::try_from(m).ok());
    let count = ctx.template.symbols.new_with_prefix("split");
    typed(StringSplit { label: label(node), delimiter, maxsplit, count }, 2)
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct StringSplit {
    label: String,
    delimiter: Option<String>,
    /// None: no limit (the attribute missing or negative).
    maxsplit: Option<usize>,
    /// The longest count of pieces.
    count: Symbol,
}

/// Python's whitespace: Unicode's, and the four separators \x1c-\x1f.
fn space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

impl StringSplit {
    fn split<'s>(&self, s: &'s str) -> Vec<&'s str> {
        let max = self.maxsplit.unwrap_or(usize::MAX);
        if let Some(d) = &self.delimiter {
            return s.splitn(max.saturating_add(1), d.as_str()).collect();
        }
        let mut out = Vec::new();
        let mut rest = s.trim_start_matches(space);
        while !rest.is_empty() {
            match rest.find(space).filter(|_| out.len() < max) {
                Some(i) => {
                    out.push(&rest[..i]);
                    rest = rest[i..].trim_start_matches(space);
                }
                None => {
                    out.push(rest);
                    break;
                }
            }
        }
        out
    }

    fn apply(&self, x: &Tensor) -> TractResult<TVec<Tensor>> {
        let pieces: Vec<Vec<&str>> = plain::<String>(x)?.iter().map(|s| self.split(s)).collect();
        let width = pieces.iter().map(Vec::len).max().unwrap_or(0);
        let mut padded = Vec::with_capacity(pieces.len() * width);
        for p in &pieces {
            padded.extend(p.iter().map(|s| s.to_string()).chain(std::iter::repeat_n(String::new(), width - p.len())));
        }
        let shape: Vec<usize> = x.shape().iter().copied().chain([width]).collect();
        let counts: Vec<i64> = pieces.iter().map(|p| p.len() as i64).collect();
        let substrings = tract_ndarray::ArrayD::from_shape_vec(shape, padded)?.into_tensor();
        Ok(tvec!(substrings, Tensor::from_shape(x.shape(), &counts)?))
    }
}

impl Op for StringSplit {
    fn name(&self) -> StaticName {
        "StringSplit".into()
    }

    op_as_typed_op!();
}

impl EvalOp for StringSplit {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        Ok(self.apply(&inputs[0])?.into_iter().map(|t| t.into_tvalue()).collect())
    }
}

impl TypedOp for StringSplit {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let x = inputs[0];
        if x.datum_type != DatumType::String {
            bail!("{}: expected strings, got {:?}", self.label, x.datum_type);
        }
        let mut shape = x.shape.to_tvec();
        // No strings, no pieces.
        let empty = x.shape.iter().any(|d| *d == TDim::Val(0));
        shape.push(if empty { 0.to_dim() } else { self.count.to_dim() });
        Ok(tvec!(DatumType::String.fact(shape), DatumType::I64.fact(x.shape.clone())))
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testing::{Attr, attr, run_node, strings};

    fn op(delimiter: Option<&str>, maxsplit: Option<usize>) -> StringSplit {
        let count = SymbolScope::default().new_with_prefix("s");
        StringSplit { label: "s".into(), delimiter: delimiter.map(String::from), maxsplit, count }
    }

    /// As Python's str.split, which the reference calls.
    #[test]
    fn splits_as_python_does() {
        let dot = op(Some("-"), None);
        assert_eq!(dot.split("o-n--x-"), ["o", "n", "", "x", ""]);
        assert_eq!(dot.split(""), [""]);
        assert_eq!(op(Some("-"), Some(1)).split("a-b-c"), ["a", "b-c"]);
        let ws = op(None, None);
        assert_eq!(ws.split("  a \t b\n"), ["a", "b"]);
        assert!(ws.split("  ").is_empty());
        assert_eq!(op(None, Some(1)).split("  a  b  c  "), ["a", "b  c  "]);
        assert_eq!(op(None, Some(0)).split(" a b "), ["a b "]);
        let y = op(Some("."), None).apply(&strings(["a.b.c", "d", ""])).unwrap();
        assert_eq!(y[0], tensor2(&[["a", "b", "c"], ["d", "", ""], ["", "", ""]].map(|r| r.map(String::from))));
        assert_eq!(y[1], tensor1(&[3i64, 1, 1]));
        let y = ws.apply(&Tensor::from_shape::<i64>(&[0], &[]).unwrap().cast_to::<String>().unwrap());
        assert_eq!(y.unwrap()[0].shape(), &[0, 0]);
    }

    #[test]
    fn the_registry_reads_delimiter_and_maxsplit() {
        let attrs = vec![attr("delimiter", Attr::Str(".")), attr("maxsplit", Attr::Int(1))];
        let x = tensor2(&[["a.b.c", "d"]].map(|r| r.map(String::from)));
        let y = run_node("StringSplit", attrs, &[("x", x)], &["y", "n"]).unwrap();
        let want = [[["a", "b.c"], ["d", ""]]].map(|r| r.map(|r| r.map(String::from)));
        assert_eq!(y[0], tensor3(&want));
        assert_eq!(y[1], tensor2(&[[2i64, 1]]));
        let y =
            run_node("StringSplit", vec![attr("delimiter", Attr::Str(""))], &[("x", strings(["a b"]))], &["y", "n"]);
        assert_eq!(y.unwrap()[0], tensor2(&[["a", "b"]].map(|r| r.map(String::from))));
        let x = tract_ndarray::ArrayD::<String>::default(vec![2, 0]).into_tensor();
        let y = run_node("StringSplit", vec![], &[("x", x)], &["y", "n"]).unwrap();
        assert_eq!((y[0].shape(), y[1].shape()), (&[2, 0, 0][..], &[2, 0][..]));
    }
}
