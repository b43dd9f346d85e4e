//! Input guards: each row's features checked against what the model was trained on, the
//! reference statistics, before the model runs. A numeric feature must lie within the
//! reference's range widened by `margin` of its width on each side; a categorical one must
//! be a category the reference lists, which is checked only where the reference lists every
//! category it saw (one that pooled rare categories as `other` cannot tell a new category
//! from a rare one); a missing value (NaN, or no text) is allowed where the reference had
//! missing values, unless `missing` says otherwise.
//!
//! `refuse` fails the call with E_INPUT_VALUE; `clip` moves numbers into the range and lets
//! through what it cannot move (a new category, a missing value), as `flag` lets everything
//! through. Every mode counts what it finds by feature and kind, and a logged call names
//! them. Feature by feature is all this sees: values each in range but together unlike
//! anything in training, and perturbations too small to leave the range, pass.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::feeds::Feed;

use super::elements::{Element, clamp};
use super::features::{FeatureLayout, format_number};
use super::reference::{FeatureReference, Reference};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GuardMode {
    /// No guard, even where a bundle's manifest names one.
    Off,
    Flag,
    Clip,
    Refuse,
}

impl GuardMode {
    pub const NAMES: [(&'static str, GuardMode); 4] =
        [("flag", GuardMode::Flag), ("clip", GuardMode::Clip), ("refuse", GuardMode::Refuse), ("off", GuardMode::Off)];

    pub fn from_name(name: &str) -> Option<GuardMode> {
        GuardMode::NAMES.iter().find(|(n, _)| *n == name).map(|(_, m)| *m)
    }

    pub fn name(self) -> &'static str {
        GuardMode::NAMES.iter().find(|(_, m)| *m == self).map_or("", |(n, _)| n)
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MissingPolicy {
    /// Allowed for a feature the reference saw missing, a violation for the others.
    #[default]
    Reference,
    Allow,
    Refuse,
}

impl MissingPolicy {
    pub const NAMES: [(&'static str, MissingPolicy); 3] =
        [("reference", MissingPolicy::Reference), ("allow", MissingPolicy::Allow), ("refuse", MissingPolicy::Refuse)];

    pub fn from_name(name: &str) -> Option<MissingPolicy> {
        MissingPolicy::NAMES.iter().find(|(n, _)| *n == name).map(|(_, m)| *m)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardOptions {
    pub mode: GuardMode,
    /// How far past the reference's minimum and maximum a number may go, as a share of the
    /// distance between them.
    #[serde(default = "default_margin")]
    pub margin: f64,
    #[serde(default)]
    pub missing: MissingPolicy,
}

fn default_margin() -> f64 {
    0.1
}

impl Default for GuardOptions {
    fn default() -> Self {
        GuardOptions { mode: GuardMode::Flag, margin: default_margin(), missing: MissingPolicy::Reference }
    }
}

impl GuardOptions {
    pub fn check(&self) -> Result<()> {
        if !(self.margin.is_finite() && self.margin >= 0.0) {
            return Err(Error::InvalidOption(format!(
                "guard.margin must be a finite number of at least 0, got {}",
                self.margin
            )));
        }
        Ok(())
    }
}

/// What a value was found to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Violation {
    Below,
    Above,
    Missing,
    UnknownCategory,
}

pub const VIOLATIONS: [Violation; 4] =
    [Violation::Below, Violation::Above, Violation::Missing, Violation::UnknownCategory];

impl Violation {
    /// Its name in stats, logs and Prometheus labels.
    pub fn name(self) -> &'static str {
        match self {
            Violation::Below => "below",
            Violation::Above => "above",
            Violation::Missing => "missing",
            Violation::UnknownCategory => "unknown_category",
        }
    }
}

#[derive(Debug, Clone)]
enum Rule {
    /// Allowed numbers, the reference's range with its margin; with the range itself, to say.
    Range {
        lo: f64,
        hi: f64,
        min: f64,
        max: f64,
    },
    Categories(HashSet<String>),
    /// Only the missing-value policy applies: a reference with no values, or with pooled
    /// categories.
    AnyValue,
}

#[derive(Debug, Clone)]
struct Guarded {
    /// Index in the layout.
    feature: usize,
    rule: Rule,
    missing_allowed: bool,
    counts: [u64; 4],
}

/// A call's violations of one kind for one feature, for its log line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub feature: String,
    pub kind: &'static str,
    pub rows: usize,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FeatureViolations {
    pub feature: String,
    pub below: u64,
    pub above: u64,
    pub missing: u64,
    pub unknown_category: u64,
}

impl FeatureViolations {
    /// Each kind's name, as `Violation::name` spells it, and its count.
    pub fn by_kind(&self) -> [(&'static str, u64); 4] {
        VIOLATIONS.map(|kind| {
            let n = match kind {
                Violation::Below => self.below,
                Violation::Above => self.above,
                Violation::Missing => self.missing,
                Violation::UnknownCategory => self.unknown_category,
            };
            (kind.name(), n)
        })
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GuardStats {
    pub mode: GuardMode,
    pub margin: f64,
    /// Calls checked, and those with at least one violation.
    pub calls: u64,
    pub flagged_calls: u64,
    pub refused_calls: u64,
    pub clipped_values: u64,
    pub features: Vec<FeatureViolations>,
    /// The model's features the reference has no statistics for, which nothing checks.
    pub unguarded: Vec<String>,
}

#[derive(Debug)]
pub struct Guard {
    options: GuardOptions,
    features: Vec<Guarded>,
    calls: u64,
    flagged_calls: u64,
    refused_calls: u64,
    clipped_values: u64,
}

/// A number as messages show it: at most 6 significant digits.
fn short(x: f64) -> String {
    if x.is_finite() && x != 0.0 {
        let digits = (5 - x.abs().log10().floor() as i32).clamp(0, 12) as usize;
        let text = format!("{x:.digits$}");
        if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_owned() } else { text }
    } else {
        format!("{x}")
    }
}

impl Guard {
    /// The guard of a model with `layout`'s features; `None` when `options` turn it off.
    pub fn new(options: GuardOptions, layout: &FeatureLayout, reference: Option<&Reference>) -> Result<Option<Guard>> {
        if options.mode == GuardMode::Off {
            return Ok(None);
        }
        options.check()?;
        let Some(reference) = reference else {
            return Err(Error::InvalidOption(
                "guard checks inputs against reference statistics, and this model has none: give the reference load option (edgeinfer reference writes it) or build the bundle with --reference".into(),
            ));
        };
        let names: Vec<&str> = reference.features.iter().map(FeatureReference::name).collect();
        let mut features = Vec::new();
        for (r, resolved) in reference.features.iter().zip(layout.resolve(&names)) {
            let Some(feature) = resolved else { continue };
            let (rule, had_missing) = match r {
                FeatureReference::Numeric(n) => match (n.quantiles.first(), n.quantiles.last()) {
                    (Some(&min), Some(&max)) => {
                        let pad = (max - min) * options.margin;
                        let (lo, hi) = (min - pad, max + pad);
                        // An integer input takes integers: the range's ends are the integers
                        // inside it, so that clipping a plain JS number stays valid.
                        let (lo, hi) = if layout.features[feature].dtype().is_integer() {
                            (lo.ceil(), hi.floor())
                        } else {
                            (lo, hi)
                        };
                        (Rule::Range { lo, hi, min, max }, n.missing > 0)
                    }
                    _ => (Rule::AnyValue, n.missing > 0),
                },
                FeatureReference::Categorical(c) if c.other == 0 => {
                    (Rule::Categories(c.categories.iter().map(|(k, _)| k.clone()).collect()), c.missing > 0)
                }
                FeatureReference::Categorical(c) => (Rule::AnyValue, c.missing > 0),
            };
            let missing_allowed = match options.missing {
                MissingPolicy::Reference => had_missing,
                MissingPolicy::Allow => true,
                MissingPolicy::Refuse => false,
            };
            features.push(Guarded { feature, rule, missing_allowed, counts: [0; 4] });
        }
        Ok(Some(Guard { options, features, calls: 0, flagged_calls: 0, refused_calls: 0, clipped_values: 0 }))
    }

    /// Checks a call's feeds, clipping them in `clip` mode. Returns what it found and, in
    /// `refuse` mode, the error naming the first violation. Feeds whose shape does not match
    /// the model's are left to the model to refuse.
    pub fn check(&mut self, layout: &FeatureLayout, feeds: &mut [(String, Feed)]) -> (Vec<Finding>, Result<()>) {
        self.calls += 1;
        let mut findings = Vec::new();
        let mut first: Option<Error> = None;
        let clip = self.options.mode == GuardMode::Clip;
        let refuse = self.options.mode == GuardMode::Refuse;
        // The feeds are read first, and counted and clipped once reading is done: what each
        // guarded feature (by index) had of each kind, with whether its values are float16
        // bits and the rows to clip.
        let mut found_by: Vec<(usize, [usize; 4], bool, Vec<usize>)> = Vec::new();
        for (index, view) in layout.views(self.features.iter().map(|g| g.feature), feeds).enumerate() {
            let Some(view) = view else { continue };
            let g = &self.features[index];
            let mut found = [0usize; 4];
            let mut moved = Vec::new();
            for row in 0..view.rows {
                let value = view.get(row);
                let Some(v) = g.violation(value) else { continue };
                found[v as usize] += 1;
                if clip && matches!(v, Violation::Below | Violation::Above) {
                    moved.push(row);
                }
                // The message is made only where it will be the answer.
                if refuse && first.is_none() {
                    let feature = &layout.features[g.feature];
                    first = Some(g.refusal(&feature.name, &feature.input, row, value));
                }
            }
            if found != [0; 4] {
                found_by.push((index, found, view.half(), moved));
            }
        }
        for (index, found, half, moved) in found_by {
            let g = &mut self.features[index];
            let feature = &layout.features[g.feature];
            for (kind, n) in VIOLATIONS.iter().zip(found).filter(|(_, n)| *n > 0) {
                g.counts[*kind as usize] += n as u64;
                findings.push(Finding { feature: feature.name.clone(), kind: kind.name(), rows: n });
            }
            let (Rule::Range { lo, hi, .. }, false) = (&g.rule, moved.is_empty()) else { continue };
            let Some((_, feed)) = feeds.iter_mut().find(|(n, _)| *n == feature.input) else { continue };
            for row in moved {
                if clamp(&mut feed.tensor.values, row * feature.width + feature.column, *lo, *hi, half) {
                    self.clipped_values += 1;
                }
            }
        }
        if !findings.is_empty() {
            self.flagged_calls += 1;
        }
        match first {
            Some(e) => {
                self.refused_calls += 1;
                (findings, Err(e))
            }
            None => (findings, Ok(())),
        }
    }

    /// Its counters; `layout` is the one it guards, which names the features.
    pub fn stats(&self, layout: &FeatureLayout) -> GuardStats {
        let guarded: HashSet<usize> = self.features.iter().map(|g| g.feature).collect();
        GuardStats {
            mode: self.options.mode,
            margin: self.options.margin,
            calls: self.calls,
            flagged_calls: self.flagged_calls,
            refused_calls: self.refused_calls,
            clipped_values: self.clipped_values,
            features: self
                .features
                .iter()
                .map(|g| FeatureViolations {
                    feature: layout.features[g.feature].name.clone(),
                    below: g.counts[Violation::Below as usize],
                    above: g.counts[Violation::Above as usize],
                    missing: g.counts[Violation::Missing as usize],
                    unknown_category: g.counts[Violation::UnknownCategory as usize],
                })
                .collect(),
            unguarded: (0..layout.features.len())
                .filter(|i| !guarded.contains(i))
                .map(|i| layout.features[i].name.clone())
                .collect(),
        }
    }
}

impl Guarded {
    fn violation(&self, value: Element) -> Option<Violation> {
        let missing = matches!(value, Element::Missing) || matches!(value, Element::Number(x) if x.is_nan());
        if missing {
            return (!self.missing_allowed).then_some(Violation::Missing);
        }
        match (&self.rule, value) {
            (Rule::Range { lo, hi, .. }, Element::Number(x)) => {
                if x < *lo {
                    Some(Violation::Below)
                } else if x > *hi {
                    Some(Violation::Above)
                } else {
                    None
                }
            }
            (Rule::Categories(known), Element::Text(s)) => (!known.contains(s)).then_some(Violation::UnknownCategory),
            (Rule::Categories(known), Element::Number(x)) => {
                (!known.contains(&format_number(x))).then_some(Violation::UnknownCategory)
            }
            _ => None,
        }
    }

    /// The E_INPUT_VALUE that `refuse` gives for `value` in `row`.
    fn refusal(&self, name: &str, input: &str, row: usize, value: Element) -> Error {
        let message = match (&self.rule, value) {
            (_, Element::Missing) => format!(
                "feature '{name}' is missing in row {row}, and the model's training data had no missing values there"
            ),
            (_, Element::Number(x)) if x.is_nan() => format!(
                "feature '{name}' is NaN (missing) in row {row}, and the model's training data had no missing values there"
            ),
            (Rule::Range { lo, hi, min, max }, Element::Number(x)) => format!(
                "feature '{name}' is {} in row {row}, outside the allowed range [{}, {}] (the training data's [{}, {}] widened by the guard's margin)",
                short(x),
                short(*lo),
                short(*hi),
                short(*min),
                short(*max)
            ),
            (Rule::Categories(known), value) => {
                let mut known: Vec<&str> = known.iter().map(String::as_str).collect();
                known.sort_unstable();
                let more = known.len().saturating_sub(10);
                known.truncate(10);
                let shown = match value {
                    Element::Text(s) => format!("'{s}'"),
                    Element::Number(x) => format_number(x),
                    Element::Missing => String::new(),
                };
                format!(
                    "feature '{name}' is {shown} in row {row}, a category the model's training data did not have; it had {}{}",
                    known.join(", "),
                    if more > 0 { format!(" and {more} more") } else { String::new() }
                )
            }
            _ => format!("feature '{name}' in row {row} is outside what the model was trained on"),
        };
        Error::InputValue { name: input.to_owned(), message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::DType;
    use crate::monitor::reference::Column;
    use crate::schema::{Dim, TensorInfo};
    use crate::tensor::{HostTensor, Values};

    fn layout() -> FeatureLayout {
        let inputs = [
            TensorInfo::new("x", DType::Float32, vec![Dim::Symbolic("N".into()), Dim::Fixed(2)]),
            TensorInfo::new("country", DType::String, vec![Dim::Symbolic("N".into())]),
        ];
        let names = ["age".to_string(), "income".to_string()];
        FeatureLayout::of(&inputs, &[], Some(&names)).unwrap()
    }

    fn reference() -> Reference {
        Reference::from_columns(&[
            ("age".into(), Column::Numeric(vec![20.0, 40.0, 60.0, 120.0])),
            ("income".into(), Column::Numeric(vec![1.0, 2.0, f64::NAN, 1.5])),
            ("country".into(), Column::Categorical(["FR", "DE", "FR", "DE"].map(|c| Some(c.into())).to_vec())),
        ])
        .unwrap()
    }

    fn feeds(x: Vec<f32>, countries: &[&str]) -> Vec<(String, Feed)> {
        let rows = countries.len();
        vec![
            ("x".into(), Feed::new(HostTensor::new(vec![rows, 2], Values::Float32(x)))),
            (
                "country".into(),
                Feed::new(HostTensor::new(
                    vec![rows],
                    Values::String(countries.iter().map(|s| s.to_string()).collect()),
                )),
            ),
        ]
    }

    /// What `check` found, or its refusal.
    fn check(g: &mut Guard, feeds: &mut [(String, Feed)]) -> Result<Vec<Finding>> {
        let (found, verdict) = g.check(&layout(), feeds);
        verdict.map(|()| found)
    }

    fn guard(mode: GuardMode) -> Guard {
        let options = GuardOptions { mode, ..GuardOptions::default() };
        Guard::new(options, &layout(), Some(&reference())).unwrap().unwrap()
    }

    #[test]
    fn flag_counts_each_kind_and_changes_nothing() {
        let mut g = guard(GuardMode::Flag);
        // age's range is [20, 120] widened by 10 each side: 130 passes, 131 and 9 do not.
        let mut f = feeds(vec![130.0, 1.0, 131.0, f32::NAN, 9.0, 2.0], &["FR", "XX", "DE"]);
        let before = f.clone();
        let found = check(&mut g, &mut f).unwrap();
        // Compared as text: NaN is not equal to itself.
        assert_eq!(format!("{f:?}"), format!("{before:?}"), "flag changes nothing");
        let kinds: Vec<(&str, &str, usize)> = found.iter().map(|x| (x.feature.as_str(), x.kind, x.rows)).collect();
        // income had a missing value in training, so its NaN passes.
        assert_eq!(kinds, [("age", "below", 1), ("age", "above", 1), ("country", "unknown_category", 1)]);
        let stats = g.stats(&layout());
        assert_eq!((stats.calls, stats.flagged_calls, stats.refused_calls), (1, 1, 0));
        assert_eq!(stats.features[0].above, 1);
        assert!(stats.unguarded.is_empty());
        assert!(check(&mut g, &mut feeds(vec![50.0, 1.5], &["DE"])).unwrap().is_empty());
        assert_eq!(g.stats(&layout()).flagged_calls, 1);
    }

    #[test]
    fn refuse_names_the_feature_row_and_range() {
        let mut g = guard(GuardMode::Refuse);
        let err = check(&mut g, &mut feeds(vec![50.0, 1.0, 500.0, 1.0], &["FR", "FR"])).unwrap_err();
        assert_eq!(err.code(), "E_INPUT_VALUE");
        let text = err.to_string();
        assert!(text.contains("input 'x'") && text.contains("feature 'age' is 500 in row 1"), "{text}");
        assert!(text.contains("[10, 130]") && text.contains("[20, 120]"), "{text}");
        let err = check(&mut g, &mut feeds(vec![50.0, 1.0], &["JP"])).unwrap_err().to_string();
        assert!(err.contains("'JP'") && err.contains("DE, FR"), "{err}");
        let err = check(&mut g, &mut feeds(vec![f32::NAN, 1.0], &["FR"])).unwrap_err().to_string();
        assert!(err.contains("feature 'age' is NaN"), "{err}");
        assert_eq!(g.stats(&layout()).refused_calls, 3);
        assert!(check(&mut g, &mut feeds(vec![50.0, 1.0], &["FR"])).is_ok());
    }

    #[test]
    fn clip_moves_numbers_into_range_and_flags_the_rest() {
        let mut g = guard(GuardMode::Clip);
        let mut f = feeds(vec![500.0, 1.0, -3.0, 1.0, 70.0, 1.0], &["FR", "XX", "DE"]);
        let found = check(&mut g, &mut f).unwrap();
        assert_eq!(f[0].1.tensor.values, Values::Float32(vec![130.0, 1.0, 10.0, 1.0, 70.0, 1.0]));
        assert_eq!(found.len(), 3, "{found:?}");
        assert_eq!(g.stats(&layout()).clipped_values, 2);
        // Integers are clipped to integers within the range; plain numbers as they are.
        let mut ints = Values::Int64(vec![-50]);
        assert!(clamp(&mut ints, 0, -0.5, 9.5, false));
        assert_eq!(ints, Values::Int64(vec![0]));
        let mut half = Values::Uint16(vec![0x5640]); // 100.0 as float16
        assert!(clamp(&mut half, 0, 0.0, 2.0, true));
        assert_eq!(half, Values::Uint16(vec![0x4000]));
    }

    #[test]
    fn an_integer_input_s_range_ends_on_integers() {
        let inputs = [TensorInfo::new("n", DType::Int64, vec![Dim::Symbolic("N".into())])];
        let layout = FeatureLayout::of(&inputs, &[], None).unwrap();
        let reference = Reference::from_columns(&[("n".into(), Column::Numeric(vec![0.0, 7.0]))]).unwrap();
        let options = GuardOptions { mode: GuardMode::Clip, ..GuardOptions::default() };
        let mut g = Guard::new(options, &layout, Some(&reference)).unwrap().unwrap();
        // [0, 7] widened by 0.7 each side is [-0.7, 7.7]: an int64 input allows [0, 7].
        let mut f = vec![("n".to_string(), Feed::new(HostTensor::new(vec![3], Values::Numbers(vec![-5.0, 7.5, 3.0]))))];
        let (found, verdict) = g.check(&layout, &mut f);
        assert!(verdict.is_ok());
        assert_eq!(f[0].1.tensor.values, Values::Numbers(vec![0.0, 7.0, 3.0]), "plain numbers clip to integers");
        assert_eq!(found.iter().map(|x| x.kind).collect::<Vec<_>>(), ["below", "above"]);
    }

    #[test]
    fn policies_options_and_what_cannot_be_guarded() {
        let options = GuardOptions { mode: GuardMode::Refuse, margin: 0.0, missing: MissingPolicy::Refuse };
        let mut g = Guard::new(options, &layout(), Some(&reference())).unwrap().unwrap();
        let err = check(&mut g, &mut feeds(vec![50.0, f32::NAN], &["FR"])).unwrap_err().to_string();
        assert!(err.contains("feature 'income' is NaN"), "{err}");
        assert!(check(&mut g, &mut feeds(vec![121.0, 1.0], &["FR"])).is_err(), "no margin");
        let allow = GuardOptions { missing: MissingPolicy::Allow, ..GuardOptions::default() };
        let mut g = Guard::new(allow, &layout(), Some(&reference())).unwrap().unwrap();
        assert!(check(&mut g, &mut feeds(vec![f32::NAN, 1.0], &["FR"])).unwrap().is_empty());
        let off = GuardOptions { mode: GuardMode::Off, ..GuardOptions::default() };
        assert!(Guard::new(off, &layout(), None).unwrap().is_none());
        let err = Guard::new(GuardOptions::default(), &layout(), None).unwrap_err();
        assert!(err.to_string().contains("--reference"), "{err}");
        let bad = GuardOptions { margin: f64::NAN, ..GuardOptions::default() };
        assert!(Guard::new(bad, &layout(), Some(&reference())).unwrap_err().to_string().contains("guard.margin"));
        // A reference without country: the feature is unguarded and says so.
        let mut partial = reference();
        partial.features.pop();
        let g = Guard::new(GuardOptions::default(), &layout(), Some(&partial)).unwrap().unwrap();
        assert_eq!(g.stats(&layout()).unguarded, ["country"]);
        // Feeds of the wrong shape are left for the model to refuse.
        let mut g = guard(GuardMode::Refuse);
        let mut wrong = feeds(vec![500.0], &["FR"]);
        assert!(check(&mut g, &mut wrong).unwrap().is_empty());
        assert_eq!(short(132.000000001), "132");
        // The names options take are the names manifests and stats write.
        for (name, mode) in GuardMode::NAMES {
            assert_eq!((GuardMode::from_name(name), mode.name()), (Some(mode), name));
            assert_eq!(serde_json::to_value(mode).unwrap(), name);
        }
        for (name, policy) in MissingPolicy::NAMES {
            assert_eq!(MissingPolicy::from_name(name), Some(policy));
            assert_eq!(serde_json::to_value(policy).unwrap(), name);
        }
        assert_eq!(short(-0.000123456789), "-0.000123457");
    }
}
