//! Recurrent layers as ONNX defines them (LSTM, GRU, RNN), in every direction, with sequence
//! lengths, initial states, peepholes, clipping and any of the activations the standard
//! names. The input's contribution to every gate at every step is one product over the whole
//! sequence; each step then adds the previous state's product and applies the gates, one
//! batch row at a time (rows are independent, and each has its own length).

use crate::clamp::Clamp;
use crate::dense::{Weights, matmul};
use crate::simd::{self, F32x4};

/// A gate's activation, with its `activation_alpha` and `activation_beta` where it takes them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    Sigmoid,
    Tanh,
    Relu,
    HardSigmoid(f32, f32),
    LeakyRelu(f32),
    ThresholdedRelu(f32),
    ScaledTanh(f32, f32),
    Affine(f32, f32),
    Elu(f32),
    Softsign,
    Softplus,
}

impl Activation {
    /// The activation ONNX names `name`, with its parameters (the standard's defaults where
    /// none are given), or `None` for a name the standard does not define.
    pub fn named(name: &str, alpha: Option<f32>, beta: Option<f32>) -> Option<Activation> {
        Some(match name.to_ascii_lowercase().as_str() {
            "sigmoid" => Activation::Sigmoid,
            "tanh" => Activation::Tanh,
            "relu" => Activation::Relu,
            "hardsigmoid" => Activation::HardSigmoid(alpha.unwrap_or(0.2), beta.unwrap_or(0.5)),
            "leakyrelu" => Activation::LeakyRelu(alpha.unwrap_or(0.01)),
            "thresholdedrelu" => Activation::ThresholdedRelu(alpha.unwrap_or(1.0)),
            "scaledtanh" => Activation::ScaledTanh(alpha.unwrap_or(1.0), beta.unwrap_or(1.0)),
            "affine" => Activation::Affine(alpha.unwrap_or(1.0), beta.unwrap_or(0.0)),
            "elu" => Activation::Elu(alpha.unwrap_or(1.0)),
            "softsign" => Activation::Softsign,
            "softplus" => Activation::Softplus,
            _ => return None,
        })
    }

    /// Whether the activation reads `activation_alpha` / `activation_beta`.
    pub fn parameters(name: &str) -> (bool, bool) {
        match name.to_ascii_lowercase().as_str() {
            "hardsigmoid" | "scaledtanh" | "affine" => (true, true),
            "leakyrelu" | "thresholdedrelu" | "elu" => (true, false),
            _ => (false, false),
        }
    }

    fn apply(self, x: f32) -> f32 {
        match self {
            Activation::Sigmoid => {
                // Written so that neither branch overflows: exp of a large positive is inf.
                if x >= 0.0 {
                    1.0 / (1.0 + (-x).exp())
                } else {
                    let e = x.exp();
                    e / (1.0 + e)
                }
            }
            Activation::Tanh => x.tanh(),
            Activation::Relu => {
                if x < 0.0 {
                    0.0
                } else {
                    x
                }
            }
            Activation::HardSigmoid(a, b) => (a * x + b).clamp(0.0, 1.0),
            Activation::LeakyRelu(a) => {
                if x < 0.0 {
                    a * x
                } else {
                    x
                }
            }
            Activation::ThresholdedRelu(a) => {
                if x > a {
                    x
                } else {
                    0.0
                }
            }
            Activation::ScaledTanh(a, b) => a * (b * x).tanh(),
            Activation::Affine(a, b) => a * x + b,
            Activation::Elu(a) => {
                if x < 0.0 {
                    a * (x.exp() - 1.0)
                } else {
                    x
                }
            }
            Activation::Softsign => x / (1.0 + x.abs()),
            Activation::Softplus => (x.exp()).ln_1p(),
        }
    }

    /// Applies the activation to every value of `xs`; Sigmoid and Tanh four lanes at a time,
    /// with a rational approximation (as onnxruntime's MLAS computes them).
    fn apply_all(self, xs: &mut [f32]) {
        let lanes = match self {
            Activation::Sigmoid => simd::sigmoid4,
            Activation::Tanh => simd::tanh4,
            _ => {
                xs.iter_mut().for_each(|x| *x = self.apply(*x));
                return;
            }
        };
        let mut chunks = xs.chunks_exact_mut(4);
        for x in &mut chunks {
            lanes(F32x4::load(x)).store(x);
        }
        let rest = chunks.into_remainder();
        if !rest.is_empty() {
            let mut t = [0.0f32; 4];
            t[..rest.len()].copy_from_slice(rest);
            lanes(F32x4::load(&t)).store(&mut t);
            rest.copy_from_slice(&t[..rest.len()]);
        }
    }
}

/// Which recurrent layer, with the options of its kind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// Gates i, o, f, c; `input_forget` couples f to 1 - i.
    Lstm {
        input_forget: bool,
    },
    /// Gates z, r, h; `linear_before_reset` applies r after the hidden state's product.
    Gru {
        linear_before_reset: bool,
    },
    Rnn,
}

impl Kind {
    /// Gates, and so blocks of `hidden` rows in W and R.
    pub fn gates(self) -> usize {
        match self {
            Kind::Lstm { .. } => 4,
            Kind::Gru { .. } => 3,
            Kind::Rnn => 1,
        }
    }
}

/// A layer's shape and options.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub kind: Kind,
    pub input: usize,
    pub hidden: usize,
    /// f, g, h for an LSTM; f, g for a GRU; f for an RNN (the rest unused).
    pub activations: [Activation; 3],
    /// Bounds every gate's input to [-clip, clip].
    pub clip: Option<f32>,
}

/// One direction's weights, packed for the products: `w` (input to gates), `r` (state to
/// gates; for a GRU the z and r gates' only, its h gate's apart in `r_h`), the biases added
/// to the input's product (`Wb + Rb`, but a GRU's h gate keeps `Rb` for its state's product),
/// and an LSTM's peepholes (i, o, f).
#[derive(Debug, Clone, PartialEq)]
pub struct DirectionWeights {
    w: Weights,
    r: Weights,
    r_h: Option<Weights>,
    input_bias: Vec<f32>,
    state_bias_h: Vec<f32>,
    peepholes: Option<Vec<f32>>,
}

impl DirectionWeights {
    /// From ONNX's `W[d]` (`gates*hidden x input`), `R[d]` (`gates*hidden x hidden`), `B[d]`
    /// (`2*gates*hidden`) and `P[d]` (`3*hidden`, LSTM).
    pub fn new(
        cell: &Cell,
        w: &[f32],
        r: &[f32],
        b: Option<&[f32]>,
        p: Option<&[f32]>,
    ) -> Result<DirectionWeights, String> {
        let (g, h, i) = (cell.kind.gates(), cell.hidden, cell.input);
        if w.len() != g * h * i
            || r.len() != g * h * h
            || b.is_some_and(|b| b.len() != 2 * g * h)
            || p.is_some_and(|p| p.len() != 3 * h)
        {
            return Err(format!(
                "recurrent weights of {} (W), {} (R), {:?} (B) and {:?} (P) values do not fit {g} gates of {h} over {i} inputs",
                w.len(),
                r.len(),
                b.map(<[f32]>::len),
                p.map(<[f32]>::len)
            ));
        }
        let (wb, rb) = b.map_or((vec![0.0; g * h], vec![0.0; g * h]), |b| (b[..g * h].to_vec(), b[g * h..].to_vec()));
        let mut input_bias: Vec<f32> = wb.iter().zip(&rb).map(|(a, b)| a + b).collect();
        let (r, r_h, state_bias_h) = match cell.kind {
            Kind::Gru { .. } => {
                input_bias[2 * h..].copy_from_slice(&wb[2 * h..]);
                (
                    Weights::new(&r[..2 * h * h], h, 2 * h, true)?,
                    Some(Weights::new(&r[2 * h * h..], h, h, true)?),
                    rb[2 * h..].to_vec(),
                )
            }
            _ => (Weights::new(r, h, g * h, true)?, None, Vec::new()),
        };
        Ok(DirectionWeights {
            w: Weights::new(w, i, g * h, true)?,
            r,
            r_h,
            input_bias,
            state_bias_h,
            peepholes: p.map(<[f32]>::to_vec),
        })
    }
}

/// The input sequence: `[seq, batch, input]`, or `[batch, seq, input]` when `batch_first`,
/// with each batch row's length (at most `seq`; all of it when `None`).
#[derive(Debug, Clone, Copy)]
pub struct Sequence<'a> {
    pub x: &'a [f32],
    pub seq: usize,
    pub batch: usize,
    pub batch_first: bool,
    pub lengths: Option<&'a [i32]>,
}

/// Where the outputs go, each optional: `y` (`[seq, dirs, batch, hidden]`, or
/// `[batch, seq, dirs, hidden]` when batch first) and the last states `y_h` and `y_c`
/// (`[dirs, batch, hidden]`, or `[batch, dirs, hidden]`). Steps past a row's length are zero
/// in `y`.
pub struct Outputs<'a> {
    pub y: Option<&'a mut [f32]>,
    pub y_h: Option<&'a mut [f32]>,
    pub y_c: Option<&'a mut [f32]>,
}

/// Runs the layer over `sequence` in each direction of `directions` (weights, and whether it
/// runs backwards), from the initial states `h0` and `c0` (zero when absent; laid out as
/// `y_h`).
pub fn run(
    cell: &Cell,
    directions: &[(DirectionWeights, bool)],
    sequence: Sequence,
    h0: Option<&[f32]>,
    c0: Option<&[f32]>,
    out: Outputs,
) -> Result<(), String> {
    let Sequence { x, seq, batch, batch_first, lengths } = sequence;
    let (dirs, h, gh) = (directions.len(), cell.hidden, cell.kind.gates() * cell.hidden);
    let states = dirs * batch * h;
    if x.len() != seq * batch * cell.input
        || h0.is_some_and(|s| s.len() != states)
        || c0.is_some_and(|s| s.len() != states)
        || out.y.as_ref().is_some_and(|y| y.len() != seq * states)
        || out.y_h.as_ref().is_some_and(|s| s.len() != states)
        || out.y_c.as_ref().is_some_and(|s| s.len() != states)
        || lengths.is_some_and(|l| l.len() != batch)
    {
        return Err(format!(
            "recurrent layer: the inputs or outputs do not fit {seq} steps of {batch} rows, {dirs} directions and {h} hidden"
        ));
    }
    if let Some(bad) = lengths.and_then(|l| l.iter().find(|&&n| n < 0 || n as usize > seq)) {
        return Err(format!("a sequence length is {bad}, expected between 0 and {seq}"));
    }
    let Outputs { mut y, mut y_h, mut y_c } = out;
    if let Some(y) = y.as_deref_mut() {
        y.fill(0.0);
    }
    let row = |t: usize, b: usize| if batch_first { b * seq + t } else { t * batch + b };
    let state_at = |d: usize, b: usize| if batch_first { (b * dirs + d) * h } else { (d * batch + b) * h };
    let y_at = |t: usize, d: usize, b: usize| {
        if batch_first { ((b * seq + t) * dirs + d) * h } else { ((t * dirs + d) * batch + b) * h }
    };
    let mut gates_x = vec![0.0f32; seq * batch * gh];
    let (mut hs, mut cs) = (vec![0.0f32; h], vec![0.0f32; h]);
    let mut scratch = Scratch::new(gh, h);
    for (d, (weights, reverse)) in directions.iter().enumerate() {
        // Every step's input term at once, with the biases that go with it.
        matmul(x, seq * batch, &weights.w, Some(&weights.input_bias), Clamp::NONE, &mut gates_x)?;
        for b in 0..batch {
            let at = state_at(d, b);
            for (state, initial) in [(&mut hs, h0), (&mut cs, c0)] {
                match initial {
                    Some(s) => state.copy_from_slice(&s[at..at + h]),
                    None => state.fill(0.0),
                }
            }
            let len = lengths.map_or(seq, |l| l[b] as usize);
            for step in 0..len {
                let t = if *reverse { len - 1 - step } else { step };
                let gx = &gates_x[row(t, b) * gh..(row(t, b) + 1) * gh];
                scratch.step(cell, weights, gx, &mut hs, &mut cs)?;
                if let Some(y) = y.as_deref_mut() {
                    let o = y_at(t, d, b);
                    y[o..o + h].copy_from_slice(&hs);
                }
            }
            if let Some(s) = y_h.as_deref_mut() {
                s[at..at + h].copy_from_slice(&hs);
            }
            if let Some(s) = y_c.as_deref_mut() {
                s[at..at + h].copy_from_slice(&cs);
            }
        }
    }
    Ok(())
}

/// A step's buffers, reused: the gates, a GRU's reset state, and a GRU's candidate or an
/// LSTM's squashed cell.
struct Scratch {
    gates: Vec<f32>,
    reset: Vec<f32>,
    candidate: Vec<f32>,
}

impl Scratch {
    fn new(gh: usize, h: usize) -> Scratch {
        Scratch { gates: vec![0.0; gh], reset: vec![0.0; h], candidate: vec![0.0; h] }
    }

    /// One step of one batch row: `gx` is the input's term, `hs` and `cs` the state, updated.
    fn step(
        &mut self,
        cell: &Cell,
        w: &DirectionWeights,
        gx: &[f32],
        hs: &mut [f32],
        cs: &mut [f32],
    ) -> Result<(), String> {
        let h = cell.hidden;
        let [f, g, act_h] = cell.activations;
        let clip = |v: f32| cell.clip.map_or(v, |c| v.clamp(-c, c));
        match cell.kind {
            Kind::Lstm { input_forget } => {
                let gates = &mut self.gates;
                matmul(hs, 1, &w.r, None, Clamp::NONE, gates)?;
                for (a, b) in gates.iter_mut().zip(gx) {
                    *a += b;
                }
                let (gi, rest) = gates.split_at_mut(h);
                let (go, rest) = rest.split_at_mut(h);
                let (gf, gc) = rest.split_at_mut(h);
                let p = w.peepholes.as_deref();
                if let Some(p) = p {
                    for j in 0..h {
                        gi[j] += p[j] * cs[j];
                        gf[j] += p[2 * h + j] * cs[j];
                    }
                }
                for v in gi.iter_mut().chain(gf.iter_mut()).chain(gc.iter_mut()) {
                    *v = clip(*v);
                }
                f.apply_all(gi);
                if input_forget {
                    for (forget, i) in gf.iter_mut().zip(gi.iter()) {
                        *forget = 1.0 - i;
                    }
                } else {
                    f.apply_all(gf);
                }
                g.apply_all(gc);
                for j in 0..h {
                    cs[j] = gf[j] * cs[j] + gi[j] * gc[j];
                }
                for j in 0..h {
                    go[j] = clip(go[j] + p.map_or(0.0, |p| p[h + j] * cs[j]));
                }
                f.apply_all(go);
                let squashed = &mut self.candidate;
                squashed.copy_from_slice(cs);
                act_h.apply_all(squashed);
                for j in 0..h {
                    hs[j] = go[j] * squashed[j];
                }
            }
            Kind::Gru { linear_before_reset } => {
                let zr = &mut self.gates[..2 * h];
                matmul(hs, 1, &w.r, None, Clamp::NONE, zr)?;
                for (a, b) in zr.iter_mut().zip(gx) {
                    *a = clip(*a + b);
                }
                f.apply_all(zr);
                let r_h = w.r_h.as_ref().ok_or("a GRU without its h gate's weights")?;
                let bias = Some(&w.state_bias_h[..]);
                if linear_before_reset {
                    matmul(hs, 1, r_h, bias, Clamp::NONE, &mut self.candidate)?;
                    for j in 0..h {
                        self.candidate[j] *= zr[h + j];
                    }
                } else {
                    for j in 0..h {
                        self.reset[j] = zr[h + j] * hs[j];
                    }
                    matmul(&self.reset, 1, r_h, bias, Clamp::NONE, &mut self.candidate)?;
                }
                for j in 0..h {
                    self.candidate[j] = clip(self.candidate[j] + gx[2 * h + j]);
                }
                g.apply_all(&mut self.candidate);
                for j in 0..h {
                    let z = zr[j];
                    hs[j] = (1.0 - z) * self.candidate[j] + z * hs[j];
                }
            }
            Kind::Rnn => {
                let gates = &mut self.gates;
                matmul(hs, 1, &w.r, None, Clamp::NONE, gates)?;
                for (a, b) in gates.iter_mut().zip(gx) {
                    *a = clip(*a + b);
                }
                hs.copy_from_slice(gates);
                f.apply_all(hs);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activations_by_name_with_the_standards_defaults() {
        assert_eq!(Activation::named("Sigmoid", None, None), Some(Activation::Sigmoid));
        assert_eq!(Activation::named("HardSigmoid", None, None), Some(Activation::HardSigmoid(0.2, 0.5)));
        assert_eq!(Activation::named("LeakyRelu", Some(0.3), None), Some(Activation::LeakyRelu(0.3)));
        assert_eq!(Activation::named("Gelu", None, None), None);
        assert_eq!(Activation::Sigmoid.apply(-1000.0), 0.0);
        assert_eq!(Activation::Sigmoid.apply(1000.0), 1.0);
        assert!((Activation::Sigmoid.apply(0.5) - 0.622_459_3).abs() < 1e-6);
        assert!(Activation::Tanh.apply(f32::NAN).is_nan());
    }

    /// A one-unit LSTM by hand: every weight 1, input 1, two steps.
    #[test]
    fn one_unit_lstm_by_hand() {
        let cell = Cell {
            kind: Kind::Lstm { input_forget: false },
            input: 1,
            hidden: 1,
            activations: [Activation::Sigmoid, Activation::Tanh, Activation::Tanh],
            clip: None,
        };
        let w = DirectionWeights::new(&cell, &[1.0; 4], &[1.0; 4], None, None).unwrap();
        let s = |x: f32| 1.0 / (1.0 + (-x).exp());
        let (mut h, mut c) = (0.0f32, 0.0f32);
        let mut expected = Vec::new();
        for _ in 0..2 {
            let pre = 1.0 + h;
            c = s(pre) * c + s(pre) * pre.tanh();
            h = s(pre) * c.tanh();
            expected.push(h);
        }
        let (mut y, mut y_h, mut y_c) = (vec![0.0; 2], vec![0.0; 1], vec![0.0; 1]);
        let sequence = Sequence { x: &[1.0, 1.0], seq: 2, batch: 1, batch_first: false, lengths: None };
        run(
            &cell,
            &[(w.clone(), false)],
            sequence,
            None,
            None,
            Outputs { y: Some(&mut y), y_h: Some(&mut y_h), y_c: Some(&mut y_c) },
        )
        .unwrap();
        assert!((y[0] - expected[0]).abs() < 1e-6 && (y[1] - expected[1]).abs() < 1e-6, "{y:?} {expected:?}");
        assert_eq!(y_h[0], y[1]);
        assert!((y_c[0] - c).abs() < 1e-6, "{} {c}", y_c[0]);
        // Backwards over a length-1 row of the same sequence: one step, the second zero.
        let sequence = Sequence { lengths: Some(&[1]), ..sequence };
        run(&cell, &[(w, true)], sequence, None, None, Outputs { y: Some(&mut y), y_h: None, y_c: None }).unwrap();
        assert_eq!(y[1], 0.0);
        assert!((y[0] - expected[0]).abs() < 1e-6);
    }

    #[test]
    fn shapes_that_do_not_fit_are_refused() {
        let cell = Cell { kind: Kind::Rnn, input: 2, hidden: 3, activations: [Activation::Tanh; 3], clip: None };
        assert!(DirectionWeights::new(&cell, &[0.0; 5], &[0.0; 9], None, None).is_err());
        let w = DirectionWeights::new(&cell, &[0.0; 6], &[0.0; 9], Some(&[0.0; 6]), None).unwrap();
        let sequence = Sequence { x: &[0.0; 4], seq: 2, batch: 1, batch_first: false, lengths: Some(&[3]) };
        assert!(run(&cell, &[(w, false)], sequence, None, None, Outputs { y: None, y_h: None, y_c: None }).is_err());
    }
}
