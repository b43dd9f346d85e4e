//! Element-wise functions of two or three tensors broadcast against each other, as ONNX
//! broadcasts (shapes aligned on the right, an axis of 1 repeated): comparisons, logic and
//! Where. Axes are first merged wherever every input steps through them alike, so that the
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

/// `out[i] = f(a[i], b[i])` over `a` and `b` broadcast to `shape` (`out` is that shape).
pub fn zip2<A: Copy, B: Copy, C>(
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
            _ => y.iter_mut().for_each(|y| *y = f(a[oa], b[ob])),
        }
        at += len;
    });
    Ok(())
}

/// `out[i] = if cond[i] { t[i] } else { e[i] }` over the three broadcast to `shape`.
pub fn select<T: Copy>(
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
                y.iter_mut().zip(&cond[oc..oc + len]).zip(&t[ot..ot + len]).for_each(|((y, &c), &t)| *y = if c { t } else { other });
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
            zip2(out, (&a, a_shape), (&b, b_shape), &mut eq, |x, y| x == y).unwrap();
            let (ra, rb) = (reference(out, &a, a_shape), reference(out, &b, b_shape));
            let expected: Vec<bool> = ra.iter().zip(&rb).map(|(x, y)| x == y).collect();
            assert_eq!(eq, expected, "{out:?} {a_shape:?} {b_shape:?}");
            let mut picked = vec![0i64; n];
            select(out, (&expected, out), (&a, a_shape), (&b, b_shape), &mut picked).unwrap();
            let chosen: Vec<i64> = expected.iter().zip(ra.iter().zip(&rb)).map(|(&c, (&x, &y))| if c { x } else { y }).collect();
            assert_eq!(picked, chosen, "select {out:?}");
        }
    }

    #[test]
    fn shapes_that_do_not_broadcast_are_refused() {
        let mut out = [false; 6];
        assert!(zip2(&[2, 3], (&[1, 2], &[2]), (&[1; 6], &[2, 3]), &mut out, |a: i32, b: i32| a == b).is_err());
        assert!(zip2(&[2, 3], (&[1; 5], &[2, 3]), (&[1; 6], &[2, 3]), &mut out, |a: i32, b: i32| a == b).is_err());
        assert!(zip2(&[3], (&[1; 3], &[1, 3]), (&[1; 3], &[3]), &mut out[..3], |a: i32, b: i32| a == b).is_err());
    }
}
