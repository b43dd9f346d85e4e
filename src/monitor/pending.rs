//! Recent predictions awaiting their ground truth: a ring of at most `capacity` rows (and as
//! many prediction headers), so feedback can arrive long after the prediction while memory
//! stays fixed. A prediction is found in constant time from its id's random token; once its
//! rows are overwritten, feedback for it is refused as too old.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::target::Predicted;

/// What a row was labelled with, kept so that a repeated feedback call is recognised.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Truth {
    Class(u32),
    Value(f64),
}

#[derive(Debug, Clone, Copy)]
struct Header {
    sequence: u64,
    token: u128,
    first_row: u64,
    rows: u32,
}

#[derive(Debug, Clone, Copy)]
struct Row {
    predicted: Predicted,
    truth: Option<Truth>,
}

#[derive(Debug, Clone)]
pub struct Pending {
    capacity: usize,
    width: usize,
    headers: Vec<Option<Header>>,
    /// The token of each header held, to its sequence number.
    by_token: HashMap<u128, u64, BuildHasherDefault<TokenHasher>>,
    rows: Vec<Row>,
    scores: Vec<f32>,
    /// Rows ever written; row r lives at slot r % capacity while r ≥ written − capacity.
    written: u64,
}

/// Hashes a token by its low 64 bits: tokens come from a CSPRNG, so they are already
/// uniform, and a caller can only look tokens up, never choose the ones stored.
#[derive(Default)]
struct TokenHasher(u64);

impl Hasher for TokenHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for (i, b) in bytes.iter().take(8).enumerate() {
            self.0 |= u64::from(*b) << (8 * i);
        }
    }

    fn write_u128(&mut self, token: u128) {
        self.0 = token as u64;
    }
}

/// Where a prediction's rows are, for feedback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    first_row: u64,
    pub rows: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    Found(Found),
    /// Its rows were overwritten by newer predictions.
    Expired,
    /// Not held: never made here, its header overwritten, or a batch larger than the ring.
    Unknown,
}

impl Pending {
    /// `width` scores are kept per row (0 for none).
    pub fn new(capacity: usize, width: usize) -> Self {
        let capacity = capacity.max(1);
        Pending {
            capacity,
            width,
            headers: Vec::new(),
            by_token: HashMap::default(),
            rows: Vec::new(),
            scores: Vec::new(),
            written: 0,
        }
    }

    /// Keeps prediction `sequence`'s rows, to be found by `token`. `scores` has `width` per
    /// row or is empty.
    pub fn push(&mut self, sequence: u64, token: u128, predicted: &[Predicted], scores: &[f32]) {
        if predicted.is_empty() || predicted.len() > self.capacity {
            return;
        }
        let header = Header { sequence, token, first_row: self.written, rows: predicted.len() as u32 };
        let slot = (sequence % self.capacity as u64) as usize;
        if slot >= self.headers.len() {
            self.headers.resize(slot + 1, None);
        }
        if let Some(h) = self.headers.get_mut(slot) {
            if let Some(old) = h.replace(header) {
                self.by_token.remove(&old.token);
            }
            self.by_token.insert(token, sequence);
        }
        let have_scores = self.width > 0 && scores.len() == predicted.len() * self.width;
        for (i, &p) in predicted.iter().enumerate() {
            let r = (self.written % self.capacity as u64) as usize;
            let row = Row { predicted: p, truth: None };
            let row_scores = if have_scores { &scores[i * self.width..(i + 1) * self.width] } else { &[][..] };
            if r == self.rows.len() {
                self.rows.push(row);
                self.scores.extend(row_scores.iter().copied().chain(std::iter::repeat(f32::NAN)).take(self.width));
            } else {
                self.rows[r] = row;
                let at = r * self.width;
                for (j, s) in self.scores[at..at + self.width].iter_mut().enumerate() {
                    *s = row_scores.get(j).copied().unwrap_or(f32::NAN);
                }
            }
            self.written += 1;
        }
    }

    pub fn find(&self, token: u128) -> Lookup {
        let Some(&sequence) = self.by_token.get(&token) else { return Lookup::Unknown };
        let slot = (sequence % self.capacity as u64) as usize;
        match self.headers.get(slot).copied().flatten() {
            Some(h) if h.sequence == sequence && h.first_row >= self.written.saturating_sub(self.capacity as u64) => {
                Lookup::Found(Found { first_row: h.first_row, rows: h.rows as usize })
            }
            _ => Lookup::Expired,
        }
    }

    fn slot(&self, found: Found, row: usize) -> usize {
        ((found.first_row + row as u64) % self.capacity as u64) as usize
    }

    /// Row `row` of a found prediction: its prediction, scores and truth so far.
    pub fn row(&self, found: Found, row: usize) -> (Predicted, &[f32], Option<Truth>) {
        let r = self.slot(found, row);
        let scores = self.scores.get(r * self.width..(r + 1) * self.width).unwrap_or(&[]);
        match self.rows.get(r) {
            Some(x) => (x.predicted, scores, x.truth),
            None => (Predicted::Unknown, &[], None),
        }
    }

    pub fn set_truth(&mut self, found: Found, row: usize, truth: Truth) {
        let r = self.slot(found, row);
        if let Some(x) = self.rows.get_mut(r) {
            x.truth = Some(truth);
        }
    }

    /// Rows held now (at most the capacity).
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The sizes of the buffers, to check that they stay within their bounds.
    pub fn footprint(&self) -> (usize, usize, usize) {
        debug_assert!(self.by_token.len() <= self.headers.len());
        (self.headers.len(), self.rows.len(), self.scores.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_recent_predictions_and_expires_old_ones() {
        let token = |s: u64| u128::from(s) * 0x9e37_79b9_7f4a_7c15 + 1;
        let mut p = Pending::new(5, 2);
        p.push(0, token(0), &[Predicted::Class(1), Predicted::Class(0)], &[0.1, 0.9, 0.8, 0.2]);
        p.push(1, token(1), &[Predicted::Class(1)], &[0.3, 0.7]);
        let Lookup::Found(f) = p.find(token(0)) else { panic!() };
        assert_eq!(f.rows, 2);
        assert_eq!(p.row(f, 1).0, Predicted::Class(0));
        assert_eq!(p.row(f, 1).1, [0.8, 0.2]);
        p.set_truth(f, 1, Truth::Class(0));
        assert_eq!(p.row(f, 1).2, Some(Truth::Class(0)));
        assert_eq!(p.find(token(2)), Lookup::Unknown);
        // Two more rows fill the ring; the next overwrites prediction 0's first row.
        p.push(2, token(2), &[Predicted::Class(0); 2], &[]);
        assert!(matches!(p.find(token(0)), Lookup::Found(_)));
        p.push(3, token(3), &[Predicted::Class(0)], &[]);
        assert_eq!(p.find(token(0)), Lookup::Expired);
        let Lookup::Found(f) = p.find(token(1)) else { panic!() };
        assert_eq!(p.row(f, 0).1, [0.3, 0.7]);
        let Lookup::Found(f) = p.find(token(2)) else { panic!() };
        assert!(p.row(f, 0).1.iter().all(|s| s.is_nan()), "no scores given: NaN");
        // A batch larger than the ring is not kept.
        p.push(4, token(4), &[Predicted::Value(1.0); 6], &[]);
        assert_eq!(p.find(token(4)), Lookup::Unknown);
        for s in 5..10_000u64 {
            p.push(s, token(s), &[Predicted::Value(s as f64)], &[0.5, 0.5]);
        }
        assert_eq!(p.footprint(), (5, 5, 10));
        assert_eq!(p.by_token.len(), 5, "tokens are forgotten with their headers");
        assert_eq!(p.find(token(9_994)), Lookup::Unknown);
        assert!(matches!(p.find(token(9_995)), Lookup::Found(_)));
    }
}
