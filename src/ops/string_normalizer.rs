//! StringNormalizer (ONNX, opset 10), which tract lacks, as the reference computes it: each
//! string's space-separated words that are stopwords are dropped (compared before the case
//! change when is_case_sensitive, else after it, with the stopwords changed alike), the case
//! changed, then the empty strings of a [C] or [1, C] input dropped ([""] or [[""]] if none
//! is left), so the output's last dimension is a symbol known at run time. Case changes are
//! Unicode's, which depend on the locale only for Turkish, Azeri and Lithuanian: those
//! locales are refused. Unlike the reference, accents are kept (it strips them from non-ASCII
//! strings by NFKD, which needs tables this crate does not carry; the standard does not ask
//! for it).

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::ml::{Built, label, plain, typed};

pub(super) fn build(ctx: &ParsingContext, node: &NodeProto) -> Built {
    let label = label(node);
    let case = match node.get_attr_opt::<String>("case_change_action")?.as_deref().unwrap_or("NONE") {
        "NONE" => Case::None,
        "LOWER" => Case::Lower,
        "UPPER" => Case::Upper,
        other => bail!("{label}: case_change_action is {other:?}"),
    };
    let sensitive = node.get_attr_opt::<i64>("is_case_sensitive")?.unwrap_or(0) != 0;
    let locale = node.get_attr_opt::<String>("locale")?.unwrap_or_default();
    if ["tr", "az", "lt"].iter().any(|l| locale.to_ascii_lowercase().starts_with(l)) {
        bail!("{label}: locale {locale:?} is not supported");
    }
    let stops: Vec<String> = node.get_attr_opt_vec("stopwords")?.unwrap_or_default();
    let stops = if sensitive { stops } else { stops.iter().map(|w| case.apply(w)).collect() };
    let symbols = [ctx.template.symbols.new_with_prefix("strnorm"), ctx.template.symbols.new_with_prefix("strnorm")];
    typed(StringNormalizer { label, case, sensitive, stops, symbols }, 1)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Case {
    None,
    Lower,
    Upper,
}

impl Case {
    fn apply(self, s: &str) -> String {
        match self {
            Case::None => s.to_owned(),
            Case::Lower => s.to_lowercase(),
            Case::Upper => s.to_uppercase(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct StringNormalizer {
    label: String,
    case: Case,
    sensitive: bool,
    /// As compared: changed as the strings are when not case sensitive.
    stops: Vec<String>,
    /// The output's dimensions that the dropped strings make unknown.
    symbols: [Symbol; 2],
}

impl StringNormalizer {
    fn drop_stopwords(&self, s: String) -> String {
        if self.stops.is_empty() {
            return s;
        }
        s.split(' ').filter(|w| !self.stops.iter().any(|x| x == w)).collect::<Vec<_>>().join(" ")
    }

    fn apply(&self, x: &Tensor) -> TractResult<Tensor> {
        let shape = x.shape();
        if !matches!(shape.len(), 1 | 2) {
            bail!("{}: expected a 1-D or 2-D input", self.label);
        }
        let one = |s: &String| {
            let s = if self.sensitive { self.drop_stopwords(s.clone()) } else { s.clone() };
            let s = self.case.apply(&s);
            if self.sensitive { s } else { self.drop_stopwords(s) }
        };
        let mut y: Vec<String> = plain::<String>(x)?.iter().map(one).collect();
        if shape.len() == 2 && shape[0] != 1 {
            return strings(shape, y);
        }
        y.retain(|s| !s.is_empty());
        if y.is_empty() {
            y.push(String::new());
        }
        let n = y.len();
        strings(&shape[..shape.len() - 1].iter().copied().chain([n]).collect::<Vec<_>>(), y)
    }
}

fn strings(shape: &[usize], y: Vec<String>) -> TractResult<Tensor> {
    Ok(tract_ndarray::ArrayD::from_shape_vec(shape, y)?.into_tensor())
}

crate::ops::one_input_eval!(StringNormalizer, "StringNormalizer");

impl TypedOp for StringNormalizer {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let x = inputs[0];
        if x.datum_type != DatumType::String || !matches!(x.rank(), 1 | 2) {
            bail!("{}: expected a 1-D or 2-D string input", self.label);
        }
        let [a, b] = self.symbols.clone().map(|s| s.to_dim());
        let shape = match x.shape.as_concrete() {
            None if x.rank() == 1 => tvec![a],
            Some([n, _]) if *n != 1 => x.shape.to_tvec(),
            Some([1, _]) => tvec![1.to_dim(), a],
            _ => tvec![a, b],
        };
        Ok(tvec!(DatumType::String.fact(shape)))
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testing::{Attr, attr, run_node, strings};

    fn run(attrs: Vec<tract_onnx::pb::AttributeProto>, stops: &[&str], x: Tensor) -> TractResult<Tensor> {
        let mut a = attr("stopwords", Attr::Int(0));
        (a.r#type, a.strings) = (8, stops.iter().map(|s| s.as_bytes().to_vec()).collect());
        let attrs = attrs.into_iter().chain((!stops.is_empty()).then_some(a)).collect();
        Ok(run_node("StringNormalizer", attrs, &[("x", x)], &["y"])?.remove(0))
    }

    /// As the onnx 1.23 cases test_strnormalizer_*.
    #[test]
    fn stopwords_case_and_empty_results_as_the_reference() {
        let x = || strings(["monday", "tuesday", "wednesday", "thursday"]);
        let sens = || attr("is_case_sensitive", Attr::Int(1));
        let upper = || attr("case_change_action", Attr::Str("UPPER"));
        let y = run(vec![sens(), upper()], &["monday"], x()).unwrap();
        assert_eq!(y, strings(["TUESDAY", "WEDNESDAY", "THURSDAY"]));
        let y = run(vec![sens(), upper()], &["monday"], strings(["monday", "monday"])).unwrap();
        assert_eq!(y, strings([""]));
        // Not case sensitive: the stopwords change case as the strings do.
        let y = run(vec![upper()], &["Monday"], strings(["monDAY", "Tuesday monday"])).unwrap();
        assert_eq!(y, strings(["TUESDAY"]));
        let x2 = tensor2(&[["Monday", "tuesday"], ["", "monday"]].map(|r| r.map(String::from)));
        let y = run(vec![attr("case_change_action", Attr::Str("LOWER"))], &["Monday"], x2).unwrap();
        assert_eq!(y, tensor2(&[["", "tuesday"], ["", ""]].map(|r| r.map(String::from))));
        let x1 = tensor2(&[["Monday", "", "tuesday"]].map(|r| r.map(String::from)));
        assert_eq!(run(vec![], &[], x1).unwrap(), tensor2(&[["Monday", "tuesday"]].map(|r| r.map(String::from))));
        assert_eq!(run(vec![upper()], &[], strings(["straße"])).unwrap(), strings(["STRASSE"]));
    }

    #[test]
    fn bad_attributes_are_refused_at_load() {
        let err = |a| format!("{:?}", run(vec![a], &[], strings(["a"])).unwrap_err());
        assert!(err(attr("case_change_action", Attr::Str("TITLE"))).contains("case_change_action is \"TITLE\""));
        assert!(err(attr("locale", Attr::Str("tr_TR"))).contains("locale \"tr_TR\""));
        assert_eq!(run(vec![attr("locale", Attr::Str("en_US"))], &[], strings(["a"])).unwrap(), strings(["a"]));
    }
}
