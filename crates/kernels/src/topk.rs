//! The k largest (or smallest) values of a row and their indices, best first, ties by the
//! lower index, as onnxruntime orders them. onnxruntime's order around NaN is whatever its
//! partial sort leaves; here NaN ranks above every number (first among the largest, last
//! among the smallest), so an answer never depends on the algorithm.

use std::cmp::Ordering;

use crate::simd::F32x4;

/// NaN above +inf; -0 and +0 equal.
fn rank(a: f32, b: f32) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// Below this `k`, a sorted buffer of the best so far; above, a selection then a sort.
const BUFFERED: usize = 32;

/// The top `k` of `row`, best first, into `values` and `indices` (each `k` long). Fails
/// when `k` exceeds the row or the outputs are not `k` long.
pub fn top_k(row: &[f32], k: usize, largest: bool, values: &mut [f32], indices: &mut [i64]) -> Result<(), String> {
    if k > row.len() || values.len() != k || indices.len() != k {
        return Err(format!("top {k} of {} values into {} and {} outputs", row.len(), values.len(), indices.len()));
    }
    // `a` goes before `b`: a better value, or an equal one at a lower index.
    let before = |a: (f32, usize), b: (f32, usize)| {
        let by_value = if largest { rank(b.0, a.0) } else { rank(a.0, b.0) };
        by_value.then(a.1.cmp(&b.1)) == Ordering::Less
    };
    if k == 0 {
        return Ok(());
    }
    if k <= BUFFERED {
        let mut best: Vec<(f32, usize)> = Vec::with_capacity(k + 1);
        let mut i = 0;
        while i < row.len() {
            // Four values at a time pass the worst kept one (which, not being NaN, only NaN
            // or a better number beats: an equal one comes later) in one comparison; most of
            // a long row does.
            if best.len() == k && i + 4 <= row.len() {
                let worst = best[k - 1].0;
                if !worst.is_nan() && !F32x4::load(&row[i..]).any_beyond_or_nan(worst, !largest) {
                    i += 4;
                    continue;
                }
            }
            let (v, index) = (row[i], i);
            i += 1;
            if best.len() == k && !before((v, index), best[k - 1]) {
                continue;
            }
            let at = best.partition_point(|&b| before(b, (v, index)));
            best.insert(at, (v, index));
            best.truncate(k);
        }
        for ((v, i), (value, index)) in best.into_iter().zip(values.iter_mut().zip(indices.iter_mut())) {
            *value = v;
            *index = i as i64;
        }
    } else {
        let mut all: Vec<(f32, usize)> = row.iter().copied().zip(0..).collect();
        let order =
            |a: &(f32, usize), b: &(f32, usize)| if before(*a, *b) { Ordering::Less } else { Ordering::Greater };
        if k < all.len() {
            all.select_nth_unstable_by(k - 1, order);
        }
        all.truncate(k);
        all.sort_unstable_by(order);
        for ((v, i), (value, index)) in all.into_iter().zip(values.iter_mut().zip(indices.iter_mut())) {
            *value = v;
            *index = i as i64;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(row: &[f32], k: usize, largest: bool) -> (Vec<f32>, Vec<i64>) {
        let mut all: Vec<(f32, usize)> = row.iter().copied().zip(0..).collect();
        all.sort_by(|a, b| if largest { rank(b.0, a.0) } else { rank(a.0, b.0) }.then(a.1.cmp(&b.1)));
        all.truncate(k);
        (all.iter().map(|x| x.0).collect(), all.iter().map(|x| x.1 as i64).collect())
    }

    fn same(a: &[f32], b: &[f32]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y || (x.is_nan() && y.is_nan()))
    }

    #[test]
    fn best_first_ties_by_index_both_algorithms() {
        let row: Vec<f32> = (0..1663).map(|i| ((i * 7919) % 97) as f32 * 0.5 - 20.0).collect();
        for k in [0, 1, 10, 32, 33, 200, 1663] {
            for largest in [true, false] {
                let (mut v, mut i) = (vec![0.0; k], vec![0; k]);
                top_k(&row, k, largest, &mut v, &mut i).unwrap();
                let (rv, ri) = reference(&row, k, largest);
                assert!(same(&v, &rv) && i == ri, "k {k} largest {largest}");
            }
        }
    }

    #[test]
    fn nan_ranks_above_every_number() {
        let row = [3.0, f32::NAN, 1.0, 5.0, f32::NAN, 2.0, 5.0, f32::NEG_INFINITY, f32::INFINITY];
        for k in [5, 9] {
            let (mut v, mut i) = (vec![0.0; k], vec![0; k]);
            top_k(&row, k, true, &mut v, &mut i).unwrap();
            assert_eq!(&i[..5], [1, 4, 8, 3, 6]);
            top_k(&row, k, false, &mut v, &mut i).unwrap();
            assert_eq!(&i[..5], [7, 2, 5, 0, 3]);
        }
        let mut big = vec![0.0f32; 100];
        big[50] = f32::NAN;
        let (mut v, mut i) = (vec![0.0; 40], vec![0; 40]);
        top_k(&big, 40, true, &mut v, &mut i).unwrap();
        assert_eq!(i[0], 50);
        assert_eq!(&i[1..4], [0, 1, 2]);
        // Long rows with ties, NaN and infinities, where four values at a time are passed over.
        for seed in 0..20usize {
            let row: Vec<f32> = (0..103)
                .map(|i| match (i * 7 + seed * 13) % 41 {
                    0 => f32::NAN,
                    1 => f32::NEG_INFINITY,
                    2 => f32::INFINITY,
                    v => (v % 9) as f32 - 4.0,
                })
                .collect();
            for k in [1, 3, 10, 32] {
                for largest in [true, false] {
                    let (mut v, mut i) = (vec![0.0; k], vec![0; k]);
                    top_k(&row, k, largest, &mut v, &mut i).unwrap();
                    let (rv, ri) = reference(&row, k, largest);
                    assert!(same(&v, &rv) && i == ri, "seed {seed} k {k} largest {largest}");
                }
            }
        }
        assert!(top_k(&row, 10, true, &mut [0.0; 10], &mut [0; 10]).is_err());
        assert!(top_k(&row, 2, true, &mut [0.0; 3], &mut [0; 2]).is_err());
    }
}
