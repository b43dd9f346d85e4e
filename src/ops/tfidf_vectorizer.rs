//! TfIdfVectorizer (ONNX, opset 9), which tract lacks, as onnxruntime and the onnx reference
//! compute it. The pool's n-grams of min_gram_length to max_gram_length items are looked up
//! in each row of a [C] or [N, C] input (a scalar is one row of one item), their items taken
//! 1 to max_skip_count + 1 apart (1-grams counted once, not once per distance); each hit
//! counts at its output coordinate, ngram_indexes[i] for the pool's i-th n-gram. TF gives
//! the counts, IDF the weight (1 without weights) where a count is not zero, TFIDF the
//! counts times the weights.
//!
//! As in both, the weights are read at the output coordinate (the standard's text says the
//! pool n-gram's; the two agree when ngram_indexes is 0, 1, 2, ...). TFIDF multiplies the
//! count once, as the reference does; onnxruntime adds the weight once per hit, which can
//! differ from it in the last bit. What onnxruntime refuses at load is refused here too (a
//! duplicate n-gram, a pool section of no whole n-grams, weights of the wrong length), and
//! so is what would read past an attribute's end; unlike onnxruntime, so is an input type
//! the pool cannot match (strings for pool_int64s or numbers for pool_strings), for which
//! it gives zeros.

use std::collections::HashMap;
use std::hash::Hash;

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::ml::{Built, bad_shape, label, plain, typed};

pub(super) fn build(_ctx: &ParsingContext, node: &NodeProto) -> Built {
    let label = label(node);
    let mode = match node.get_attr_opt::<String>("mode")?.as_deref() {
        Some("TF") => Mode::Tf,
        Some("IDF") => Mode::Idf,
        Some("TFIDF") => Mode::TfIdf,
        Some(other) => bail!("{label}: mode is {other:?}, expected \"TF\", \"IDF\" or \"TFIDF\""),
        None => bail!("{label}: mode is missing, expected \"TF\", \"IDF\" or \"TFIDF\""),
    };
    let int = |name: &str, least: i64| -> TractResult<i64> {
        match node.get_attr_opt::<i64>(name)? {
            Some(v) if v >= least => Ok(v),
            Some(v) => bail!("{label}: {name} is {v}, expected at least {least}"),
            None => bail!("{label}: {name} is missing, expected an integer of at least {least}"),
        }
    };
    let min_gram = int("min_gram_length", 1)?;
    let max_gram = int("max_gram_length", min_gram)?;
    let max_skip = int("max_skip_count", 0)?;
    let counts: Vec<i64> = node.get_attr_opt_vec("ngram_counts")?.unwrap_or_default();
    let indexes: Vec<i64> = node.get_attr_opt_vec("ngram_indexes")?.unwrap_or_default();
    let weights: Vec<f32> = node.get_attr_opt_vec("weights")?.unwrap_or_default();
    let ints: Vec<i64> = node.get_attr_opt_vec("pool_int64s")?.unwrap_or_default();
    let strings: Vec<String> = node.get_attr_opt_vec("pool_strings")?.unwrap_or_default();
    if counts.is_empty() {
        bail!("{label}: ngram_counts is missing or empty, expected the pool offset of each n-gram length");
    }
    if indexes.is_empty() {
        bail!("{label}: ngram_indexes is missing or empty, expected the output coordinate of each n-gram");
    }
    let indexes: Vec<usize> = indexes
        .iter()
        .map(|&i| usize::try_from(i).ok().filter(|&i| i < isize::MAX as usize))
        .collect::<Option<_>>()
        .with_context(|| format!("{label}: ngram_indexes is {indexes:?}, expected output coordinates of 0 or more"))?;
    let width = indexes.iter().max().map_or(0, |m| m + 1);
    if !weights.is_empty() && weights.len() != indexes.len() {
        bail!(
            "{label}: weights has {} values, expected one per ngram_indexes entry ({})",
            weights.len(),
            indexes.len()
        );
    }
    if mode != Mode::Tf && !weights.is_empty() && width > weights.len() {
        bail!(
            "{label}: ngram_indexes reaches output coordinate {}, but weights, read at each coordinate, has {} values",
            width - 1,
            weights.len()
        );
    }
    let grams = (min_gram as usize, usize::try_from(max_gram).unwrap_or(usize::MAX));
    let pool = match (ints.is_empty(), strings.is_empty()) {
        (false, true) => Pool::Ints(trie(&label, &ints, &counts, grams, indexes.len())?),
        (true, false) => Pool::Strings(trie(&label, &strings, &counts, grams, indexes.len())?),
        (false, false) => bail!("{label}: pool_int64s and pool_strings are both set, expected only one"),
        (true, true) => bail!("{label}: pool_int64s and pool_strings are both missing or empty, expected one"),
    };
    let max_skip = usize::try_from(max_skip).unwrap_or(usize::MAX);
    typed(TfIdfVectorizer { label, mode, grams, max_skip, indexes, weights, width, pool }, 1)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Tf,
    Idf,
    TfIdf,
}

/// The pool as a tree: the n-gram (a, b) is the node at a, then b, whose id is its place in
/// the pool counted from 1. A node of id 0 only leads to longer n-grams.
#[derive(Debug, Clone, PartialEq)]
struct Node<K: Eq + Hash> {
    id: usize,
    leaves: HashMap<K, Node<K>>,
}

impl<K: Eq + Hash> Default for Node<K> {
    fn default() -> Self {
        Node { id: 0, leaves: HashMap::new() }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Pool {
    Ints(Node<i64>),
    Strings(Node<String>),
}

/// The tree of the pool's n-grams whose length is within `grams`. Their ids count every
/// n-gram of the pool, so that id - 1 is the n-gram's place in ngram_indexes, of which there
/// are `indexes`.
fn trie<K: Clone + Eq + Hash + std::fmt::Debug>(
    label: &str,
    pool: &[K],
    counts: &[i64],
    grams: (usize, usize),
    indexes: usize,
) -> TractResult<Node<K>> {
    let mut root = Node::default();
    let mut id = 1;
    for (i, &start) in counts.iter().enumerate() {
        let size = i + 1;
        let end = counts.get(i + 1).copied().unwrap_or(pool.len() as i64);
        let section = usize::try_from(start).ok().zip(usize::try_from(end).ok()).filter(|&(s, e)| s <= e);
        let Some(items) = section.and_then(|(s, e)| pool.get(s..e)) else {
            bail!(
                "{label}: ngram_counts is {counts:?}, expected rising offsets within the pool's {} items \
                 (the {size}-grams' section is {start}..{end})",
                pool.len()
            );
        };
        if items.len() % size != 0 {
            bail!("{label}: the pool's {size}-grams' section holds {} items, expected whole {size}-grams", items.len());
        }
        if size < grams.0 || size > grams.1 {
            id += items.len() / size;
            continue;
        }
        for gram in items.chunks(size) {
            if id > indexes {
                bail!("{label}: the pool holds more n-grams than ngram_indexes has entries ({indexes})");
            }
            let node = gram.iter().fold(&mut root, |node, item| node.leaves.entry(item.clone()).or_default());
            if node.id != 0 {
                bail!("{label}: the {size}-gram {gram:?} is in the pool twice, expected each once");
            }
            node.id = id;
            id += 1;
        }
    }
    Ok(root)
}

#[derive(Debug, Clone, PartialEq)]
struct TfIdfVectorizer {
    label: String,
    mode: Mode,
    /// min_gram_length and max_gram_length.
    grams: (usize, usize),
    max_skip: usize,
    indexes: Vec<usize>,
    weights: Vec<f32>,
    /// The output's last dimension, max(ngram_indexes) + 1.
    width: usize,
    pool: Pool,
}

/// Equality only merges identical nodes; a NaN weight just keeps them apart.
impl Eq for TfIdfVectorizer {}

impl TfIdfVectorizer {
    /// Adds one to `counts` at the output coordinate of each of `row`'s n-grams in `root`,
    /// walking the row as onnxruntime does.
    fn count<K: Eq + Hash>(&self, root: &Node<K>, row: &[K], counts: &mut [u32]) {
        let (mut least, most) = self.grams;
        // From a distance of the row's length on, no n-gram of two items or more fits.
        let distances = self.max_skip.saturating_add(1).min(row.len().max(1));
        for distance in 1..=distances {
            for first in 0..row.len() {
                if first.saturating_add(distance.saturating_mul(least - 1)) >= row.len() {
                    break;
                }
                let (mut node, mut size, mut at) = (root, 1, first);
                while size <= most && at < row.len() {
                    let Some(next) = node.leaves.get(&row[at]) else { break };
                    if size >= least && next.id != 0 {
                        let slot = self.indexes.get(next.id - 1).and_then(|&o| counts.get_mut(o));
                        if let Some(c) = slot {
                            *c = c.saturating_add(1);
                        }
                    }
                    (node, size, at) = (next, size + 1, at.saturating_add(distance));
                }
            }
            // 1-grams are counted once: they have no distance.
            if least == 1 {
                least = 2;
                if least > most {
                    break;
                }
            }
        }
    }

    fn weigh(&self, counts: &[u32], y: &mut Vec<f32>) {
        let weight = |i: usize| self.weights.get(i).copied().unwrap_or(1.0);
        y.extend(counts.iter().enumerate().map(|(i, &n)| match self.mode {
            Mode::Tf => n as f32,
            Mode::Idf if n > 0 => weight(i),
            Mode::Idf => 0.0,
            Mode::TfIdf => n as f32 * weight(i),
        }));
    }

    fn rows<K: Eq + Hash>(&self, root: &Node<K>, x: &[K], rows: usize, y: &mut Vec<f32>) {
        let c = x.len().checked_div(rows).unwrap_or(0);
        let mut counts = vec![0u32; self.width];
        for r in 0..rows {
            counts.fill(0);
            self.count(root, &x[r * c..(r + 1) * c], &mut counts);
            self.weigh(&counts, y);
        }
    }

    fn apply(&self, x: &Tensor) -> TractResult<Tensor> {
        let (rows, shape) = match *x.shape() {
            [] | [_] => (1, vec![self.width]),
            [0, _] => return Err(bad_shape(&self.label, "the input is [0, C], expected at least one row")),
            [n, _] => (n, vec![n, self.width]),
            ref other => return Err(bad_shape(&self.label, format!("the input is {other:?}, expected [C] or [N, C]"))),
        };
        let too_big = || bad_shape(&self.label, format!("{rows} rows of {} outputs are too many to hold", self.width));
        let mut y = Vec::new();
        y.try_reserve_exact(rows.checked_mul(self.width).ok_or_else(too_big)?).map_err(|_| too_big())?;
        match (&self.pool, x.datum_type()) {
            (Pool::Strings(root), DatumType::String) => self.rows(root, plain::<String>(x)?, rows, &mut y),
            (Pool::Ints(root), DatumType::I64) => self.rows(root, plain::<i64>(x)?, rows, &mut y),
            (Pool::Ints(root), DatumType::I32) => {
                let x: Vec<i64> = plain::<i32>(x)?.iter().map(|&v| v as i64).collect();
                self.rows(root, &x, rows, &mut y)
            }
            (_, dt) => bail!("{}: {}", self.label, self.type_error(dt)),
        }
        Ok(tract_ndarray::ArrayD::from_shape_vec(shape, y)?.into_tensor())
    }

    fn type_error(&self, dt: DatumType) -> String {
        match self.pool {
            Pool::Strings(_) => format!("pool_strings needs string input, got {dt:?}"),
            Pool::Ints(_) => format!("pool_int64s needs int32 or int64 input, got {dt:?}"),
        }
    }
}

crate::ops::one_input_eval!(TfIdfVectorizer, "TfIdfVectorizer");

impl TypedOp for TfIdfVectorizer {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let x = inputs[0];
        match (&self.pool, x.datum_type) {
            (Pool::Strings(_), DatumType::String) | (Pool::Ints(_), DatumType::I32 | DatumType::I64) => {}
            (_, dt) => bail!("{}: {}", self.label, self.type_error(dt)),
        }
        let width = self.width.to_dim();
        let shape = match x.rank() {
            0 | 1 => tvec![width],
            2 if x.shape[0] == TDim::Val(0) => bail!("{}: the input is [0, C], expected at least one row", self.label),
            2 => tvec![x.shape[0].clone(), width],
            r => bail!("{}: the input has rank {r}, expected [C] or [N, C]", self.label),
        };
        Ok(tvec!(f32::fact(shape)))
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use tract_onnx::pb::AttributeProto;

    use super::*;
    use crate::ops::testing::{Attr, attr, run_node, strings};

    fn ints(name: &str, v: &[i64]) -> AttributeProto {
        AttributeProto { name: name.into(), r#type: 7, ints: v.to_vec(), ..Default::default() }
    }

    fn floats(name: &str, v: &[f32]) -> AttributeProto {
        AttributeProto { name: name.into(), r#type: 6, floats: v.to_vec(), ..Default::default() }
    }

    fn strs(name: &str, v: &[&str]) -> AttributeProto {
        let strings = v.iter().map(|s| s.as_bytes().to_vec()).collect();
        AttributeProto { name: name.into(), r#type: 8, strings, ..Default::default() }
    }

    /// The onnx cases' attributes: 1-grams 2, 3, 5, 4 and 2-grams (5, 6), (7, 8), (6, 7),
    /// at outputs 0 to 6.
    fn attrs(mode: &'static str, grams: (i64, i64), skip: i64) -> Vec<AttributeProto> {
        vec![
            attr("mode", Attr::Str(mode)),
            attr("min_gram_length", Attr::Int(grams.0)),
            attr("max_gram_length", Attr::Int(grams.1)),
            attr("max_skip_count", Attr::Int(skip)),
            ints("ngram_counts", &[0, 4]),
            ints("ngram_indexes", &[0, 1, 2, 3, 4, 5, 6]),
            ints("pool_int64s", &[2, 3, 5, 4, 5, 6, 7, 8, 6, 7]),
        ]
    }

    fn run(attrs: Vec<AttributeProto>, x: Tensor) -> TractResult<Tensor> {
        Ok(run_node("TfIdfVectorizer", attrs, &[("x", x)], &["y"])?.remove(0))
    }

    fn with(mut attrs: Vec<AttributeProto>, a: AttributeProto) -> Vec<AttributeProto> {
        attrs.retain(|b| b.name != a.name);
        attrs.push(a);
        attrs
    }

    const X: [i32; 12] = [1, 1, 3, 3, 3, 7, 8, 6, 7, 5, 6, 8];

    /// As the onnx 1.23 cases test_tfidfvectorizer_*.
    #[test]
    fn counts_as_the_onnx_cases() {
        let y = run(attrs("TF", (2, 2), 0), tensor1(&X)).unwrap();
        assert_eq!(y, tensor1(&[0f32, 0., 0., 0., 1., 1., 1.]));
        let y = run(attrs("TF", (2, 2), 5), tensor1(&X)).unwrap();
        assert_eq!(y, tensor1(&[0f32, 0., 0., 0., 1., 3., 1.]));
        let y = run(attrs("TF", (1, 2), 5), tensor1(&X)).unwrap();
        assert_eq!(y, tensor1(&[0f32, 3., 1., 0., 1., 3., 1.]));
        let x2 = tensor2(&[[1i32, 1, 3, 3, 3, 7], [8, 6, 7, 5, 6, 8]]);
        let y = run(attrs("TF", (2, 2), 0), x2.clone()).unwrap();
        assert_eq!(y, tensor2(&[[0f32, 0., 0., 0., 0., 0., 0.], [0., 0., 0., 0., 1., 0., 1.]]));
        let y = run(attrs("TF", (2, 2), 5), x2.clone()).unwrap();
        assert_eq!(y, tensor2(&[[0f32, 0., 0., 0., 0., 0., 0.], [0., 0., 0., 0., 1., 1., 1.]]));
        let y = run(attrs("TF", (1, 2), 5), x2).unwrap();
        assert_eq!(y, tensor2(&[[0f32, 3., 0., 0., 0., 0., 0.], [0., 0., 1., 0., 1., 1., 1.]]));
        // No 1-grams in the pool, its bigrams at outputs 0 to 2.
        let level =
            with(with(attrs("TF", (2, 2), 0), ints("ngram_counts", &[0, 0])), ints("ngram_indexes", &[0, 1, 2]));
        let level = with(level, ints("pool_int64s", &[5, 6, 7, 8, 6, 7]));
        assert_eq!(run(level, tensor1(&X)).unwrap(), tensor1(&[1f32, 1., 1.]));
    }

    #[test]
    fn idf_and_tfidf_weigh_at_the_output_coordinate() {
        let w = floats("weights", &[1., 2., 3., 4., 5., 6., 7.]);
        let x = tensor1(&X.map(i64::from));
        let y = run(with(attrs("IDF", (1, 2), 5), w.clone()), x.clone()).unwrap();
        assert_eq!(y, tensor1(&[0f32, 2., 3., 0., 5., 6., 7.]));
        let y = run(with(attrs("TFIDF", (1, 2), 5), w.clone()), x.clone()).unwrap();
        assert_eq!(y, tensor1(&[0f32, 6., 3., 0., 5., 18., 7.]));
        assert_eq!(run(attrs("IDF", (1, 2), 5), x.clone()).unwrap(), tensor1(&[0f32, 1., 1., 0., 1., 1., 1.]));
        assert_eq!(run(attrs("TFIDF", (1, 2), 5), x.clone()).unwrap(), tensor1(&[0f32, 3., 1., 0., 1., 3., 1.]));
        // The 1-gram 3 (the pool's 2nd n-gram) counted at output 6, weighed by weights[6].
        let a = with(with(attrs("TFIDF", (1, 1), 0), w), ints("ngram_indexes", &[0, 6, 2, 3, 4, 5, 1]));
        assert_eq!(run(a, x).unwrap(), tensor1(&[0f32, 0., 3., 0., 0., 0., 21.]));
    }

    #[test]
    fn strings_scalars_and_empty_rows() {
        let a = vec![
            attr("mode", Attr::Str("TF")),
            attr("min_gram_length", Attr::Int(1)),
            attr("max_gram_length", Attr::Int(3)),
            attr("max_skip_count", Attr::Int(1)),
            ints("ngram_counts", &[0, 2, 4]),
            ints("ngram_indexes", &[0, 1, 2, 3, 4]),
            strs("pool_strings", &["a", "b", "a", "b", "a", "c", "b"]),
        ];
        // a b a c b: the 1-grams a and b twice each; (a, b) once next to each other and
        // once two apart (a c b's ends); (a, c, b) once. Checked against the onnx reference.
        let y = run(a.clone(), strings(["a", "b", "a", "c", "b"])).unwrap();
        assert_eq!(y, tensor1(&[2f32, 2., 2., 1., 0.]));
        let y = run(a.clone(), strings(["a", "x", "b"])).unwrap();
        assert_eq!(y, tensor1(&[1f32, 1., 1., 0., 0.]));
        // A scalar is one item, as onnxruntime takes it (the reference fails on it).
        assert_eq!(run(a.clone(), tensor0(String::from("b"))).unwrap(), tensor1(&[0f32, 1., 0., 0., 0.]));
        let empty = tract_ndarray::ArrayD::<String>::default(vec![2, 0]).into_tensor();
        assert_eq!(run(a.clone(), empty).unwrap(), Tensor::zero::<f32>(&[2, 5]).unwrap());
        let empty = tract_ndarray::ArrayD::<String>::default(vec![0]).into_tensor();
        assert_eq!(run(a, empty).unwrap(), Tensor::zero::<f32>(&[5]).unwrap());
    }

    #[test]
    fn bad_attributes_are_refused_at_load() {
        let x = || tensor1(&X);
        let err = |a: Vec<AttributeProto>| format!("{:?}", run(a, x()).unwrap_err());
        let base = || attrs("TF", (1, 2), 0);
        assert!(err(with(base(), attr("mode", Attr::Str("BM25")))).contains("mode is \"BM25\""));
        assert!(err(base().into_iter().filter(|a| a.name != "mode").collect()).contains("mode is missing"));
        assert!(err(with(base(), attr("min_gram_length", Attr::Int(0)))).contains("min_gram_length is 0"));
        assert!(err(with(base(), attr("max_gram_length", Attr::Int(0)))).contains("max_gram_length is 0"));
        assert!(err(with(base(), attr("max_skip_count", Attr::Int(-1)))).contains("max_skip_count is -1"));
        assert!(err(with(base(), ints("ngram_counts", &[]))).contains("ngram_counts is missing"));
        assert!(err(with(base(), ints("ngram_counts", &[0, 11]))).contains("expected rising offsets"));
        assert!(err(with(base(), ints("ngram_counts", &[4, 0]))).contains("expected rising offsets"));
        assert!(err(with(base(), ints("ngram_counts", &[0, 3]))).contains("holds 7 items, expected whole 2-grams"));
        assert!(err(with(base(), ints("ngram_indexes", &[]))).contains("ngram_indexes is missing"));
        assert!(err(with(base(), ints("ngram_indexes", &[0, -1]))).contains("expected output coordinates"));
        assert!(err(with(base(), ints("ngram_indexes", &[0, 1, 2]))).contains("more n-grams than ngram_indexes"));
        let dup = ints("pool_int64s", &[2, 3, 5, 4, 5, 6, 7, 8, 5, 6]);
        assert!(err(with(base(), dup)).contains("2-gram [5, 6] is in the pool twice"));
        assert!(err(with(base(), floats("weights", &[1.]))).contains("weights has 1 values, expected one per"));
        let sparse = with(attrs("IDF", (1, 2), 0), ints("ngram_indexes", &[0, 1, 2, 3, 4, 5, 9]));
        let w = floats("weights", &[1.; 7]);
        assert!(err(with(sparse.clone(), w.clone())).contains("reaches output coordinate 9"));
        // Without weights, or in TF mode, a sparse ngram_indexes is fine.
        assert_eq!(run(sparse, x()).unwrap().shape(), &[10]);
        let tf = with(with(attrs("TF", (1, 2), 0), ints("ngram_indexes", &[0, 1, 2, 3, 4, 5, 9])), w);
        assert_eq!(run(tf, x()).unwrap().shape(), &[10]);
        assert!(err(with(base(), strs("pool_strings", &["a"]))).contains("both set"));
        assert!(err(with(base(), ints("pool_int64s", &[]))).contains("both missing or empty"));
    }

    #[test]
    fn bad_inputs_are_refused() {
        let err = |x: Tensor| format!("{:?}", run(attrs("TF", (1, 2), 0), x).unwrap_err());
        assert!(err(tensor1(&[1f32, 2.])).contains("pool_int64s needs int32 or int64 input, got F32"));
        assert!(err(strings(["1"])).contains("pool_int64s needs int32 or int64 input, got String"));
        assert!(err(tensor3(&[[[1i64]]])).contains("rank 3"));
        assert!(err(Tensor::zero::<i64>(&[0, 3]).unwrap()).contains("expected at least one row"));
        let a = with(with(attrs("TF", (1, 1), 0), strs("pool_strings", &["a", "b"])), ints("ngram_indexes", &[0, 1]));
        let a = a.into_iter().filter(|a| a.name != "pool_int64s").collect();
        let e = format!("{:?}", run(with(a, ints("ngram_counts", &[0])), tensor1(&[1i64])).unwrap_err());
        assert!(e.contains("pool_strings needs string input, got I64"), "{e}");
        // Checked at run time too, where a shape known only then is [0, C].
        let op = TfIdfVectorizer {
            label: "t".into(),
            mode: Mode::Tf,
            grams: (1, 1),
            max_skip: 0,
            indexes: vec![0],
            weights: vec![],
            width: 1,
            pool: Pool::Ints(trie("t", &[1i64], &[0], (1, 1), 1).unwrap()),
        };
        let e = op.apply(&Tensor::zero::<i64>(&[0, 2]).unwrap()).unwrap_err();
        assert_eq!(crate::error::from_tract(&e, crate::Error::Runtime).code(), "E_INPUT_SHAPE");
        assert_eq!(op.apply(&tensor1(&[1i64, 2, 1])).unwrap(), tensor1(&[2f32]));
    }

    /// A skip count far beyond the row's length ends as soon as nothing more can fit.
    #[test]
    fn a_huge_skip_count_is_cheap() {
        let y = run(with(attrs("TF", (1, 2), 0), attr("max_skip_count", Attr::Int(i64::MAX))), tensor1(&X)).unwrap();
        assert_eq!(y, tensor1(&[0f32, 3., 1., 0., 1., 3., 1.]));
    }
}
