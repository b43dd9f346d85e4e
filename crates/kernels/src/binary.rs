//! Chains of element-wise arithmetic over one accumulator, `a = a op b` step after step, in
//! one pass over memory: a BatchNormalization that could not be folded, then its ReLU, is
//! a multiply, an add and a max per element, done while the element is in a register.

use crate::simd::{self, F32x4};

/// What a step computes, `a` being the accumulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    /// `a - b`.
    Sub,
    /// `b - a`.
    SubFlipped,
    Mul,
    /// NaN if either is NaN.
    Max,
    /// NaN if either is NaN.
    Min,
}

/// How a step's operand lines up with the accumulator.
#[derive(Debug, Clone, Copy)]
pub enum Operand<'a> {
    /// One value per element, repeated: element `i` of `a` takes `b[i % b.len()]` (one per
    /// element when `b` is as long as `a`; a bias along the last axis when it is a row).
    Cyclic(&'a [f32]),
    /// One value per block of `a.len() / b.len()` consecutive elements (a per-channel
    /// scale over NCHW data: one value per H x W plane).
    PerBlock(&'a [f32]),
}

#[derive(Debug, Clone, Copy)]
pub struct Step<'a> {
    pub op: Op,
    pub b: Operand<'a>,
}

/// Elements processed step by step while they stay in the first-level cache.
const TILE: usize = 256;

/// Applies `steps` to `a` in order. Fails, touching nothing, when an operand's length does
/// not fit `a`'s.
pub fn chain(a: &mut [f32], steps: &[Step]) -> Result<(), String> {
    for (i, step) in steps.iter().enumerate() {
        let (Operand::Cyclic(b) | Operand::PerBlock(b)) = step.b;
        if b.is_empty() || !a.len().is_multiple_of(b.len()) {
            return Err(format!("step {i}: {} values do not divide {} elements", b.len(), a.len()));
        }
    }
    // Blocks of one element are an operand as long as `a`.
    let steps: Vec<Step> = steps
        .iter()
        .map(|s| match s.b {
            Operand::PerBlock(b) if b.len() == a.len() => Step { b: Operand::Cyclic(b), ..*s },
            _ => *s,
        })
        .collect();
    let mut periods = steps.iter().filter_map(|s| match s.b {
        Operand::PerBlock(b) => Some(a.len() / b.len()),
        Operand::Cyclic(_) => None,
    });
    let period = periods.next().unwrap_or(a.len());
    if periods.all(|p| p == period) {
        chain_blocks(a, &steps, period);
    } else {
        // Blocks of different sizes: one pass per step.
        for step in &steps {
            let period = match step.b {
                Operand::PerBlock(b) => a.len() / b.len(),
                Operand::Cyclic(_) => a.len(),
            };
            chain_blocks(a, std::slice::from_ref(step), period);
        }
    }
    Ok(())
}

/// All steps, block by block, where every per-block operand has blocks of `period`; tiles
/// end where a cyclic operand starts over, so each tile reads one run of it.
fn chain_blocks(a: &mut [f32], steps: &[Step], period: usize) {
    if period == 0 {
        return;
    }
    let cycles: Vec<usize> =
        steps.iter().filter_map(|s| if let Operand::Cyclic(b) = s.b { Some(b.len()) } else { None }).collect();
    for (j, block) in a.chunks_mut(period).enumerate() {
        let mut done = 0;
        while done < block.len() {
            let at = j * period + done;
            let len = cycles.iter().fold(TILE.min(block.len() - done), |len, &c| len.min(c - at % c));
            let tile = &mut block[done..done + len];
            for step in steps {
                match step.b {
                    Operand::PerBlock(b) => apply_scalar(tile, step.op, b[j]),
                    Operand::Cyclic(b) => {
                        let from = at % b.len();
                        apply_slice(tile, step.op, &b[from..from + len]);
                    }
                }
            }
            done += len;
        }
    }
}

#[inline(always)]
fn lanes(op: Op, x: F32x4, y: F32x4) -> F32x4 {
    match op {
        Op::Add => x.add(y),
        Op::Sub => x.sub(y),
        Op::SubFlipped => y.sub(x),
        Op::Mul => x.mul(y),
        Op::Max => x.max(y),
        Op::Min => x.min(y),
    }
}

#[inline(always)]
fn one(op: Op, x: f32, y: f32) -> f32 {
    match op {
        Op::Add => x + y,
        Op::Sub => x - y,
        Op::SubFlipped => y - x,
        Op::Mul => x * y,
        Op::Max => simd::max(x, y),
        Op::Min => simd::min(x, y),
    }
}

fn apply_scalar(a: &mut [f32], op: Op, b: f32) {
    // One loop per operation, so the match is outside the loop.
    macro_rules! run {
        ($op:expr) => {{
            let v = F32x4::splat(b);
            let mut chunks = a.chunks_exact_mut(4);
            for x in &mut chunks {
                lanes($op, F32x4::load(x), v).store(x);
            }
            for x in chunks.into_remainder() {
                *x = one($op, *x, b);
            }
        }};
    }
    match op {
        Op::Add => run!(Op::Add),
        Op::Sub => run!(Op::Sub),
        Op::SubFlipped => run!(Op::SubFlipped),
        Op::Mul => run!(Op::Mul),
        Op::Max => run!(Op::Max),
        Op::Min => run!(Op::Min),
    }
}

/// `a[i] = a[i] op b[i]` over the shorter of the two.
fn apply_slice(a: &mut [f32], op: Op, b: &[f32]) {
    macro_rules! run {
        ($op:expr) => {{
            let mut xs = a.chunks_exact_mut(4);
            let mut ys = b.chunks_exact(4);
            for (x, y) in (&mut xs).zip(&mut ys) {
                lanes($op, F32x4::load(x), F32x4::load(y)).store(x);
            }
            for (x, y) in xs.into_remainder().iter_mut().zip(ys.remainder()) {
                *x = one($op, *x, *y);
            }
        }};
    }
    match op {
        Op::Add => run!(Op::Add),
        Op::Sub => run!(Op::Sub),
        Op::SubFlipped => run!(Op::SubFlipped),
        Op::Mul => run!(Op::Mul),
        Op::Max => run!(Op::Max),
        Op::Min => run!(Op::Min),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(a: &[f32], steps: &[Step]) -> Vec<f32> {
        let mut out = a.to_vec();
        for step in steps {
            for (i, x) in out.iter_mut().enumerate() {
                let y = match step.b {
                    Operand::Cyclic(b) => b[i % b.len()],
                    Operand::PerBlock(b) => b[i / (a.len() / b.len())],
                };
                *x = one(step.op, *x, y);
            }
        }
        out
    }

    fn same(a: &[f32], b: &[f32]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
    }

    #[test]
    fn chains_match_step_by_step_arithmetic() {
        // Lengths around the lane and tile sizes, blocks of 1, 7 and 49 (a 7x7 plane).
        for (len, blocks) in [(3, 3), (7, 1), (392, 8), (49 * 6, 6), (1030, 10), (2 * TILE + 5, 1)] {
            let a: Vec<f32> = (0..len).map(|i| ((i * 37) % 23) as f32 - 11.0).collect();
            let each: Vec<f32> = (0..len).map(|i| ((i * 13) % 7) as f32 * 0.5 - 1.0).collect();
            // A row repeated along the first axis, as a bias over the last one.
            let row: Vec<f32> = each[..len / blocks].to_vec();
            let scale: Vec<f32> = (0..blocks).map(|j| 0.5 + j as f32).collect();
            let shift: Vec<f32> = (0..blocks).map(|j| 1.0 - j as f32 * 0.25).collect();
            let zero = vec![0.0; blocks];
            for ops in [[Op::Mul, Op::Add, Op::Max], [Op::Sub, Op::SubFlipped, Op::Min]] {
                let steps = [
                    Step { op: ops[0], b: Operand::PerBlock(&scale) },
                    Step { op: ops[1], b: Operand::Cyclic(&each) },
                    Step { op: Op::Add, b: Operand::PerBlock(&shift) },
                    Step { op: Op::Mul, b: Operand::Cyclic(&row) },
                    Step { op: ops[2], b: Operand::PerBlock(&zero) },
                ];
                let mut ours = a.clone();
                chain(&mut ours, &steps).unwrap();
                assert!(same(&ours, &reference(&a, &steps)), "{len} {blocks} {ops:?}");
            }
        }
    }

    #[test]
    fn max_and_min_propagate_nan_and_blocks_may_differ() {
        let a = [f32::NAN, 1.0, -2.0, 0.0, f32::NAN, f32::INFINITY, -f32::INFINITY, 3.0, 5.0];
        let b = [0.0, f32::NAN, 0.0, f32::NAN, 1.0, 0.0, 0.0, 4.0, f32::NAN];
        let mut x = a;
        chain(&mut x, &[Step { op: Op::Max, b: Operand::Cyclic(&b) }]).unwrap();
        assert!(same(&x, &[f32::NAN, f32::NAN, 0.0, f32::NAN, f32::NAN, f32::INFINITY, 0.0, 4.0, f32::NAN]));
        let mut y = a;
        chain(&mut y, &[Step { op: Op::Min, b: Operand::PerBlock(&[0.0]) }]).unwrap();
        assert!(same(&y, &[f32::NAN, 0.0, -2.0, 0.0, f32::NAN, 0.0, -f32::INFINITY, 0.0, 0.0]));
        // Blocks of 3 then of 9 (one block): step by step.
        let steps = [
            Step { op: Op::Add, b: Operand::PerBlock(&[1.0, 2.0, 3.0]) },
            Step { op: Op::Mul, b: Operand::PerBlock(&[2.0]) },
        ];
        let mut z = a;
        chain(&mut z, &steps).unwrap();
        assert!(same(&z, &reference(&a, &steps)));
    }

    #[test]
    fn operands_that_do_not_fit_are_refused_untouched() {
        let mut a = [1.0f32; 10];
        assert!(chain(&mut a, &[Step { op: Op::Add, b: Operand::Cyclic(&[]) }]).is_err());
        assert!(chain(&mut a, &[Step { op: Op::Add, b: Operand::Cyclic(&[1.0; 9]) }]).is_err());
        assert!(chain(&mut a, &[Step { op: Op::Add, b: Operand::PerBlock(&[1.0; 3]) }]).is_err());
        assert!(chain(&mut a, &[Step { op: Op::Add, b: Operand::PerBlock(&[]) }]).is_err());
        assert_eq!(a, [1.0; 10]);
    }
}
