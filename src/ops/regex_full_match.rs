//! RegexFullMatch (ONNX, opset 20), which tract lacks: true where the whole string matches
//! `pattern`. The standard names RE2's syntax and onnxruntime runs RE2; the `regex-lite`
//! crate, the regex project's small one, reads nearly the same syntax and, like RE2, runs in
//! time linear in the string.
//!
//! As in RE2, its Perl classes and word boundaries are ASCII (`\d` is `[0-9]`, `\w`
//! `[0-9A-Za-z_]`), but its `\s` is POSIX's space, so it matches a vertical tab (U+000B)
//! where RE2's does not. Its case-insensitive `(?i)` folds ASCII letters alone, where RE2
//! also folds others (`(?i)é` matches `É` in RE2, not here). A pattern the crate cannot
//! read is refused at load, the message quoting it and saying why: Unicode classes
//! (`\p{Greek}`), which RE2 reads; a `[` inside a class other than a POSIX class such as
//! `[:alpha:]`, and `&&`, `--` or `~~` inside one, which RE2 reads literally; look-around
//! and backreferences, which RE2 refuses too. The crate reads a few things RE2 does not:
//! `(?x)` is verbose mode, and `\<`, `\>` and `\b{start}` are word-boundary halves.

use regex_lite::Regex;
use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::ml::{Built, label, plain, typed};

pub(super) fn build(_ctx: &ParsingContext, node: &NodeProto) -> Built {
    let label = label(node);
    let Some(pattern) = node.get_attr_opt::<String>("pattern")? else {
        bail!("{label}: pattern is missing, expected a regular expression in RE2's syntax");
    };
    let regex = full_match(&pattern).map_err(|e| {
        format_err!("{label}: pattern {pattern:?} is not a regular expression this runtime can compile: {e}")
    })?;
    typed(RegexFullMatch { label, pattern, regex }, 1)
}

/// The pattern anchored at both ends. It is compiled alone first, so that one such as
/// `a)|(b` is refused rather than read as two halves of the anchored group. The `(?x)` and
/// newline before the group closes end a comment that a pattern in the crate's verbose
/// mode may end in, and are nothing otherwise (flags set so last only to the group's end).
fn full_match(pattern: &str) -> Result<Regex, regex_lite::Error> {
    Regex::new(pattern)?;
    Regex::new(&format!("\\A(?:{pattern}(?x)\n)\\z"))
}

#[derive(Debug, Clone)]
struct RegexFullMatch {
    label: String,
    pattern: String,
    regex: Regex,
}

/// The pattern makes the regex: equal patterns are equal operators.
impl PartialEq for RegexFullMatch {
    fn eq(&self, other: &Self) -> bool {
        (&self.label, &self.pattern) == (&other.label, &other.pattern)
    }
}

impl Eq for RegexFullMatch {}

impl RegexFullMatch {
    fn apply(&self, x: &Tensor) -> TractResult<Tensor> {
        let matches: Vec<bool> = plain::<String>(x)?.iter().map(|s| self.regex.is_match(s)).collect();
        Tensor::from_shape(x.shape(), &matches)
    }
}

crate::ops::one_input_eval!(RegexFullMatch, "RegexFullMatch");

impl TypedOp for RegexFullMatch {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let x = inputs[0];
        if x.datum_type != DatumType::String {
            bail!("{}: expected strings, got {:?}", self.label, x.datum_type);
        }
        Ok(tvec!(bool::fact(x.shape.clone())))
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testing::{Attr, attr, run_node, strings};

    fn run(pattern: &'static str, x: Tensor) -> TractResult<Tensor> {
        Ok(run_node("RegexFullMatch", vec![attr("pattern", Attr::Str(pattern))], &[("x", x)], &["y"])?.remove(0))
    }

    fn matches<const N: usize>(pattern: &str, s: [&str; N]) -> [bool; N] {
        let regex = full_match(pattern).unwrap();
        s.map(|s| regex.is_match(s))
    }

    /// As the onnx 1.23 cases test_regex_full_match_*.
    #[test]
    fn whole_strings_match_as_the_onnx_cases() {
        let y = run(r"www\.[\w.-]+\.\bcom\b", strings(["www.google.com", "www.facebook.com", "www.bbc.co.uk"]));
        assert_eq!(y.unwrap(), tensor1(&[true, true, false]));
        let email = r"(\W|^)[\w.\-]{0,25}@(yahoo|gmail)\.com(\W|$)";
        let x = [["account@gmail.com", "account@hotmail.com"], ["not email", "account2@yahoo.com"]];
        let y = run(email, tensor2(&x.map(|r| r.map(String::from)))).unwrap();
        assert_eq!(y, tensor2(&[[true, false], [false, true]]));
        let empty = tract_ndarray::ArrayD::<String>::default(vec![2, 0]).into_tensor();
        assert_eq!(run(email, empty).unwrap(), tract_ndarray::ArrayD::<bool>::default(vec![2, 0]).into_tensor());
        assert_eq!(run("a+", tensor0(String::from("aaa"))).unwrap(), tensor0(true));
    }

    #[test]
    fn the_whole_string_must_match() {
        assert_eq!(matches("ab|abc", ["ab", "abc", "abcd", "xab", ""]), [true, true, false, false, false]);
        assert_eq!(matches("", ["", "a"]), [true, false]);
        assert_eq!(matches("a|b", ["a", "b", "a\n", "ab"]), [true, true, false, false]);
        // $ is the end of the string, not before a final newline; flags stay in the group.
        assert_eq!(matches("a$", ["a", "a\n"]), [true, false]);
        assert_eq!(matches("(?m)a$", ["a", "a\n"]), [true, false]);
        assert_eq!(matches("(?s)a.b", ["a\nb", "aéb"]), [true, true]);
        assert_eq!(matches("a.b", ["a\nb", "aéb"]), [false, true]);
    }

    /// As in RE2, a digit or letter of another script is not \d or \w.
    #[test]
    fn perl_classes_and_word_boundaries_are_ascii_as_in_re2() {
        assert_eq!(matches(r"\d+", ["0123456789", "١٢", "12a"]), [true, false, false]);
        assert_eq!(matches(r"\w+", ["a_Z9", "é", "a-b"]), [true, false, false]);
        // POSIX's space: the vertical tab too, which RE2's \s leaves out.
        assert_eq!(matches(r"\s", [" ", "\t", "\u{a0}", "\u{b}"]), [true, true, false, true]);
        assert_eq!(matches(r"\D\W\S", ["a é", "aé.", "1-b", "a-\t"]), [true, true, false, false]);
        assert_eq!(matches(r"[\d\s-]+", ["1 -2", "1_2"]), [true, false]);
        assert_eq!(matches(r"[^\d]+", ["abc", "a1"]), [true, false]);
        assert_eq!(matches(r"[\W]", ["-", "a", "é"]), [true, false, true]);
        assert_eq!(matches(r".*\bcat\b.*", ["a cat!", "bobcat", "écat"]), [true, false, true]);
        assert_eq!(matches(r"a\Bb", ["ab"]), [true]);
        assert_eq!(matches(r"\\d", [r"\d", "1"]), [true, false]);
        assert_eq!(matches(r"(?x) \d \s \d # digits", ["1 2", "12"]), [true, false]);
        assert_eq!(matches(r"[[:alpha:]]+\.[a-z]{2,3}", ["abc.de", "é.de"]), [true, false]);
    }

    /// (?i) folds ASCII letters alone; RE2 also folds é and É, and K with the Kelvin sign.
    #[test]
    fn case_insensitivity_folds_ascii_letters() {
        assert_eq!(matches("(?i)abc", ["ABC", "aBc", "abd"]), [true, true, false]);
        assert_eq!(matches("(?i)[a-c]+x", ["AbCX", "dx"]), [true, false]);
        assert_eq!(matches("a(?i:b)c", ["aBc", "ABc"]), [true, false]);
        assert_eq!(matches("(?i)é|k", ["é", "É", "K", "\u{212a}"]), [true, false, true, false]);
    }

    #[test]
    fn bad_patterns_are_refused_at_load() {
        let err = |p: &'static str| format!("{:?}", run(p, strings(["a"])).unwrap_err());
        let e = err("a(b");
        assert!(e.contains("pattern \"a(b\" is not a regular expression") && e.contains("without closing ')'"), "{e}");
        // Not read as \A(?:a)|(b)\z.
        let e = err("a)|(b");
        assert!(e.contains("pattern \"a)|(b\"") && e.contains("without matching '('"), "{e}");
        assert!(err("[z-a]").contains("invalid range in character class"));
        assert!(err(r"\p{Greek}").contains("Unicode character classes are not supported"));
        assert!(err(r"a\").contains("end of pattern"));
        assert!(err("[a[b]]").contains("nested character classes are not supported"));
        assert!(err("[a&&b]").contains("intersection is not supported"));
        assert!(err("a(?=b)").contains("look-around is not supported"));
        assert!(err(r"(a)\1").contains("backreferences are not supported"));
        let e = format!("{:?}", run_node("RegexFullMatch", vec![], &[("x", strings(["a"]))], &["y"]).unwrap_err());
        assert!(e.contains("pattern is missing"), "{e}");
    }

    #[test]
    fn only_strings_are_matched() {
        let e = format!("{:?}", run("1", tensor1(&[1i64])).unwrap_err());
        assert!(e.contains("expected strings, got I64"), "{e}");
    }
}
