//! Element-wise functions of one tensor (casts), or of two or three broadcast against each
//! other, as ONNX broadcasts (shapes aligned on the right, an axis of 1 repeated):
//! comparisons, logic and Where, over bool, i32, i64 and f32. The entry points take typed
//! slices and are instantiated here, so they get this crate's optimisation whoever calls
//! them. Axes are first merged wherever every input steps through them alike, so that the
//! loop's inner run is as long as it can be; it then runs at stride 1 or 0 for each input,
//! four cases each with a loop of its own, which compilers vectorise.

/// Strides (0 where an input repeats) of each input over the output's axes.
fn plan<const N: usize>(out: &[usize], inputs: [&[usize]; N]) -> Result<Vec<(usize, [usize; N])>, String> {
    let rank = out.len();
    let mut strides = vec![[0usize; N]; rank];
    for (i, shape) in inputs.iter().enumerate() {
        if shape.len() > rank {
            return Err(format!("input {i} of shape {shape:?} has more axes than the output {out:?}"));
        }
        let mut stride = 1;
        for axis in (0..shape.len()).rev() {
            let (d, o) = (shape[axis], out[axis + rank - shape.len()]);
            if d != o && d != 1 {
                return Err(format!("input {i} of shape {shape:?} does not broadcast to {out:?}"));
            }
            strides[axis + rank - shape.len()][i] = if d == 1 { 0 } else { stride };
            stride *= d;
        }
    }
    // Merge each axis into the one after it where every input steps through both alike.
    let mut axes: Vec<(usize, [usize; N])> = Vec::new();
    for axis in 0..rank {
        let (len, s) = (out[axis], strides[axis]);
        if len == 1 {
            continue;
        }
        match axes.last_mut() {
            Some((outer_len, outer)) if (0..N).all(|i| outer[i] == s[i] * len) => {
                *outer_len *= len;
                *outer = s;
            }
            _ => axes.push((len, s)),
        }
    }
    if axes.is_empty() {
        axes.push((1, [0; N]));
    }
    Ok(axes)
}

/// Calls `row(offsets, len, strides)` for each run along the innermost merged axis.
fn rows<const N: usize>(axes: &[(usize, [usize; N])], mut row: impl FnMut([usize; N], usize, [usize; N])) {
    let (inner_len, inner) = axes[axes.len() - 1];
    let outer = &axes[..axes.len() - 1];
    let mut index = vec![0usize; outer.len()];
    let mut offsets = [0usize; N];
    loop {
        row(offsets, inner_len, inner);
        // The next row, like an odometer.
        let mut axis = outer.len();
        loop {
            if axis == 0 {
                return;
            }
            axis -= 1;
            index[axis] += 1;
            for (o, s) in offsets.iter_mut().zip(outer[axis].1) {
                *o += s;
            }
            if index[axis] < outer[axis].0 {
                break;
            }
            for (o, s) in offsets.iter_mut().zip(outer[axis].1) {
                *o -= s * outer[axis].0;
            }
            index[axis] = 0;
        }
    }
}

/// `out[i] = f(x[i])`. Fails when the lengths differ.
fn map<A: Copy, B>(x: &[A], out: &mut [B], f: impl Fn(A) -> B) -> Result<(), String> {
    if x.len() != out.len() {
        return Err(format!("{} values into {} outputs", x.len(), out.len()));
    }
    out.iter_mut().zip(x).for_each(|(y, &v)| *y = f(v));
    Ok(())
}

/// `out[i] = f(a[i], b[i])` over `a` and `b` broadcast to `shape` (`out` is that shape).
fn zip2<A: Copy, B: Copy, C: Copy>(
    shape: &[usize],
    (a, a_shape): (&[A], &[usize]),
    (b, b_shape): (&[B], &[usize]),
    out: &mut [C],
    f: impl Fn(A, B) -> C,
) -> Result<(), String> {
    check(shape, out.len(), &[(a.len(), a_shape), (b.len(), b_shape)])?;
    let axes = plan(shape, [a_shape, b_shape])?;
    let mut at = 0;
    rows(&axes, |[oa, ob], len, [sa, sb]| {
        let y = &mut out[at..at + len];
        match (sa, sb) {
            (1, 1) => y.iter_mut().zip(&a[oa..oa + len]).zip(&b[ob..ob + len]).for_each(|((y, &a), &b)| *y = f(a, b)),
            (1, _) => y.iter_mut().zip(&a[oa..oa + len]).for_each(|(y, &a)| *y = f(a, b[ob])),
            (_, 1) => y.iter_mut().zip(&b[ob..ob + len]).for_each(|(y, &b)| *y = f(a[oa], b)),
            _ => y.fill(f(a[oa], b[ob])),
        }
        at += len;
    });
    Ok(())
}

/// `out[i] = if cond[i] { t[i] } else { e[i] }` over the three broadcast to `shape`.
fn select_t<T: Copy>(
    shape: &[usize],
    (cond, c_shape): (&[bool], &[usize]),
    (t, t_shape): (&[T], &[usize]),
    (e, e_shape): (&[T], &[usize]),
    out: &mut [T],
) -> Result<(), String> {
    check(shape, out.len(), &[(cond.len(), c_shape), (t.len(), t_shape), (e.len(), e_shape)])?;
    let axes = plan(shape, [c_shape, t_shape, e_shape])?;
    let mut at = 0;
    rows(&axes, |[oc, ot, oe], len, [sc, st, se]| {
        let y = &mut out[at..at + len];
        let pick = |i: usize| if cond[oc + i * sc] { t[ot + i * st] } else { e[oe + i * se] };
        match (sc, st, se) {
            // A mask over rows of values against one value: the demo's "allowed, else -inf".
            (1, 1, 0) => {
                let other = e[oe];
                y.iter_mut()
                    .zip(&cond[oc..oc + len])
                    .zip(&t[ot..ot + len])
                    .for_each(|((y, &c), &t)| *y = if c { t } else { other });
            }
            (1, 1, 1) => y
                .iter_mut()
                .zip(&cond[oc..oc + len])
                .zip(&t[ot..ot + len])
                .zip(&e[oe..oe + len])
                .for_each(|(((y, &c), &t), &e)| *y = if c { t } else { e }),
            _ => y.iter_mut().enumerate().for_each(|(i, y)| *y = pick(i)),
        }
        at += len;
    });
    Ok(())
}

/// A tensor's values, of one of the element types these loops take.
#[derive(Debug, Clone, Copy)]
pub enum Values<'a> {
    Bool(&'a [bool]),
    I32(&'a [i32]),
    I64(&'a [i64]),
    F32(&'a [f32]),
}

/// Where values of one of those types go.
#[derive(Debug)]
pub enum ValuesMut<'a> {
    Bool(&'a mut [bool]),
    I32(&'a mut [i32]),
    I64(&'a mut [i64]),
    F32(&'a mut [f32]),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    /// Both true (bool only).
    And,
    /// Either true (bool only).
    Or,
}

/// `out[i] = a[i] op b[i]`, `a` and `b` of one type and broadcast to `shape`. Only Eq, Lt and
/// Le have loops of their own (each loop is instantiated for every type and stride case,
/// which weighs on the module): Gt and Ge swap the operands, Ne negates Eq.
pub fn compare(
    op: Compare,
    shape: &[usize],
    a: (Values, &[usize]),
    b: (Values, &[usize]),
    out: &mut [bool],
) -> Result<(), String> {
    fn typed<T: Copy + PartialOrd>(
        op: Compare,
        shape: &[usize],
        a: (&[T], &[usize]),
        b: (&[T], &[usize]),
        out: &mut [bool],
    ) -> Result<(), String> {
        match op {
            Compare::Eq => zip2(shape, a, b, out, |x, y| x == y),
            Compare::Lt => zip2(shape, a, b, out, |x, y| x < y),
            Compare::Le => zip2(shape, a, b, out, |x, y| x <= y),
            _ => unreachable!("compare passes only Eq, Lt and Le"),
        }
    }
    let (op, (a, b), negate) = match op {
        Compare::Gt => (Compare::Lt, (b, a), false),
        Compare::Ge => (Compare::Le, (b, a), false),
        Compare::Ne => (Compare::Eq, (a, b), true),
        op => (op, (a, b), false),
    };
    let ((a, a_shape), (b, b_shape)) = (a, b);
    match (a, b) {
        (Values::Bool(a), Values::Bool(b)) => match op {
            Compare::And => zip2(shape, (a, a_shape), (b, b_shape), out, |x, y| x && y),
            Compare::Or => zip2(shape, (a, a_shape), (b, b_shape), out, |x, y| x || y),
            Compare::Eq => zip2(shape, (a, a_shape), (b, b_shape), out, |x, y| x == y),
            _ => Err(format!("{op:?} of bool values")),
        },
        (Values::I32(a), Values::I32(b)) if !matches!(op, Compare::And | Compare::Or) => {
            typed(op, shape, (a, a_shape), (b, b_shape), out)
        }
        (Values::I64(a), Values::I64(b)) if !matches!(op, Compare::And | Compare::Or) => {
            typed(op, shape, (a, a_shape), (b, b_shape), out)
        }
        (Values::F32(a), Values::F32(b)) if !matches!(op, Compare::And | Compare::Or) => {
            typed(op, shape, (a, a_shape), (b, b_shape), out)
        }
        (Values::I32(_) | Values::I64(_) | Values::F32(_), _) if matches!(op, Compare::And | Compare::Or) => {
            Err(format!("{op:?} is for bool values"))
        }
        _ => Err("compared values of two types".into()),
    }?;
    if negate {
        out.iter_mut().for_each(|v| *v = !*v);
    }
    Ok(())
}

/// `out[i] = if cond[i] { t[i] } else { e[i] }`, the three broadcast to `shape`; `t`, `e` and
/// `out` of one type.
pub fn select(
    shape: &[usize],
    cond: (&[bool], &[usize]),
    (t, t_shape): (Values, &[usize]),
    (e, e_shape): (Values, &[usize]),
    out: ValuesMut,
) -> Result<(), String> {
    match (t, e, out) {
        (Values::Bool(t), Values::Bool(e), ValuesMut::Bool(o)) => select_t(shape, cond, (t, t_shape), (e, e_shape), o),
        (Values::I32(t), Values::I32(e), ValuesMut::I32(o)) => select_t(shape, cond, (t, t_shape), (e, e_shape), o),
        (Values::I64(t), Values::I64(e), ValuesMut::I64(o)) => select_t(shape, cond, (t, t_shape), (e, e_shape), o),
        (Values::F32(t), Values::F32(e), ValuesMut::F32(o)) => select_t(shape, cond, (t, t_shape), (e, e_shape), o),
        _ => Err("selected between values of different types".into()),
    }
}

/// Each value of `x` as `out`'s type: `as` for numbers (floats truncated and saturated), 0 or 1
/// from bool, and `!= 0` to bool. Fails when the lengths differ.
pub fn cast(x: Values, out: ValuesMut) -> Result<(), String> {
    match (x, out) {
        (Values::Bool(x), ValuesMut::F32(y)) => map(x, y, |v| v as u8 as f32),
        (Values::Bool(x), ValuesMut::I64(y)) => map(x, y, |v| v as i64),
        (Values::Bool(x), ValuesMut::I32(y)) => map(x, y, |v| v as i32),
        (Values::I64(x), ValuesMut::F32(y)) => map(x, y, |v| v as f32),
        (Values::I32(x), ValuesMut::F32(y)) => map(x, y, |v| v as f32),
        (Values::I64(x), ValuesMut::I32(y)) => map(x, y, |v| v as i32),
        (Values::I32(x), ValuesMut::I64(y)) => map(x, y, |v| v as i64),
        (Values::F32(x), ValuesMut::I64(y)) => map(x, y, |v| v as i64),
        (Values::F32(x), ValuesMut::I32(y)) => map(x, y, |v| v as i32),
        (Values::F32(x), ValuesMut::Bool(y)) => map(x, y, |v| v != 0.0),
        (Values::I64(x), ValuesMut::Bool(y)) => map(x, y, |v| v != 0),
        (Values::I32(x), ValuesMut::Bool(y)) => map(x, y, |v| v != 0),
        (x, y) => Err(format!("no cast from {x:?} to {y:?}")),
    }
}

fn check(shape: &[usize], out: usize, inputs: &[(usize, &[usize])]) -> Result<(), String> {
    if out != shape.iter().product::<usize>() {
        return Err(format!("{out} outputs for shape {shape:?}"));
    }
    for (i, (len, s)) in inputs.iter().enumerate() {
        if *len != s.iter().product::<usize>() {
            return Err(format!("input {i}: {len} values for shape {s:?}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition: every output index mapped back to each input's.
    fn reference<T: Copy>(shape: &[usize], x: &[T], x_shape: &[usize]) -> Vec<T> {
        let n: usize = shape.iter().product();
        (0..n)
            .map(|flat| {
                let mut rem = flat;
                let mut coords = vec![0; shape.len()];
                for axis in (0..shape.len()).rev() {
                    coords[axis] = rem % shape[axis];
                    rem /= shape[axis];
                }
                let lead = shape.len() - x_shape.len();
                let mut at = 0;
                for (axis, &d) in x_shape.iter().enumerate() {
                    at = at * d + if d == 1 { 0 } else { coords[axis + lead] };
                }
                x[at]
            })
            .collect()
    }

    #[test]
    fn broadcasts_as_onnx_does() {
        let cases: &[(&[usize], &[usize], &[usize])] = &[
            (&[10, 1663], &[10, 1], &[1663]),
            (&[1663], &[1663], &[1]),
            (&[2, 3, 4, 5], &[2, 3, 4, 5], &[3, 1, 1]),
            (&[2, 3, 4, 5], &[1, 3, 1, 5], &[2, 1, 4, 1]),
            (&[4, 1, 6], &[4, 1, 6], &[]),
            (&[], &[], &[]),
            (&[3, 0], &[3, 1], &[0]),
        ];
        for &(out, a_shape, b_shape) in cases {
            let a: Vec<i64> = (0..a_shape.iter().product::<usize>() as i64).map(|i| (i * 7) % 5).collect();
            let b: Vec<i64> = (0..b_shape.iter().product::<usize>() as i64).map(|i| (i * 3) % 4).collect();
            let n = out.iter().product();
            let mut eq = vec![false; n];
            compare(Compare::Eq, out, (Values::I64(&a), a_shape), (Values::I64(&b), b_shape), &mut eq).unwrap();
            let (ra, rb) = (reference(out, &a, a_shape), reference(out, &b, b_shape));
            let expected: Vec<bool> = ra.iter().zip(&rb).map(|(x, y)| x == y).collect();
            assert_eq!(eq, expected, "{out:?} {a_shape:?} {b_shape:?}");
            let mut picked = vec![0i64; n];
            select(
                out,
                (&expected, out),
                (Values::I64(&a), a_shape),
                (Values::I64(&b), b_shape),
                ValuesMut::I64(&mut picked),
            )
            .unwrap();
            let chosen: Vec<i64> =
                expected.iter().zip(ra.iter().zip(&rb)).map(|(&c, (&x, &y))| if c { x } else { y }).collect();
            assert_eq!(picked, chosen, "select {out:?}");
        }
    }

    #[test]
    fn every_comparison_of_floats_with_nan() {
        let a = [1.0f32, f32::NAN, 2.0, -0.0, f32::INFINITY, 3.0];
        let b = [2.0f32, 1.0, 2.0, 0.0, f32::INFINITY, f32::NAN];
        type Case = (Compare, fn(f32, f32) -> bool);
        let cases: [Case; 6] = [
            (Compare::Eq, |x, y| x == y),
            (Compare::Ne, |x, y| x != y),
            (Compare::Lt, |x, y| x < y),
            (Compare::Gt, |x, y| x > y),
            (Compare::Le, |x, y| x <= y),
            (Compare::Ge, |x, y| x >= y),
        ];
        for (op, f) in cases {
            let mut out = [false; 6];
            compare(op, &[6], (Values::F32(&a), &[6]), (Values::F32(&b), &[6]), &mut out).unwrap();
            let expected: Vec<bool> = a.iter().zip(&b).map(|(&x, &y)| f(x, y)).collect();
            assert_eq!(out.to_vec(), expected, "{op:?}");
            // Against a broadcast scalar too.
            compare(op, &[6], (Values::F32(&a), &[6]), (Values::F32(&[2.0]), &[1]), &mut out).unwrap();
            let expected: Vec<bool> = a.iter().map(|&x| f(x, 2.0)).collect();
            assert_eq!(out.to_vec(), expected, "{op:?} against 2");
        }
    }

    #[test]
    fn shapes_that_do_not_broadcast_are_refused() {
        let mut out = [false; 6];
        assert!(zip2(&[2, 3], (&[1, 2], &[2]), (&[1; 6], &[2, 3]), &mut out, |a: i32, b: i32| a == b).is_err());
        assert!(zip2(&[2, 3], (&[1; 5], &[2, 3]), (&[1; 6], &[2, 3]), &mut out, |a: i32, b: i32| a == b).is_err());
        assert!(zip2(&[3], (&[1; 3], &[1, 3]), (&[1; 3], &[3]), &mut out[..3], |a: i32, b: i32| a == b).is_err());
        assert!(
            compare(Compare::Eq, &[2], (Values::I32(&[1, 2]), &[2]), (Values::I64(&[1, 2]), &[2]), &mut out[..2])
                .is_err()
        );
        assert!(
            compare(Compare::And, &[2], (Values::I32(&[1, 2]), &[2]), (Values::I32(&[1, 2]), &[2]), &mut out[..2])
                .is_err()
        );
    }

    #[test]
    fn casts_as_tract_does() {
        let mut f = [0.0f32; 4];
        cast(Values::Bool(&[true, false, true, true]), ValuesMut::F32(&mut f)).unwrap();
        assert_eq!(f, [1.0, 0.0, 1.0, 1.0]);
        let mut i = [0i64; 4];
        cast(Values::F32(&[-1.7, 2.9, f32::NAN, 1e30]), ValuesMut::I64(&mut i)).unwrap();
        assert_eq!(i, [-1, 2, 0, i64::MAX]);
        let mut b = [false; 4];
        cast(Values::F32(&[0.0, -0.0, f32::NAN, 2.0]), ValuesMut::Bool(&mut b)).unwrap();
        assert_eq!(b, [false, false, true, true]);
        assert!(cast(Values::F32(&[1.0]), ValuesMut::F32(&mut f[..1])).is_err());
        assert!(cast(Values::I32(&[1, 2]), ValuesMut::I64(&mut i)).is_err());
    }
}
