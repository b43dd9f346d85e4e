//! Reference statistics: what the training data looked like, feature by feature, for live
//! traffic to be compared with. Numeric features keep quantiles and a histogram over bins
//! cut at the 5% quantiles (equal-frequency bins, so every bin has something to compare);
//! categorical ones keep their most frequent categories. The JSON form is what
//! `edgeinfer reference` writes, what the `reference` load option takes, and what a bundle's
//! manifest embeds under `reference`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub const FORMAT: &str = "edgeinfer-reference";
/// Quantiles kept: 0%, 5%, ..., 100%; the interior ones cut the bins.
const QUANTILE_STEPS: usize = 20;
/// Categories kept per feature; rarer ones are pooled as `other`.
pub const MAX_CATEGORIES: usize = 64;

/// A column of training data: numbers (NaN for missing) or categories (`None` for missing).
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    Numeric(Vec<f64>),
    Categorical(Vec<Option<String>>),
}

impl Column {
    pub fn len(&self) -> usize {
        match self {
            Column::Numeric(v) => v.len(),
            Column::Categorical(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reference {
    pub format: String,
    pub version: u32,
    pub rows: u64,
    pub features: Vec<FeatureReference>,
    /// The model's predictions on the same rows, when a model was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prediction: Option<FeatureReference>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum FeatureReference {
    Numeric(NumericReference),
    Categorical(CategoricalReference),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericReference {
    pub name: String,
    /// Values present, and missing (NaN or empty).
    pub count: u64,
    pub missing: u64,
    pub mean: Option<f64>,
    pub std: Option<f64>,
    /// At 0%, 5%, ..., 100% (linear interpolation, as numpy's default).
    pub quantiles: Vec<f64>,
    /// Ascending, distinct: bin i holds values in (edges[i−1], edges[i]].
    pub edges: Vec<f64>,
    /// Values per bin: `edges.len() + 1` of them.
    pub counts: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoricalReference {
    pub name: String,
    pub count: u64,
    pub missing: u64,
    /// The most frequent categories, most frequent first, with their counts.
    pub categories: Vec<(String, u64)>,
    /// Values in categories not listed.
    pub other: u64,
}

impl FeatureReference {
    pub fn name(&self) -> &str {
        match self {
            FeatureReference::Numeric(n) => &n.name,
            FeatureReference::Categorical(c) => &c.name,
        }
    }

    pub fn from_column(name: &str, column: &Column) -> FeatureReference {
        match column {
            Column::Numeric(values) => FeatureReference::Numeric(NumericReference::from_values(name, values)),
            Column::Categorical(values) => {
                FeatureReference::Categorical(CategoricalReference::from_values(name, values))
            }
        }
    }

    fn validate(&self) -> std::result::Result<(), String> {
        match self {
            FeatureReference::Numeric(n) => {
                if n.edges.iter().any(|e| !e.is_finite()) || n.edges.windows(2).any(|w| w[0] >= w[1]) {
                    return Err(format!("feature '{}': edges must be finite and strictly ascending", n.name));
                }
                if n.counts.len() != n.edges.len() + 1 {
                    return Err(format!(
                        "feature '{}': {} counts for {} edges, expected {}",
                        n.name,
                        n.counts.len(),
                        n.edges.len(),
                        n.edges.len() + 1
                    ));
                }
                if n.edges.len() > 250 {
                    return Err(format!("feature '{}': {} bins, at most 251 are supported", n.name, n.counts.len()));
                }
            }
            FeatureReference::Categorical(c) => {
                if c.categories.len() > 250 {
                    return Err(format!(
                        "feature '{}': {} categories, at most 250 are supported",
                        c.name,
                        c.categories.len()
                    ));
                }
                let mut seen = std::collections::HashSet::new();
                if let Some((dup, _)) = c.categories.iter().find(|(k, _)| !seen.insert(k)) {
                    return Err(format!("feature '{}': category '{dup}' is listed twice", c.name));
                }
            }
        }
        Ok(())
    }
}

impl NumericReference {
    pub fn from_values(name: &str, values: &[f64]) -> NumericReference {
        let mut present: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        present.sort_by(f64::total_cmp);
        let n = present.len();
        let quantile = |q: f64| {
            let at = q * (n - 1) as f64;
            let (lo, frac) = (at.floor() as usize, at.fract());
            let hi = (lo + 1).min(n - 1);
            present[lo] + (present[hi] - present[lo]) * frac
        };
        let quantiles: Vec<f64> = if n == 0 {
            Vec::new()
        } else {
            (0..=QUANTILE_STEPS).map(|i| quantile(i as f64 / QUANTILE_STEPS as f64)).collect()
        };
        let mut edges: Vec<f64> = quantiles.iter().skip(1).take(QUANTILE_STEPS.saturating_sub(1)).copied().collect();
        edges.dedup();
        let mut counts = vec![0u64; edges.len() + 1];
        for &v in &present {
            counts[edges.partition_point(|&e| e < v)] += 1;
        }
        let mean = (n > 0).then(|| present.iter().sum::<f64>() / n as f64);
        let std = mean
            .filter(|_| n > 1)
            .map(|m| (present.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (n - 1) as f64).sqrt());
        NumericReference {
            name: name.to_owned(),
            count: n as u64,
            missing: (values.len() - n) as u64,
            mean,
            std,
            quantiles,
            edges,
            counts,
        }
    }
}

impl CategoricalReference {
    pub fn from_values(name: &str, values: &[Option<String>]) -> CategoricalReference {
        let mut counts: HashMap<&str, u64> = HashMap::new();
        let mut missing = 0;
        for v in values {
            match v {
                Some(s) => *counts.entry(s.as_str()).or_default() += 1,
                None => missing += 1,
            }
        }
        let mut sorted: Vec<(String, u64)> = counts.into_iter().map(|(k, n)| (k.to_owned(), n)).collect();
        sorted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let other = sorted.iter().skip(MAX_CATEGORIES).map(|(_, n)| n).sum();
        sorted.truncate(MAX_CATEGORIES);
        CategoricalReference {
            name: name.to_owned(),
            count: (values.len() - missing) as u64,
            missing: missing as u64,
            categories: sorted,
            other,
        }
    }
}

impl Reference {
    /// Statistics of named columns of equal length.
    pub fn from_columns(columns: &[(String, Column)]) -> Result<Reference> {
        let rows = columns.first().map_or(0, |(_, c)| c.len());
        if let Some((name, c)) = columns.iter().find(|(_, c)| c.len() != rows) {
            return Err(Error::InvalidOption(format!(
                "reference column '{name}' has {} rows, the first has {rows}",
                c.len()
            )));
        }
        let features = columns.iter().map(|(name, c)| FeatureReference::from_column(name, c)).collect();
        Ok(Reference { format: FORMAT.into(), version: 1, rows: rows as u64, features, prediction: None })
    }

    pub fn from_json(text: &str) -> Result<Reference> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| Error::InvalidOption(format!("reference is not JSON: {e}")))?;
        Reference::from_value(value)
    }

    /// From parsed JSON (a bundle manifest's `reference`), checked.
    pub fn from_value(value: serde_json::Value) -> Result<Reference> {
        let reference: Reference = serde_json::from_value(value)
            .map_err(|e| Error::InvalidOption(format!("reference is not an {FORMAT} document: {e}")))?;
        if reference.format != FORMAT || reference.version != 1 {
            return Err(Error::InvalidOption(format!(
                "reference has format '{}' version {}, expected '{FORMAT}' version 1",
                reference.format, reference.version
            )));
        }
        let mut names = std::collections::HashSet::new();
        for f in &reference.features {
            if !names.insert(f.name()) {
                return Err(Error::InvalidOption(format!("reference names feature '{}' twice", f.name())));
            }
        }
        for f in reference.features.iter().chain(&reference.prediction) {
            f.validate().map_err(|why| Error::InvalidOption(format!("reference {why}")))?;
        }
        Ok(reference)
    }

    pub fn to_json(&self) -> String {
        // Plain data with string keys: serialising it cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_quantiles_bins_and_missing_values() {
        let values: Vec<f64> = (1..=100).map(f64::from).chain([f64::NAN]).collect();
        let r = NumericReference::from_values("x", &values);
        assert_eq!((r.count, r.missing), (100, 1));
        assert_eq!(r.quantiles.len(), 21);
        assert_eq!(r.quantiles[0], 1.0);
        assert_eq!(r.quantiles[20], 100.0);
        assert!((r.quantiles[10] - 50.5).abs() < 1e-12, "numpy's median of 1..=100");
        assert_eq!(r.edges.len(), 19);
        assert_eq!(r.counts.iter().sum::<u64>(), 100);
        assert!(r.counts.iter().all(|&c| c == 5), "{:?}", r.counts);
        assert!((r.std.unwrap() - 29.011_491_975_882_016).abs() < 1e-9);
        // A feature with three values gets bins at its distinct values only.
        let r = NumericReference::from_values("k", &[0.0, 0.0, 0.0, 1.0, 1.0, 2.0]);
        assert!(r.edges.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(r.counts.iter().sum::<u64>(), 6);
    }

    #[test]
    fn categories_keep_the_most_frequent() {
        let mut values: Vec<Option<String>> = (0..100).map(|i| Some(format!("c{}", i % 70))).collect();
        values.extend([None, Some("c0".into())]);
        let r = CategoricalReference::from_values("c", &values);
        assert_eq!(r.categories.len(), MAX_CATEGORIES);
        assert_eq!(r.categories[0], ("c0".to_string(), 3));
        assert_eq!(r.count, 101);
        assert_eq!(r.missing, 1);
        assert_eq!(r.categories.iter().map(|c| c.1).sum::<u64>() + r.other, 101);
    }

    #[test]
    fn json_round_trip_and_refusals() {
        let columns = vec![
            ("age".to_string(), Column::Numeric(vec![30.0, 40.0, 50.0])),
            ("country".to_string(), Column::Categorical(vec![Some("FR".into()), None, Some("DE".into())])),
        ];
        let r = Reference::from_columns(&columns).unwrap();
        let again = Reference::from_json(&r.to_json()).unwrap();
        assert_eq!(again, r);
        assert!(r.to_json().contains("\"type\": \"categorical\""));
        let bad = r.to_json().replace("edgeinfer-reference", "something-else");
        assert!(matches!(Reference::from_json(&bad), Err(Error::InvalidOption(m)) if m.contains("something-else")));
        assert!(matches!(Reference::from_json("{"), Err(Error::InvalidOption(m)) if m.contains("not JSON")));
        let mut unsorted = r.clone();
        if let FeatureReference::Numeric(n) = &mut unsorted.features[0] {
            n.edges = vec![2.0, 1.0];
            n.counts = vec![1, 1, 1];
        }
        let err = Reference::from_json(&unsorted.to_json()).unwrap_err();
        assert!(err.to_string().contains("'age'") && err.to_string().contains("ascending"), "{err}");
        let uneven = vec![("a".to_string(), Column::Numeric(vec![1.0])), ("b".to_string(), Column::Numeric(vec![]))];
        assert!(Reference::from_columns(&uneven).is_err());
    }
}
