//! The named features a model's inputs carry, as drift detection and prediction logs see
//! them: each column of a `[batch, F]` input (named by the `features` option, else the
//! model's `feature_names` metadata, else `x[0]`, `x[1]`, ...), and each one-value-per-row
//! input (`[batch]` or `[batch, 1]`, named by the input). Other inputs (images, sequences)
//! carry no features.

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::feeds::Feed;
use crate::schema::{Dim, TensorInfo};
use crate::tensor::{HostTensor, Values};

use super::elements::{Element, element};
use super::reference::{Column, Reference};

#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    pub name: String,
    pub input: String,
    pub column: usize,
    /// Values per row in the input: F for a matrix, 1 for a column.
    pub width: usize,
    /// The input's shape has a second axis (`[batch, 1]` or `[batch, F]`).
    rank2: bool,
    dtype: DType,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeatureLayout {
    pub features: Vec<Feature>,
    /// The input whose first axis is the batch, to count rows.
    batch_input: Option<String>,
}

/// One feature's values in one prediction's feeds.
#[derive(Debug, Clone, Copy)]
pub struct FeatureValues<'a> {
    values: &'a Values,
    pub rows: usize,
    width: usize,
    column: usize,
    half: bool,
}

impl<'a> FeatureValues<'a> {
    /// Another column of the same input.
    pub fn with_column(self, column: usize) -> Self {
        FeatureValues { column, ..self }
    }

    /// Whether a Uint16 buffer holds float16 bit patterns.
    pub fn half(&self) -> bool {
        self.half
    }

    pub fn get(&self, row: usize) -> Element<'a> {
        if row >= self.rows {
            return Element::Missing;
        }
        element(self.values, row * self.width + self.column, self.half)
    }
}

impl Feature {
    /// The element type of the model input it is part of.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The name of a matrix column by position (`x[3]`), which it answers to whatever its
    /// name; a one-value input's is its own name.
    pub fn positional_name(&self) -> String {
        if self.width > 1 { format!("{}[{}]", self.input, self.column) } else { self.input.clone() }
    }
}

impl FeatureLayout {
    pub fn of(inputs: &[TensorInfo], metadata: &[(String, String)], names: Option<&[String]>) -> Result<FeatureLayout> {
        let matrices: Vec<&TensorInfo> =
            inputs.iter().filter(|i| matches!(i.shape.as_slice(), [_, Dim::Fixed(f)] if *f > 1)).collect();
        if let Some(names) = names {
            let [matrix] = matrices.as_slice() else {
                return Err(Error::InvalidOption(format!(
                    "monitoring.features names the columns of a [batch, F] input, but the model has {} such inputs",
                    matrices.len()
                )));
            };
            let width =
                matrix.shape.get(1).and_then(|d| if let Dim::Fixed(f) = d { Some(*f) } else { None }).unwrap_or(0);
            if names.len() != width {
                return Err(Error::InvalidOption(format!(
                    "monitoring.features has {} names, but input '{}' has {width} columns",
                    names.len(),
                    matrix.name
                )));
            }
        }
        let metadata_names: Option<Vec<String>> = metadata
            .iter()
            .find(|(k, _)| k == "feature_names")
            .map(|(_, v)| v.split(',').map(|s| s.trim().to_owned()).collect());
        let mut features = Vec::new();
        for input in inputs {
            let feature = |name: String, column: usize, width: usize, rank2: bool| Feature {
                name,
                input: input.name.clone(),
                column,
                width,
                rank2,
                dtype: input.dtype,
            };
            match input.shape.as_slice() {
                [_] => features.push(feature(input.name.clone(), 0, 1, false)),
                [_, Dim::Fixed(1)] => features.push(feature(input.name.clone(), 0, 1, true)),
                [_, Dim::Fixed(f)] => {
                    let own = names
                        .map(<[String]>::to_vec)
                        .or_else(|| metadata_names.clone().filter(|_| matrices.len() == 1));
                    let own = own.filter(|n| n.len() == *f);
                    for j in 0..*f {
                        let name = own.as_ref().map_or_else(|| format!("{}[{j}]", input.name), |n| n[j].clone());
                        features.push(feature(name, j, *f, true));
                    }
                }
                _ => {}
            }
        }
        let batch_input =
            inputs.iter().find(|i| matches!(i.shape.first(), Some(Dim::Symbolic(_)))).map(|i| i.name.clone());
        Ok(FeatureLayout { features, batch_input })
    }

    /// Names a matrix input's unnamed columns (`x[0]`, ...) after a reference made from a CSV
    /// with a header: the reference's features that are not other inputs, in order, when
    /// there is exactly one per column. Without this, `redact: ['ssn']` would not find the
    /// column the reference calls `ssn`.
    pub fn name_from_reference(&mut self, reference: &Reference) {
        let unnamed: Vec<usize> = (0..self.features.len())
            .filter(|&i| self.features[i].width > 1 && self.features[i].name == self.features[i].positional_name())
            .collect();
        let Some(&first) = unnamed.first() else { return };
        let input = &self.features[first].input;
        if unnamed.iter().any(|&i| &self.features[i].input != input) {
            return;
        }
        let named: Vec<&str> = self.features.iter().filter(|f| &f.input != input).map(|f| f.name.as_str()).collect();
        let names: Vec<&str> = reference.features.iter().map(|f| f.name()).filter(|n| !named.contains(n)).collect();
        if names.len() != unnamed.len() {
            return;
        }
        let names: Vec<String> = names.into_iter().map(str::to_owned).collect();
        for (i, name) in unnamed.into_iter().zip(names) {
            self.features[i].name = name;
        }
    }

    /// Rows in a prediction's feeds: the first axis of the first input with a symbolic one.
    pub fn rows(&self, feeds: &[(String, Feed)]) -> usize {
        let Some(name) = &self.batch_input else { return 1 };
        feeds.iter().find(|(n, _)| n == name).and_then(|(_, f)| f.tensor.shape.first().copied()).unwrap_or(1)
    }

    /// The values of feature `i`, when the feeds hold them in the expected shape.
    pub fn values<'a>(&self, i: usize, feeds: &'a [(String, Feed)]) -> Option<FeatureValues<'a>> {
        let f = self.features.get(i)?;
        let feed = &feeds.iter().find(|(n, _)| *n == f.input)?.1;
        let shape = &feed.tensor.shape;
        let rows = *shape.first()?;
        let width_ok = if f.rank2 { shape.len() == 2 && shape[1] == f.width } else { shape.len() == 1 };
        if !width_ok || rows.checked_mul(f.width) != Some(feed.tensor.values.len()) {
            return None;
        }
        let half = feed.dtype == Some(DType::Float16) || f.dtype == DType::Float16;
        Some(FeatureValues { values: &feed.tensor.values, rows, width: f.width, column: f.column, half })
    }

    /// The values of each of `features` (indices into the layout), as `values` gives them;
    /// consecutive columns of one input share one look-up of its feed.
    pub fn views<'a>(
        &self,
        features: impl IntoIterator<Item = usize>,
        feeds: &'a [(String, Feed)],
    ) -> impl Iterator<Item = Option<FeatureValues<'a>>> {
        let mut last: Option<(&str, FeatureValues<'a>)> = None;
        features.into_iter().map(move |i| {
            let feature = self.features.get(i)?;
            let view = match last {
                Some((input, view)) if input == feature.input => view.with_column(feature.column),
                _ => self.values(i, feeds)?,
            };
            last = Some((&feature.input, view));
            Some(view)
        })
    }

    /// Which feature each of `names` is: by name, or, when none matches and there are as
    /// many names as features, by position (a CSV with its own header for an unnamed
    /// `[batch, F]` input).
    pub fn resolve(&self, names: &[&str]) -> Vec<Option<usize>> {
        let by_name: Vec<Option<usize>> =
            names.iter().map(|n| self.features.iter().position(|f| f.name == *n)).collect();
        if by_name.iter().all(Option::is_none) && names.len() == self.features.len() && !names.is_empty() {
            return (0..names.len()).map(Some).collect();
        }
        by_name
    }

    /// Feeds holding `columns` (one per feature, matched as `resolve` does), for running the
    /// model on a training sample.
    pub fn feeds(&self, inputs: &[TensorInfo], columns: &[(String, Column)]) -> Result<Vec<(String, Feed)>> {
        let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
        let resolved = self.resolve(&names);
        let column_of = |feature: usize| resolved.iter().position(|r| *r == Some(feature)).map(|c| &columns[c].1);
        let rows = columns.first().map_or(0, |(_, c)| c.len());
        let mut feeds = Vec::new();
        for input in inputs {
            let features: Vec<usize> =
                (0..self.features.len()).filter(|&i| self.features[i].input == input.name).collect();
            let Some(&first) = features.first() else {
                return Err(Error::InvalidOption(format!(
                    "input '{}' ({}) cannot be filled from named columns",
                    input.name,
                    input.signature()
                )));
            };
            let width = self.features[first].width;
            let text = input.dtype == DType::String;
            let mut numbers = Vec::new();
            let mut texts = Vec::new();
            for row in 0..rows {
                for &feature in &features {
                    let column = column_of(feature).ok_or_else(|| {
                        let wanted: Vec<&str> = self.features.iter().map(|f| f.name.as_str()).collect();
                        Error::InvalidOption(format!(
                            "no column for feature '{}'; the model's features are {}",
                            self.features[feature].name,
                            wanted.join(", ")
                        ))
                    })?;
                    match (column, text) {
                        (Column::Numeric(v), false) => numbers.push(v.get(row).copied().unwrap_or(f64::NAN)),
                        (Column::Categorical(v), true) => texts.push(v.get(row).cloned().flatten().unwrap_or_default()),
                        (Column::Numeric(v), true) => {
                            texts.push(v.get(row).map(|x| format_number(*x)).unwrap_or_default())
                        }
                        (Column::Categorical(_), false) => {
                            return Err(Error::InvalidOption(format!(
                                "column '{}' holds text, but input '{}' is {}",
                                self.features[feature].name, input.name, input.dtype
                            )));
                        }
                    }
                }
            }
            let shape = if self.features[first].rank2 { vec![rows, width] } else { vec![rows] };
            let values = if text { Values::String(texts) } else { Values::Numbers(numbers) };
            feeds.push((input.name.clone(), Feed::new(HostTensor::new(shape, values))));
        }
        Ok(feeds)
    }
}

/// A number as a category: integers without a fractional part ("3", not "3.0").
pub fn format_number(x: f64) -> String {
    if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e15 { format!("{}", x as i64) } else { format!("{x}") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::reference::FeatureReference;

    fn info(name: &str, dtype: DType, shape: Vec<Dim>) -> TensorInfo {
        TensorInfo::new(name, dtype, shape)
    }
    fn batch() -> Dim {
        Dim::Symbolic("N".into())
    }

    #[test]
    fn matrices_and_columns_become_named_features() {
        let inputs = [
            info("x", DType::Float32, vec![batch(), Dim::Fixed(3)]),
            info("country", DType::String, vec![batch(), Dim::Fixed(1)]),
            info("amount", DType::Float32, vec![batch()]),
            info("image", DType::Uint8, vec![batch(), Dim::Fixed(28), Dim::Fixed(28)]),
        ];
        let meta = [("feature_names".to_string(), "a, b, c".to_string())];
        let layout = FeatureLayout::of(&inputs, &meta, None).unwrap();
        let names: Vec<&str> = layout.features.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c", "country", "amount"]);
        let unnamed = FeatureLayout::of(&inputs, &[], None).unwrap();
        assert_eq!(unnamed.features[2].name, "x[2]");
        let err = FeatureLayout::of(&inputs, &[], Some(&["p".to_string()])).unwrap_err();
        assert!(err.to_string().contains("1 names, but input 'x' has 3 columns"), "{err}");

        let feeds = vec![
            (
                "x".to_string(),
                Feed::new(HostTensor::new(vec![2, 3], Values::Float32(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]))),
            ),
            (
                "country".to_string(),
                Feed::new(HostTensor::new(vec![2, 1], Values::String(vec!["FR".into(), "DE".into()]))),
            ),
        ];
        assert_eq!(layout.rows(&feeds), 2);
        let b = layout.values(1, &feeds).unwrap();
        assert_eq!((b.get(0), b.get(1), b.get(2)), (Element::Number(2.0), Element::Number(5.0), Element::Missing));
        assert_eq!(layout.values(3, &feeds).unwrap().get(1), Element::Text("DE"));
        assert!(layout.values(4, &feeds).is_none(), "amount is not fed");
        let wrong = vec![("x".to_string(), Feed::new(HostTensor::new(vec![2, 3], Values::Float32(vec![1.0]))))];
        assert!(layout.values(0, &wrong).is_none(), "data that does not fill the shape is not read");
    }

    #[test]
    fn a_references_names_name_unnamed_columns() {
        let inputs =
            [info("x", DType::Float32, vec![batch(), Dim::Fixed(2)]), info("amount", DType::Float32, vec![batch()])];
        let reference = |names: &[&str]| Reference {
            format: "edgeinfer-reference".into(),
            version: 1,
            rows: 2,
            features: names
                .iter()
                .map(|n| FeatureReference::from_column(n, &Column::Numeric(vec![1.0, 2.0])))
                .collect(),
            prediction: None,
        };
        let names = |layout: &FeatureLayout| layout.features.iter().map(|f| f.name.clone()).collect::<Vec<_>>();
        let mut layout = FeatureLayout::of(&inputs, &[], None).unwrap();
        layout.name_from_reference(&reference(&["mean_radius", "amount", "ssn"]));
        assert_eq!(names(&layout), ["mean_radius", "ssn", "amount"], "the other input's name is not a column's");
        assert_eq!(layout.features[1].positional_name(), "x[1]");
        for wrong in [&["a"][..], &["a", "b", "c"]] {
            let mut layout = FeatureLayout::of(&inputs, &[], None).unwrap();
            layout.name_from_reference(&reference(wrong));
            assert_eq!(names(&layout), ["x[0]", "x[1]", "amount"], "{wrong:?}: not one name per column");
        }
        let meta = [("feature_names".to_string(), "p, q".to_string())];
        let mut named = FeatureLayout::of(&inputs, &meta, None).unwrap();
        named.name_from_reference(&reference(&["a", "b"]));
        assert_eq!(names(&named), ["p", "q", "amount"], "the model's own names come first");
    }

    #[test]
    fn columns_fill_feeds_by_name_or_position() {
        let inputs = [info("x", DType::Float32, vec![batch(), Dim::Fixed(2)])];
        let layout = FeatureLayout::of(&inputs, &[], None).unwrap();
        let columns = vec![
            ("f0".to_string(), Column::Numeric(vec![1.0, 3.0])),
            ("f1".to_string(), Column::Numeric(vec![2.0, f64::NAN])),
        ];
        assert_eq!(layout.resolve(&["f0", "f1"]), [Some(0), Some(1)]);
        let feeds = layout.feeds(&inputs, &columns).unwrap();
        assert_eq!(feeds[0].1.tensor.shape, [2, 2]);
        match &feeds[0].1.tensor.values {
            Values::Numbers(v) => assert_eq!(&v[..3], &[1.0, 2.0, 3.0]),
            other => panic!("{other:?}"),
        }
        assert_eq!(layout.resolve(&["x[1]", "nope"]), [Some(1), None]);
        let text = vec![
            ("x[0]".to_string(), Column::Categorical(vec![Some("a".into())])),
            ("x[1]".to_string(), Column::Numeric(vec![1.0])),
        ];
        assert!(layout.feeds(&inputs, &text).unwrap_err().to_string().contains("holds text"));
        assert_eq!(format_number(3.0), "3");
        assert_eq!(format_number(2.5), "2.5");
    }
}
