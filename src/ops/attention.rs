//! Attention (ONNX, opsets 23 to 25), which tract lacks: the scaled dot-product attention
//! newer exporters emit for transformer layers. One operator covers what the standard does:
//! 3D inputs split into `q_num_heads` / `kv_num_heads` heads or 4D ones, grouped-query
//! attention (each KV head serves `q_heads / kv_heads` query heads in turn), `scale`,
//! `softcap`, `is_causal` aligned bottom-right, a boolean or additive `attn_mask` of any
//! rank up to 4 (padded with -inf up to the total key length, as the onnx reference does),
//! the `past_key` / `past_value` cache and `present_*` outputs, opset 24's
//! `nonpad_kv_seqlen`, opset 25's `left_window_size` / `right_window_size`, and the
//! `qk_matmul_output` debug output in its four modes.
//!
//! A query row whose every key is masked (its additive bias all -inf) answers 0, not NaN,
//! in `Y` and in mode 3's `qk_matmul_output`, as the standard's errata and the onnx
//! reference say. Where the reference (`op_attention.py`) and the standard's function body
//! disagree, mode 0 follows the standard: the product before `softcap`.
//!
//! Every float type is read as f64 and the answer cast back, so one loop serves f16, f32
//! and f64 (no copy of it per type in the wasm) and f16 sums lose nothing on the way. The
//! steps are not rounded to the input type in between; `softmax_precision` rounds the
//! softmax's steps only where it names a type narrower than the input's.

use tract_onnx::model::{ParsingContext, optional_inputs, optional_outputs};
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::ml::{Built, bad_shape, label, plain, typed};

pub(super) fn build(_ctx: &ParsingContext, node: &NodeProto) -> Built {
    let label = label(node);
    let given: Vec<Option<usize>> = optional_inputs(node).take(node.input.len()).collect();
    if !(3..=7).contains(&given.len()) || given[..3].iter().any(Option::is_none) {
        bail!("{label}: expected the inputs Q, K, V, then optional attn_mask, past_key, past_value, nonpad_kv_seqlen");
    }
    let mut inputs = [None; 7];
    inputs[..given.len()].copy_from_slice(&given);
    let wanted: Vec<bool> = optional_outputs(node).take(node.output.len()).map(|o| o.is_some()).collect();
    if !(1..=4).contains(&wanted.len()) || !wanted[0] {
        bail!("{label}: expected the output Y, then optional present_key, present_value, qk_matmul_output");
    }
    let mut outputs = [false; 4];
    outputs[..wanted.len()].copy_from_slice(&wanted);
    if inputs[4].is_some() != inputs[5].is_some() {
        bail!("{label}: past_key and past_value must be given together");
    }
    if inputs[6].is_some() && inputs[4].is_some() {
        bail!("{label}: nonpad_kv_seqlen cannot be combined with past_key and past_value");
    }
    let int = |name: &str, default: i64, ok: fn(i64) -> bool, expected: &str| -> TractResult<i64> {
        let value = node.get_attr_opt::<i64>(name)?.unwrap_or(default);
        if !ok(value) {
            bail!("{label}: {name} is {value}, expected {expected}");
        }
        Ok(value)
    };
    let causal = int("is_causal", 0, |c| c == 0 || c == 1, "0 or 1")? == 1;
    let qk_mode = int("qk_matmul_output_mode", 0, |m| (0..=3).contains(&m), "0, 1, 2 or 3")? as u8;
    let window = |name| int(name, -1, |w| w >= -1, "-1 (unbounded) or at least 0");
    let window = (window("left_window_size")?, window("right_window_size")?);
    let heads = |name| int(name, 1, |h| h > 0, "at least 1").map(|h| h as usize);
    let heads = match (node.get_attr_opt::<i64>("q_num_heads")?, node.get_attr_opt::<i64>("kv_num_heads")?) {
        (None, None) => None,
        (Some(_), Some(_)) => Some((heads("q_num_heads")?, heads("kv_num_heads")?)),
        _ => bail!("{label}: q_num_heads and kv_num_heads must be given together"),
    };
    let scale: Option<f32> = node.get_attr_opt("scale")?;
    let softcap: f32 = node.get_attr_opt("softcap")?.unwrap_or(0.0);
    if !(softcap.is_finite() && softcap >= 0.0) {
        bail!("{label}: softcap is {softcap}, expected 0 (none) or a positive number");
    }
    let softmax_precision = match node.get_attr_opt::<i64>("softmax_precision")? {
        None => None,
        Some(1) => Some(Precision::F32),
        Some(10) => Some(Precision::F16),
        Some(11) => Some(Precision::F64),
        Some(16) => Some(Precision::Bf16),
        Some(other) => bail!("{label}: softmax_precision is {other}, expected float, float16, double or bfloat16"),
    };
    let count = outputs.iter().filter(|&&o| o).count();
    let op = Attention { label, inputs, outputs, heads, scale, causal, softcap, qk_mode, softmax_precision, window };
    typed(op, count)
}

/// The float types a softmax can be asked to run in.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Precision {
    Bf16,
    F16,
    F32,
    F64,
}

impl Precision {
    fn of(dt: DatumType) -> Precision {
        match dt {
            DatumType::F16 => Precision::F16,
            DatumType::F32 => Precision::F32,
            _ => Precision::F64,
        }
    }

    fn mantissa_bits(self) -> u32 {
        match self {
            Precision::Bf16 => 8,
            Precision::F16 => 11,
            Precision::F32 => 24,
            Precision::F64 => 53,
        }
    }

    /// `x` rounded to this type, to nearest even.
    fn round(self, x: f64) -> f64 {
        match self {
            Precision::Bf16 if !x.is_nan() => {
                let bits = (x as f32).to_bits();
                f32::from_bits(bits.wrapping_add(0x7fff + ((bits >> 16) & 1)) & 0xffff_0000) as f64
            }
            Precision::F16 => f16::from_f64(x).to_f64(),
            Precision::F32 => x as f32 as f64,
            _ => x,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Attention {
    label: String,
    /// Where each of Q, K, V, attn_mask, past_key, past_value and nonpad_kv_seqlen is among
    /// the node's given inputs.
    inputs: [Option<usize>; 7],
    /// Which of Y, present_key, present_value and qk_matmul_output are asked for.
    outputs: [bool; 4],
    /// q_num_heads and kv_num_heads, which split 3D inputs into heads.
    heads: Option<(usize, usize)>,
    scale: Option<f32>,
    causal: bool,
    /// 0: none; else scores become `softcap * tanh(scores / softcap)` before the mask.
    softcap: f32,
    /// What qk_matmul_output holds: 0 the scaled product, 1 after softcap, 2 after the
    /// mask's bias, 3 the softmax.
    qk_mode: u8,
    softmax_precision: Option<Precision>,
    /// left_window_size and right_window_size, -1 for unbounded.
    window: (i64, i64),
}

/// Equality only merges identical nodes; a NaN scale just keeps them apart.
impl Eq for Attention {}

/// The inputs' shapes, by ONNX position (Q, K, V, attn_mask, past_key, past_value,
/// nonpad_kv_seqlen), `None` where not given.
type Shapes = [Option<TVec<TDim>>; 7];

/// The sizes of the computation, symbolic at load.
#[derive(Debug, Clone)]
struct Layout<D> {
    batch: D,
    q_heads: D,
    kv_heads: D,
    q_len: D,
    kv_len: D,
    past: D,
    head_k: D,
    head_v: D,
}

/// Whether two dimensions are known and differ: a symbolic one is checked again at run time.
fn differ(a: &TDim, b: &TDim) -> bool {
    matches!((a.to_i64(), b.to_i64()), (Ok(a), Ok(b)) if a != b)
}

fn known(d: &TDim) -> Option<i64> {
    d.to_i64().ok()
}

impl Layout<TDim> {
    fn concrete(&self) -> Result<Layout<usize>, String> {
        let u = |d: &TDim| d.to_usize().map_err(|_| format!("the dimension {d} is not known"));
        Ok(Layout {
            batch: u(&self.batch)?,
            q_heads: u(&self.q_heads)?,
            kv_heads: u(&self.kv_heads)?,
            q_len: u(&self.q_len)?,
            kv_len: u(&self.kv_len)?,
            past: u(&self.past)?,
            head_k: u(&self.head_k)?,
            head_v: u(&self.head_v)?,
        })
    }

    fn total(&self) -> TDim {
        self.past.clone() + &self.kv_len
    }
}

impl Attention {
    /// Checks the shapes against each other and the attributes, at load (where a symbolic
    /// dimension passes) and again at run time.
    fn layout(&self, s: &Shapes) -> Result<Layout<TDim>, String> {
        let (q, k, v) = (
            s[0].as_deref().unwrap_or_default(),
            s[1].as_deref().unwrap_or_default(),
            s[2].as_deref().unwrap_or_default(),
        );
        let rank = q.len();
        if !(rank == 3 || rank == 4) || k.len() != rank || v.len() != rank {
            return Err(format!(
                "Q, K and V have ranks {}, {} and {}, expected all 3 or all 4",
                q.len(),
                k.len(),
                v.len()
            ));
        }
        let mut l = if rank == 3 {
            let Some((qh, kvh)) = self.heads else {
                return Err("3D Q, K and V need the attributes q_num_heads and kv_num_heads".into());
            };
            let split = |what: &str, hidden: &TDim, heads: usize| {
                if known(hidden).is_some_and(|h| h % heads as i64 != 0) {
                    return Err(format!("{what} has hidden size {hidden}, which {heads} heads do not divide"));
                }
                Ok(hidden.clone() / heads as u64)
            };
            let head_q = split("Q", &q[2], qh)?;
            let head_k = split("K", &k[2], kvh)?;
            if differ(&head_q, &head_k) {
                return Err(format!("Q's heads have size {head_q} and K's {head_k}: they must be equal"));
            }
            Layout {
                batch: q[0].clone(),
                q_heads: qh.into(),
                kv_heads: kvh.into(),
                q_len: q[1].clone(),
                kv_len: k[1].clone(),
                past: 0.into(),
                head_k,
                head_v: split("V", &v[2], kvh)?,
            }
        } else {
            if let Some((qh, kvh)) = self.heads
                && (differ(&q[1], &qh.into()) || differ(&k[1], &kvh.into()))
            {
                return Err(format!(
                    "q_num_heads {qh} and kv_num_heads {kvh} disagree with 4D Q and K of shapes {q:?} and {k:?}"
                ));
            }
            if differ(&k[1], &v[1]) {
                return Err(format!("K has {} heads and V {}: they must be equal", k[1], v[1]));
            }
            if differ(&q[3], &k[3]) {
                return Err(format!("Q's heads have size {} and K's {}: they must be equal", q[3], k[3]));
            }
            Layout {
                batch: q[0].clone(),
                q_heads: q[1].clone(),
                kv_heads: k[1].clone(),
                q_len: q[2].clone(),
                kv_len: k[2].clone(),
                past: 0.into(),
                head_k: k[3].clone(),
                head_v: v[3].clone(),
            }
        };
        if differ(&k[0], &l.batch) || differ(&v[0], &l.batch) {
            return Err(format!("Q, K and V have batch sizes {}, {} and {}: they must be equal", q[0], k[0], v[0]));
        }
        let seq = rank - 2;
        if differ(&k[seq], &v[seq]) {
            return Err(format!("K has sequence length {} and V {}: they must be equal", k[seq], v[seq]));
        }
        match (known(&l.q_heads), known(&l.kv_heads)) {
            (_, Some(0)) => return Err("K and V have no heads".into()),
            (Some(qh), Some(kvh)) if qh % kvh != 0 => {
                return Err(format!("{kvh} key/value heads do not divide {qh} query heads"));
            }
            _ => {}
        }
        if let (Some(pk), Some(pv)) = (&s[4], &s[5]) {
            let expect = |what: &str, p: &[TDim], head: &TDim| {
                let want = [l.batch.clone(), l.kv_heads.clone(), p.get(2).cloned().unwrap_or_default(), head.clone()];
                if p.len() != 4 || p.iter().zip(&want).any(|(a, b)| differ(a, b)) {
                    return Err(format!("{what} has shape {p:?}, expected {want:?}"));
                }
                Ok(())
            };
            expect("past_key", pk, &l.head_k)?;
            expect("past_value", pv, &l.head_v)?;
            if differ(&pk[2], &pv[2]) {
                return Err(format!("past_key has sequence length {} and past_value {}", pk[2], pv[2]));
            }
            l.past = pk[2].clone();
        }
        if let Some(m) = &s[3] {
            let total = l.total();
            let target = [l.batch.clone(), l.q_heads.clone(), l.q_len.clone()];
            let fits = (1..=4).contains(&m.len())
                && m[..m.len() - 1]
                    .iter()
                    .rev()
                    .zip(target.iter().rev())
                    .all(|(d, t)| known(d) == Some(1) || !differ(d, t))
                && !matches!((known(&m[m.len() - 1]), known(&total)), (Some(last), Some(total)) if last > total);
            if !fits {
                return Err(format!(
                    "attn_mask has shape {m:?}, expected one that broadcasts to [{}, {}, {}, {total}] (its last axis padded)",
                    target[0], target[1], target[2]
                ));
            }
        }
        if let Some(n) = &s[6]
            && (n.len() != 1 || differ(&n[0], &l.batch))
        {
            return Err(format!("nonpad_kv_seqlen has shape {n:?}, expected [{}]", l.batch));
        }
        Ok(l)
    }

    fn output_shapes(&self, l: &Layout<TDim>, rank: usize) -> TVec<TVec<TDim>> {
        let total = l.total();
        let (b, qh, kvh) = (l.batch.clone(), l.q_heads.clone(), l.kv_heads.clone());
        let y = if rank == 3 {
            tvec!(b.clone(), l.q_len.clone(), l.head_v.clone() * &qh)
        } else {
            tvec!(b.clone(), qh.clone(), l.q_len.clone(), l.head_v.clone())
        };
        let all = [
            y,
            tvec!(b.clone(), kvh.clone(), total.clone(), l.head_k.clone()),
            tvec!(b.clone(), kvh, total.clone(), l.head_v.clone()),
            tvec!(b, qh, l.q_len.clone(), total),
        ];
        all.into_iter().zip(self.outputs).filter(|(_, wanted)| *wanted).map(|(s, _)| s).collect()
    }

    fn check_types(&self, types: &[Option<DatumType>; 7]) -> TractResult<()> {
        use DatumType::*;
        let label = &self.label;
        let float = |dt: Option<DatumType>| matches!(dt, Some(F16 | F32 | F64));
        let [q, k, v, mask, past_key, past_value, nonpad] = *types;
        if !float(q) || k != q || !float(v) {
            bail!("{label}: expected Q and K of one float type and a float V, got {q:?}, {k:?} and {v:?}");
        }
        if past_key.is_some() && (past_key != q || past_value != v) {
            bail!("{label}: past_key and past_value are {past_key:?} and {past_value:?}, expected {q:?} and {v:?}");
        }
        if mask.is_some_and(|m| !matches!(m, Bool | I8 | I16 | I32 | I64 | U8 | U16 | U32 | U64 | F16 | F32 | F64)) {
            bail!("{label}: attn_mask is {mask:?}, expected bool or a number type");
        }
        if nonpad.is_some_and(|n| n != I64) {
            bail!("{label}: nonpad_kv_seqlen is {nonpad:?}, expected int64");
        }
        Ok(())
    }
}

fn as_f64(t: &Tensor) -> TractResult<Vec<f64>> {
    Ok(plain::<f64>(&*t.cast_to::<f64>()?)?.to_vec())
}

/// Q, K or V as f64 in [batch, heads, seq, head] order: 3D input is [batch, seq, heads * head].
fn by_heads(t: &Tensor, batch: usize, heads: usize, seq: usize, head: usize) -> TractResult<Vec<f64>> {
    let x = as_f64(t)?;
    if t.rank() == 4 {
        return Ok(x);
    }
    let mut out = Vec::with_capacity(x.len());
    for b in 0..batch {
        for h in 0..heads {
            for s in 0..seq {
                let at = ((b * seq + s) * heads + h) * head;
                out.extend_from_slice(&x[at..at + head]);
            }
        }
    }
    Ok(out)
}

/// `past` then `new` along the sequence axis of `planes` [seq, head] planes, `lengths`
/// giving the two sequence lengths.
fn concat(past: Option<Vec<f64>>, new: Vec<f64>, planes: usize, lengths: (usize, usize), head: usize) -> Vec<f64> {
    let Some(past) = past else { return new };
    let (p, n) = (lengths.0 * head, lengths.1 * head);
    let mut out = Vec::with_capacity(past.len() + new.len());
    for plane in 0..planes {
        out.extend_from_slice(&past[plane * p..(plane + 1) * p]);
        out.extend_from_slice(&new[plane * n..(plane + 1) * n]);
    }
    out
}

/// The mask as an additive bias of shape [b, h, q, total] (each 1 where the mask
/// broadcasts), padded with -inf past its own last axis; with its strides.
fn mask_bias(mask: &Tensor, dt: DatumType, total: usize) -> TractResult<(Vec<f64>, [usize; 3])> {
    let values: Vec<f64> = if mask.datum_type() == DatumType::Bool {
        plain::<bool>(mask)?.iter().map(|&m| if m { 0.0 } else { f64::NEG_INFINITY }).collect()
    } else {
        let t = mask.cast_to_dt(dt)?.cast_to::<f64>()?.into_owned();
        plain::<f64>(&t)?.to_vec()
    };
    let shape = mask.shape();
    let mut dims = [1usize; 4];
    dims[4 - shape.len()..].copy_from_slice(shape);
    let last = dims[3];
    let rows = dims[0] * dims[1] * dims[2];
    let mut bias = Vec::with_capacity(rows * total);
    for r in 0..rows {
        bias.extend_from_slice(&values[r * last..(r + 1) * last]);
        bias.extend(std::iter::repeat_n(f64::NEG_INFINITY, total - last));
    }
    let stride = |axis: usize, step: usize| if dims[axis] == 1 { 0 } else { step };
    Ok((bias, [stride(0, dims[1] * dims[2] * total), stride(1, dims[2] * total), stride(2, total)]))
}

fn size(dims: &[usize]) -> Option<usize> {
    dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d))
}

/// The softmax of `row` in place as the onnx reference takes it: the maximum taken out
/// first, and a row all -inf all 0. `round` rounds each step to softmax_precision.
fn softmax(row: &mut [f64], round: impl Fn(f64) -> f64) {
    let max = row.iter().map(|&x| round(x)).fold(f64::NEG_INFINITY, |m, x| if x > m || x.is_nan() { x } else { m });
    let max = if max == f64::NEG_INFINITY { 0.0 } else { max };
    for x in row.iter_mut() {
        *x = round(round(round(*x) - max).exp());
    }
    let sum = round(row.iter().sum::<f64>());
    let sum = if sum == 0.0 { 1.0 } else { sum };
    for x in row.iter_mut() {
        *x = round(*x / sum);
    }
}

fn tensor(data: &[f64], shape: &[usize], dt: DatumType) -> TractResult<Tensor> {
    Ok(Tensor::from_shape(shape, data)?.cast_to_dt(dt)?.into_owned())
}

impl Attention {
    /// Whether is_causal and the window let the query at position `at` among the keys see
    /// key `j`.
    fn sees(&self, at: i64, j: i64) -> bool {
        let (left, right) = self.window;
        let (ahead, behind) = (j.saturating_sub(at), at.saturating_sub(j));
        (!self.causal || ahead <= 0) && (left < 0 || behind <= left) && (right < 0 || ahead <= right)
    }

    fn compute(&self, inputs: &[&Tensor]) -> TractResult<TVec<Tensor>> {
        let given = |slot: usize| self.inputs[slot].map(|i| inputs[i]);
        let shapes: Shapes =
            std::array::from_fn(|slot| given(slot).map(|t| t.shape().iter().map(|&d| d.to_dim()).collect()));
        let layout = self.layout(&shapes).and_then(|l| l.concrete()).map_err(|e| bad_shape(&self.label, e))?;
        let Layout { batch, q_heads, kv_heads, q_len, kv_len, past, head_k: dk, head_v: dv } = layout;
        let total = past + kv_len;
        let (q, k, v) = (inputs[0], inputs[1], inputs[2]);
        let (t1, t2) = (q.datum_type(), v.datum_type());
        let too_big = || bad_shape(&self.label, "the attention is too large to compute");
        let qk_size = size(&[batch, q_heads, q_len, total]).ok_or_else(too_big)?;
        let y_size = size(&[batch, q_heads, q_len, dv]).ok_or_else(too_big)?;

        let mut outputs = tvec!(Tensor::default());
        let planes = batch * kv_heads;
        let cached = given(4).is_some();
        let (past_k, past_v) = (given(4).map(as_f64).transpose()?, given(5).map(as_f64).transpose()?);
        let mut keys = concat(past_k, by_heads(k, batch, kv_heads, kv_len, dk)?, planes, (past, kv_len), dk);
        let values = concat(past_v, by_heads(v, batch, kv_heads, kv_len, dv)?, planes, (past, kv_len), dv);
        if self.outputs[1] {
            outputs.push(tensor(&keys, &[batch, kv_heads, total, dk], t1)?);
        }
        if self.outputs[2] {
            outputs.push(tensor(&values, &[batch, kv_heads, total, dv], t2)?);
        }
        let mask = given(3).map(|m| mask_bias(m, t1, total)).transpose()?;
        let nonpad = given(6).map(|n| plain::<i64>(n).map(<[i64]>::to_vec)).transpose()?;

        // Q and K are each scaled by the square root of the scale, cast to the input type.
        let scale = self.scale.map_or(1.0 / (dk as f64).sqrt(), f64::from);
        let root = Precision::of(t1).round(scale.sqrt());
        let mut queries = by_heads(q, batch, q_heads, q_len, dk)?;
        queries.iter_mut().chain(keys.iter_mut()).for_each(|x| *x *= root);
        let narrow = self.softmax_precision.filter(|p| p.mantissa_bits() < Precision::of(t1).mantissa_bits());
        let round = |x: f64| narrow.map_or(x, |p| p.round(x));
        let softcap = f64::from(self.softcap);

        let mut y = vec![0f64; y_size];
        let mut qk = if self.outputs[3] { vec![0f64; qk_size] } else { vec![] };
        let (mut row, mut bias) = (vec![0f64; total], vec![0f64; total]);
        let reps = q_heads / kv_heads.max(1);
        for b in 0..batch {
            // Where the query block starts among the keys, for the causal and window masks.
            let offset = match &nonpad {
                Some(n) if !cached => n[b].saturating_sub(q_len as i64),
                _ => past as i64,
            };
            let valid = nonpad.as_ref().map_or(i64::MAX, |n| n[b]);
            for h in 0..q_heads {
                let plane = b * kv_heads + h / reps;
                for i in 0..q_len {
                    let at = offset.saturating_add(i as i64);
                    let r = (b * q_heads + h) * q_len + i;
                    let query = &queries[r * dk..(r + 1) * dk];
                    for j in 0..total {
                        let mut m = mask.as_ref().map_or(0.0, |(m, s)| m[b * s[0] + h * s[1] + i * s[2] + j]);
                        if !(self.sees(at, j as i64) && (j as i64) < valid) {
                            m += f64::NEG_INFINITY;
                        }
                        bias[j] = m;
                        let key = &keys[(plane * total + j) * dk..(plane * total + j + 1) * dk];
                        let product: f64 = query.iter().zip(key).map(|(a, b)| a * b).sum();
                        let capped = if softcap > 0.0 { (product / softcap).tanh() * softcap } else { product };
                        row[j] = capped + m;
                        if let Some(&x) =
                            [product, capped, row[j]].get(self.qk_mode as usize).filter(|_| self.outputs[3])
                        {
                            qk[r * total + j] = x;
                        }
                    }
                    softmax(&mut row, round);
                    // A query that may see no key answers 0 (decided on the bias, not on the scores).
                    if bias.iter().all(|&m| m == f64::NEG_INFINITY) {
                        row.fill(0.0);
                    }
                    if self.outputs[3] && self.qk_mode == 3 {
                        qk[r * total..(r + 1) * total].copy_from_slice(&row);
                    }
                    let out = if q.rank() == 3 { ((b * q_len + i) * q_heads + h) * dv } else { r * dv };
                    let out = &mut y[out..out + dv];
                    for (j, p) in row.iter().enumerate() {
                        let value = &values[(plane * total + j) * dv..(plane * total + j + 1) * dv];
                        out.iter_mut().zip(value).for_each(|(o, x)| *o += p * x);
                    }
                }
            }
        }
        let y_shape: TVec<usize> =
            if q.rank() == 3 { tvec!(batch, q_len, q_heads * dv) } else { tvec!(batch, q_heads, q_len, dv) };
        outputs[0] = tensor(&y, &y_shape, t1)?;
        if self.outputs[3] {
            outputs.push(tensor(&qk, &[batch, q_heads, q_len, total], t1)?);
        }
        Ok(outputs)
    }
}

impl Op for Attention {
    fn name(&self) -> StaticName {
        "Attention".into()
    }

    op_as_typed_op!();
}

impl EvalOp for Attention {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let inputs: Vec<&Tensor> = inputs.iter().map(|t| &**t).collect();
        Ok(self.compute(&inputs)?.into_iter().map(|t| t.into_tvalue()).collect())
    }
}

impl TypedOp for Attention {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let fact = |slot: usize| self.inputs[slot].and_then(|i| inputs.get(i).copied());
        let types: [Option<DatumType>; 7] = std::array::from_fn(|slot| fact(slot).map(|f| f.datum_type));
        self.check_types(&types)?;
        let shapes: Shapes = std::array::from_fn(|slot| fact(slot).map(|f| f.shape.to_tvec()));
        let layout = self.layout(&shapes).map_err(|e| format_err!("{}: {e}", self.label))?;
        let (t1, t2) = (inputs[0].datum_type, inputs[2].datum_type);
        let types = [t1, t1, t2, t1].into_iter().zip(self.outputs).filter(|(_, w)| *w).map(|(t, _)| t);
        Ok(self.output_shapes(&layout, inputs[0].rank()).into_iter().zip(types).map(|(s, t)| t.fact(s)).collect())
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testing::{Attr, attr, run_node};

    const INF: f64 = f64::INFINITY;

    /// Inputs both sides can make: element i of seed s is ((37 i + 11 s) mod 23) / 11.5 - 1.
    fn data(shape: &[usize], seed: usize) -> Tensor {
        let n: usize = shape.iter().product();
        let values: Vec<f32> = (0..n).map(|i| (((i * 37 + seed * 11) % 23) as f64 / 11.5 - 1.0) as f32).collect();
        Tensor::from_shape(shape, &values).unwrap()
    }

    fn close(actual: &Tensor, expected: &[f64], tol: f64) {
        let actual = actual.cast_to::<f64>().unwrap();
        let actual = plain::<f64>(&actual).unwrap();
        assert_eq!(actual.len(), expected.len(), "{actual:?}, expected {expected:?}");
        for (a, e) in actual.iter().zip(expected) {
            assert!(a == e || (a - e).abs() <= tol * (1.0 + e.abs()), "{actual:?}, expected {expected:?}");
        }
    }

    fn attention(attrs: Vec<(&str, Attr)>, inputs: Vec<(&str, Tensor)>, outputs: &[&str]) -> TVec<Tensor> {
        let attrs = attrs.into_iter().map(|(name, value)| attr(name, value)).collect();
        run_node("Attention", attrs, &inputs, outputs).unwrap()
    }

    /// Case A of the onnx reference (onnx 1.23's op_attention.py): 3D inputs, 4 query heads
    /// over 2 key/value heads, a past of 1, a float mask one key short of the total (padded
    /// with -inf), is_causal, softcap 1.5 and scale 0.7.
    fn case_a(mode: i64, softcap: f32) -> Vec<(&'static str, Attr)> {
        vec![
            ("q_num_heads", Attr::Int(4)),
            ("kv_num_heads", Attr::Int(2)),
            ("scale", Attr::Float(0.7)),
            ("is_causal", Attr::Int(1)),
            ("softcap", Attr::Float(softcap)),
            ("qk_matmul_output_mode", Attr::Int(mode)),
        ]
    }

    fn inputs_a() -> Vec<(&'static str, Tensor)> {
        let (q, k, v) = (data(&[1, 2, 8], 1), data(&[1, 3, 4], 2), data(&[1, 3, 6], 3));
        let (past_key, past_value, mask) = (data(&[1, 2, 1, 2], 4), data(&[1, 2, 1, 3], 5), data(&[2, 3], 6));
        vec![("q", q), ("k", k), ("v", v), ("mask", mask), ("pk", past_key), ("pv", past_value)]
    }

    #[test]
    fn grouped_query_attention_with_cache_mask_causal_and_softcap_as_the_reference() {
        let out = attention(case_a(2, 1.5), inputs_a(), &["y", "present_key", "present_value", "qk"]);
        #[rustfmt::skip]
        let y = [
            -0.19108647, -0.97369516, 0.24369612, -0.19010800, -0.97271669, 0.24467459, -0.53699768,
            0.68039364, -0.10221506, -0.53819591, 0.67919540, -0.10341331, -0.44960326, -0.41487312,
            -0.01482066, -0.57677001, -0.14414908, -0.14198737, 0.33706009, 0.27168643, -0.51092225,
            -0.09386792, 0.47164917, -0.31095955,
        ];
        close(&out[0], &y, 1e-6);
        #[rustfmt::skip]
        let present_key = [
            0.82608694, 0.04347826, 0.91304350, 0.13043478, -0.21739130, -1.0, 0.65217394, -0.13043478,
            -0.73913044, 0.47826087, -0.65217394, 0.56521738, 0.21739130, -0.56521738, -0.91304350,
            0.30434781,
        ];
        close(&out[1], &present_key, 1e-7);
        assert_eq!(out[2].shape(), &[1, 2, 4, 3]);
        #[rustfmt::skip]
        let qk = [
            0.68886572, -0.14652929, -INF, -INF, 0.24358056, -0.50225449, 0.26232100, -INF, 0.95204961,
            0.16944091, -INF, -INF, 0.44685549, -0.36748782, 1.25082850, -INF, 0.33639473, -0.39665046,
            -INF, -INF, 0.03313676, -0.72944087, 0.99735940, -INF, 1.25918138, 0.46255147, -INF, -INF,
            0.95279610, 0.12874666, 0.58988363, -INF,
        ];
        close(&out[3], &qk, 1e-6);
    }

    #[test]
    fn qk_matmul_output_modes_0_and_1_are_the_product_before_and_after_softcap() {
        let outputs = ["y", "", "", "qk"];
        let after = attention(case_a(1, 1.5), inputs_a(), &outputs);
        #[rustfmt::skip]
        let capped = [
            -0.05026473, -0.10305103, 0.55693442, 0.05555114, -0.14772378, -0.11095013, -0.56376594,
            -0.22069281, 0.21291916, 0.21291918, 0.21291916, 0.21291916, 0.05555114, 0.02381653, 0.42474151,
            0.11884303, -0.40273571, -0.35317221, 0.10831775, -0.49898127, -0.35816759, -0.33813652,
            0.17127247, -0.39781961, 0.52005094, 0.50602973, -0.29769763, 0.54778391, 0.56149173, 0.52005100,
            -0.23620333, 0.64140838,
        ];
        close(&after[1], &capped, 1e-6);
        // Mode 0 is the product before softcap, as the standard and its function body say (the
        // onnx reference gives mode 1's answer there): the reference's mode 0 without softcap.
        let before = attention(case_a(0, 1.5), inputs_a(), &outputs);
        #[rustfmt::skip]
        let product = [
            -0.05028356, -0.10321362, 0.58487713, 0.05557656, -0.14820416, -0.11115313, -0.59281665,
            -0.22230625, 0.21436673, 0.21436675, 0.21436673, 0.21436673, 0.05557656, 0.02381853, 0.43667299,
            0.11909264, -0.41285446, -0.35992441, 0.10850661, -0.51871461, -0.36521736, -0.34404537,
            0.17202267, -0.40756145, 0.54253304, 0.52665406, -0.30170131, 0.57429111, 0.59017009, 0.54253310,
            -0.23818524, 0.68544430,
        ];
        close(&before[1], &product, 1e-6);
        assert_eq!(before[0], after[0]);
    }

    /// Case B of the reference: a boolean mask [heads, q, kv] whose first row for head 0
    /// allows no key. That row answers 0 in Y and in mode 3's softmax, not NaN.
    #[test]
    fn fully_masked_rows_answer_zero_in_every_float_type() {
        let mask = tensor3(&[[[false, false, false], [true, false, true]], [[true, true, true], [false, true, false]]]);
        #[rustfmt::skip]
        let expected = [
            (DatumType::F16, 2e-3,
             [0.0, 0.0, -0.06396484, 0.40063477, -0.02449036, -0.14270020, -0.65234375, 0.56542969],
             [0.0, 0.0, 0.0, 0.62353516, 0.0, 0.37646484, 0.29833984, 0.33203125, 0.36938477, 0.0, 1.0, 0.0]),
            (DatumType::F32, 1e-6,
             [0.0, 0.0, -0.06408377, 0.40070018, -0.02445804, -0.14293391, -0.65217394, 0.56521738],
             [0.0, 0.0, 0.0, 0.62369633, 0.0, 0.37630364, 0.29838958, 0.33206642, 0.36954400, 0.0, 1.0, 0.0]),
            (DatumType::F64, 1e-6,
             [0.0, 0.0, -0.06408378, 0.40070021, -0.02445799, -0.14293391, -0.65217394, 0.56521738],
             [0.0, 0.0, 0.0, 0.62369633, 0.0, 0.37630364, 0.29838961, 0.33206639, 0.36954400, 0.0, 1.0, 0.0]),
        ];
        for (dt, tol, y, qk) in expected {
            let cast = |t: Tensor| t.cast_to_dt(dt).unwrap().into_owned();
            let (q, k, v) = (cast(data(&[1, 2, 2, 2], 7)), cast(data(&[1, 2, 3, 2], 8)), cast(data(&[1, 2, 3, 2], 9)));
            let inputs = vec![("q", q), ("k", k), ("v", v), ("mask", mask.clone())];
            let out = attention(vec![("qk_matmul_output_mode", Attr::Int(3))], inputs, &["y", "", "", "qk"]);
            assert_eq!((out[0].datum_type(), out[1].datum_type()), (dt, dt));
            close(&out[0], &y, tol);
            close(&out[1], &qk, tol);
        }
        // Any number type is an additive mask, cast to the inputs' type first.
        let int_mask = tensor2(&[[0i64, -2, 1], [3, 0, -1]]);
        for dt in [DatumType::F16, DatumType::F32] {
            let cast = |t: Tensor| t.cast_to_dt(dt).unwrap().into_owned();
            let (q, k, v) = (cast(data(&[1, 2, 2, 2], 7)), cast(data(&[1, 2, 3, 2], 8)), cast(data(&[1, 2, 3, 2], 9)));
            let with = |mask: Tensor| {
                let inputs = vec![("q", q.clone()), ("k", k.clone()), ("v", v.clone()), ("mask", mask)];
                attention(vec![], inputs, &["y"]).remove(0)
            };
            assert_eq!(with(int_mask.clone()), with(cast(int_mask.clone())));
        }
    }

    /// Case C of the reference: an external cache of 4 keys of which batch 0 holds 2, three
    /// queries, so causal rows 0 and 1 of batch 0 see no key; then a window instead.
    #[test]
    fn nonpad_kv_seqlen_aligns_causal_and_window_masks_per_batch() {
        let inputs = || {
            let (q, k, v) = (data(&[2, 2, 3, 2], 10), data(&[2, 1, 4, 2], 11), data(&[2, 1, 4, 2], 12));
            let omitted = || ("", Tensor::default());
            vec![("q", q), ("k", k), ("v", v), omitted(), omitted(), omitted(), ("n", tensor1(&[2i64, 4]))]
        };
        #[rustfmt::skip]
        let start = [0.0, 0.0, 0.47826087, -0.30434781, 0.60433036, -0.17827837, 0.0, 0.0, 0.47826087, -0.30434781];
        let causal = attention(vec![("is_causal", Attr::Int(1))], inputs(), &["y"]);
        #[rustfmt::skip]
        let rest = [
            0.72539467, -0.05721407, 0.42027500, -0.36233366, 0.23221458, -0.23171210, -0.32277513, 0.19393788,
            0.44059291, -0.34201580, -0.08236056, -0.06676732, 0.09405252, -0.09086683,
        ];
        close(&causal[0], &[&start[..], &rest].concat(), 1e-6);
        let window = vec![("left_window_size", Attr::Int(1)), ("right_window_size", Attr::Int(0))];
        let windowed = attention(window, inputs(), &["y"]);
        #[rustfmt::skip]
        let rest = [
            0.72539467, -0.05721407, 0.42027500, -0.36233366, 0.24178290, -0.01643728, -0.71881068, 0.49858060,
            0.44059291, -0.34201580, -0.18370354, 0.10175339, -0.69855785, 0.51883346,
        ];
        close(&windowed[0], &[&start[..], &rest].concat(), 1e-6);
    }

    /// Case D of the reference: float32 inputs with softmax_precision float16 take the
    /// softmax's rounding: every probability is a float16 (the float32 softmax differs by up
    /// to 1.3e-3). The reference's float16 `exp` is numpy's vectorised one, within an ulp.
    #[test]
    fn a_narrower_softmax_precision_rounds_the_softmax() {
        let times3 = |t: Tensor| {
            let x: Vec<f32> = plain::<f32>(&t).unwrap().iter().map(|x| x * 3.0).collect();
            Tensor::from_shape(t.shape(), &x).unwrap()
        };
        let (q, k, v) = (times3(data(&[1, 1, 2, 4], 13)), times3(data(&[1, 1, 3, 4], 14)), data(&[1, 1, 3, 2], 15));
        let inputs = vec![("q", q), ("k", k), ("v", v), ("mask", data(&[3], 16))];
        let attrs = vec![("qk_matmul_output_mode", Attr::Int(3)), ("softmax_precision", Attr::Int(10))];
        let out = attention(attrs, inputs, &["y", "", "", "qk"]);
        close(&out[0], &[-0.07478133, -0.68190598, -0.25648859, 0.05062127], 1e-3);
        let qk = [0.08764648, 0.49658203, 0.41552734, 0.54492188, 0.00015998, 0.45507812];
        close(&out[1], &qk, 1e-3);
        assert!(plain::<f32>(&out[1]).unwrap().iter().all(|&p| f16::from_f32(p).to_f32() == p), "{:?}", out[1]);
    }

    fn op() -> Attention {
        Attention {
            label: "a".into(),
            inputs: [Some(0), Some(1), Some(2), None, None, None, None],
            outputs: [true, false, false, false],
            heads: None,
            scale: None,
            causal: false,
            softcap: 0.0,
            qk_mode: 0,
            softmax_precision: None,
            window: (-1, -1),
        }
    }

    /// Shapes with symbols load: the outputs' shapes follow them, and what cannot be checked
    /// yet is checked at run time.
    #[test]
    fn symbolic_shapes_give_symbolic_outputs() {
        let scope = SymbolScope::default();
        let dims = |s: &str| -> TVec<TDim> { s.split(',').map(|d| scope.parse_tdim(d).unwrap()).collect() };
        let f32s = |s: &str| f32::fact(dims(s));
        let cached = Attention {
            inputs: [Some(0), Some(1), Some(2), Some(3), Some(4), Some(5), None],
            outputs: [true; 4],
            heads: Some((4, 2)),
            ..op()
        };
        let facts =
            [f32s("N,S,8"), f32s("N,T,4"), f32s("N,T,6"), bool::fact(dims("S,P+T")), f32s("N,2,P,2"), f32s("N,2,P,3")];
        let out = cached.output_facts(&facts.iter().collect::<Vec<_>>()).unwrap();
        let shapes: Vec<TVec<TDim>> = out.iter().map(|f| f.shape.to_tvec()).collect();
        assert_eq!(shapes, [dims("N,S,12"), dims("N,2,P+T,2"), dims("N,2,P+T,3"), dims("N,4,S,P+T")]);
        let facts = [f32s("B,H,S,D"), f32s("B,G,T,D"), f32s("B,G,T,E")];
        let out = op().output_facts(&facts.iter().collect::<Vec<_>>()).unwrap();
        assert_eq!(out[0].shape.to_tvec(), dims("B,H,S,E"));
    }

    #[test]
    fn inconsistent_shapes_at_run_time_are_e_input_shape() {
        let code = |e: TractError| crate::error::from_tract(&e, crate::Error::Runtime);
        let run = |op: &Attention, inputs: &[Tensor]| {
            let inputs: Vec<&Tensor> = inputs.iter().collect();
            op.compute(&inputs).map_err(code)
        };
        let (q, k, v) = (data(&[2, 4, 3, 2], 1), data(&[2, 2, 5, 2], 2), data(&[2, 2, 5, 3], 3));
        assert_eq!(run(&op(), &[q.clone(), k.clone(), v.clone()]).unwrap()[0].shape(), &[2, 4, 3, 3]);
        let bad = [
            (op(), vec![q.clone(), data(&[1, 2, 5, 2], 2), v.clone()], "batch sizes"),
            (op(), vec![data(&[2, 3, 3, 2], 1), k.clone(), v.clone()], "2 key/value heads do not divide 3"),
            (op(), vec![q.clone(), k.clone(), data(&[2, 2, 4, 3], 3)], "sequence length"),
            (op(), vec![q.clone(), data(&[2, 2, 5, 3], 2), v.clone()], "heads have size"),
            (op(), vec![q.clone(), data(&[2, 0, 5, 2], 2), data(&[2, 0, 5, 3], 3)], "no heads"),
            (op(), vec![data(&[2, 3, 2], 1), k.clone(), v.clone()], "ranks"),
            (
                Attention { heads: Some((3, 2)), ..op() },
                vec![data(&[2, 3, 7], 1), data(&[2, 5, 4], 2), data(&[2, 5, 4], 3)],
                "hidden size 7",
            ),
        ];
        for (op, inputs, message) in bad {
            let err = run(&op, &inputs).unwrap_err();
            assert_eq!(err.code(), "E_INPUT_SHAPE", "{err}");
            assert!(err.to_string().contains(message), "{err}");
        }
        let masked = Attention { inputs: [Some(0), Some(1), Some(2), Some(3), None, None, None], ..op() };
        for mask in [data(&[2, 4, 3, 6], 4), data(&[3, 4, 3, 5], 4), data(&[2, 3, 5], 4), Tensor::from(0f32)] {
            let err = run(&masked, &[q.clone(), k.clone(), v.clone(), mask]).unwrap_err();
            assert_eq!(err.code(), "E_INPUT_SHAPE", "{err}");
            assert!(err.to_string().contains("attn_mask has shape"), "{err}");
        }
        let nonpad = Attention { inputs: [Some(0), Some(1), Some(2), None, None, None, Some(3)], ..op() };
        let err = run(&nonpad, &[q.clone(), k.clone(), v.clone(), tensor1(&[1i64, 2, 3])]).unwrap_err();
        assert!(err.to_string().contains("nonpad_kv_seqlen has shape"), "{err}");
        let cached = Attention { inputs: [Some(0), Some(1), Some(2), None, Some(3), Some(4), None], ..op() };
        let err = run(&cached, &[q.clone(), k, v, data(&[2, 2, 1, 2], 4), data(&[2, 2, 2, 3], 5)]).unwrap_err();
        assert!(err.to_string().contains("past_key has sequence length 1 and past_value 2"), "{err}");
    }

    #[test]
    fn bad_nodes_are_refused_at_load() {
        let inputs_3d = || vec![("q", data(&[1, 2, 8], 1)), ("k", data(&[1, 3, 4], 2)), ("v", data(&[1, 3, 4], 3))];
        let heads = |q, kv| vec![attr("q_num_heads", Attr::Int(q)), attr("kv_num_heads", Attr::Int(kv))];
        let refused = |attrs: Vec<_>, inputs: &[(&str, Tensor)], outputs: &[&str], message: &str| {
            let err = run_node("Attention", attrs, inputs, outputs).unwrap_err();
            assert!(format!("{err:?}").contains(message), "{err:?}");
        };
        refused(heads(3, 2), &inputs_3d(), &["y"], "hidden size 8, which 3 heads do not divide");
        refused(heads(4, 3), &inputs_3d(), &["y"], "hidden size 4, which 3 heads do not divide");
        let wide_kv = [("q", data(&[1, 2, 8], 1)), ("k", data(&[1, 3, 16], 2)), ("v", data(&[1, 3, 16], 3))];
        refused(heads(2, 4), &wide_kv, &["y"], "4 key/value heads do not divide 2 query heads");
        refused(vec![], &inputs_3d(), &["y"], "need the attributes q_num_heads and kv_num_heads");
        refused(vec![attr("q_num_heads", Attr::Int(4))], &inputs_3d(), &["y"], "must be given together");
        let with = |name, value| [heads(4, 2), vec![attr(name, value)]].concat();
        refused(with("qk_matmul_output_mode", Attr::Int(4)), &inputs_3d(), &["y"], "qk_matmul_output_mode is 4");
        refused(with("softcap", Attr::Float(-1.0)), &inputs_3d(), &["y"], "softcap is -1");
        refused(with("is_causal", Attr::Int(2)), &inputs_3d(), &["y"], "is_causal is 2");
        refused(with("softmax_precision", Attr::Int(7)), &inputs_3d(), &["y"], "softmax_precision is 7");
        refused(with("left_window_size", Attr::Int(-2)), &inputs_3d(), &["y"], "left_window_size is -2");
        let past = [inputs_3d(), vec![("", Tensor::default()), ("pk", data(&[1, 2, 1, 2], 4))]].concat();
        refused(heads(4, 2), &past, &["y"], "past_key and past_value must be given together");
        let int_q = vec![("q", tensor3(&[[[1i32; 8]; 2]])), ("k", data(&[1, 3, 4], 2)), ("v", data(&[1, 3, 4], 3))];
        refused(heads(4, 2), &int_q, &["y"], "expected Q and K of one float type");
        let nonpad = [inputs_3d(), vec![("", Tensor::default()); 3], vec![("n", tensor1(&[1i32]))]].concat();
        refused(heads(4, 2), &nonpad, &["y"], "nonpad_kv_seqlen is Some(I32)");
        refused(heads(4, 2), &inputs_3d(), &["y", "a", "b", "c", "d"], "expected the output Y");
    }
}
