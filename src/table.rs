//! A chunk of CSV text read straight into a float32 feature matrix, for batch scoring
//! (`edgeinfer batch`): V8 turns a field into a number in about 200 ns and leaves the string
//! behind for its collector, which made reading the table most of a batch job's time. Values
//! are parsed as pandas parses them, as f64 then rounded to f32, so that the features equal
//! what the JS path and onnxruntime's users feed; an empty field (or NaN) is a missing value.
//! Float32 outputs are written here too: V8 has no float32 formatting, and going through a
//! double took two conversions a value.

/// What `read_float_rows` read: the rows it could, and why it could not read the others.
#[derive(Debug, Default, PartialEq)]
pub struct FloatRows {
    /// Row-major, one value per column asked for, for each row read.
    pub values: Vec<f32>,
    /// The line each row read starts on.
    pub lines: Vec<u32>,
    /// The fields of the kept columns, row-major, for each row read.
    pub kept: Vec<String>,
    /// The line and the reason of each record that could not be read, in order.
    pub rejects: Vec<(u32, String)>,
}

/// Reads the records of `text` (CSV in UTF-8, its first line on line `first_line` of the file):
/// `columns` (indices into `header`) give the features, `kept` the fields copied through.
/// A record with another number of fields than `header`, or a feature that is not a number,
/// is rejected with the same reasons the JS reader gives.
pub fn read_float_rows(
    text: &[u8],
    header: &[String],
    columns: &[usize],
    kept: &[usize],
    first_line: u32,
) -> FloatRows {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text);
    let mut record = csv::ByteRecord::new();
    let mut rows = FloatRows::default();
    let mut row = Vec::with_capacity(columns.len());
    let (mut line, mut counted) = (first_line, 0);
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            // Reading from a byte slice fails only on I/O, which a slice has none of.
            Err(e) => {
                rows.rejects.push((first_line, format!("unreadable CSV: {e}")));
                break;
            }
        }
        // The csv crate places a record where the previous one's reading stopped, before the
        // line break (and blank lines) ending it: the record starts after them.
        let mut start = record.position().map_or(0, |p| p.byte() as usize).max(counted);
        while text.get(start).is_some_and(|b| matches!(b, b'\r' | b'\n')) {
            start += 1;
        }
        line += bytecount(&text[counted..start]);
        counted = start;
        if record.len() == 1 && record[0].is_empty() {
            continue;
        }
        if record.len() != header.len() {
            rows.rejects.push((line, format!("{} fields, the header has {}", record.len(), header.len())));
            continue;
        }
        row.clear();
        let bad = columns.iter().find_map(|&c| match number(&record[c]) {
            Some(v) => {
                row.push(v);
                None
            }
            None => Some(c),
        });
        if let Some(c) = bad {
            let field = String::from_utf8_lossy(&record[c]);
            rows.rejects.push((line, format!("column '{}' {:?} is not a number", header[c], field)));
            continue;
        }
        rows.values.extend_from_slice(&row);
        rows.lines.push(line);
        rows.kept.extend(kept.iter().map(|&k| String::from_utf8_lossy(&record[k]).into_owned()));
    }
    rows
}

/// The rows of `values` (`width` values a row) as CSV cells, each after a comma, the rows
/// separated by line breaks: each value in the fewest digits that read back as the same
/// float32 (as numpy writes float32), laid out as JavaScript writes numbers, so that the JS
/// and the core's writers agree; NaN is an empty cell, as pandas writes it.
pub fn float32_cells(values: &[f32], width: usize) -> String {
    let mut out = String::with_capacity(values.len() * 12);
    let mut scratch = String::new();
    for (i, &v) in values.iter().enumerate() {
        if i > 0 && i % width.max(1) == 0 {
            out.push('\n');
        }
        out.push(',');
        push_float32(&mut out, v, &mut scratch);
    }
    out
}

/// Appends `v` as `Number.prototype.toString` writes the shortest decimal of a float32:
/// positional from 1e-6 up to 1e21, else in exponent form (`1e-7`, `1.5e+21`).
fn push_float32(out: &mut String, v: f32, scratch: &mut String) {
    use std::fmt::Write;
    if v.is_nan() {
        return;
    }
    if v.is_infinite() {
        out.push_str(if v > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    if v == 0.0 {
        out.push('0');
        return;
    }
    scratch.clear();
    // `{:e}` gives the shortest round-trip digits, as d.ddde-N.
    let _ = write!(scratch, "{:e}", v.abs());
    let (mantissa, exponent) = scratch.split_once('e').unwrap_or((scratch, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (first, rest) = mantissa.split_at(1);
    let rest = rest.strip_prefix('.').unwrap_or("");
    if v < 0.0 {
        out.push('-');
    }
    let digits = 1 + rest.len() as i32;
    if !(-6..21).contains(&exponent) {
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        let _ = write!(out, "e{}{}", if exponent > 0 { "+" } else { "-" }, exponent.abs());
    } else if exponent < 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-exponent - 1) as usize));
        out.push_str(first);
        out.push_str(rest);
    } else if exponent >= digits - 1 {
        out.push_str(first);
        out.push_str(rest);
        out.extend(std::iter::repeat_n('0', (exponent - (digits - 1)) as usize));
    } else {
        let split = exponent as usize;
        out.push_str(first);
        out.push_str(&rest[..split]);
        out.push('.');
        out.push_str(&rest[split..]);
    }
}

fn bytecount(bytes: &[u8]) -> u32 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u32
}

/// A field as a feature: empty or NaN is missing (NaN); else a number, or None.
fn number(field: &[u8]) -> Option<f32> {
    let text = std::str::from_utf8(field).ok()?.trim();
    if text.is_empty() || text.eq_ignore_ascii_case("nan") {
        return Some(f32::NAN);
    }
    text.parse::<f64>().ok().map(|v| v as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("c{i}")).collect()
    }

    fn cell(v: f32) -> String {
        float32_cells(&[v], 1)[1..].to_string()
    }

    #[test]
    fn writes_float32_as_javascript_writes_its_shortest_decimal() {
        for (v, text) in [
            (0.1, "0.1"),
            (1.0, "1"),
            (-2.5, "-2.5"),
            (0.998_890_7, "0.9988907"),
            (123_456_789.0, "123456790"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (-3.5e25, "-3.5e+25"),
            (1e-6, "0.000001"),
            (1.25e-6, "0.00000125"),
            (1e-7, "1e-7"),
            (-2.5e-8, "-2.5e-8"),
            (f32::MIN_POSITIVE, "1.1754944e-38"),
            (1e-45, "1e-45"),
            (f32::MAX, "3.4028235e+38"),
            (0.0, "0"),
            (-0.0, "0"),
            (f32::INFINITY, "Infinity"),
            (f32::NEG_INFINITY, "-Infinity"),
            (f32::NAN, ""),
        ] {
            assert_eq!(cell(v), text, "{v:e}");
        }
    }

    #[test]
    fn written_float32_read_back_as_the_same_bits() {
        // Every 4,099th bit pattern, all exponents and signs.
        for bits in (0..u32::MAX).step_by(4099) {
            let v = f32::from_bits(bits);
            if v.is_finite() {
                let text = cell(v);
                assert_eq!(text.parse::<f32>().map(|r| r == v), Ok(true), "{bits:#x}: {text}");
            }
        }
    }

    #[test]
    fn rows_are_lines_of_cells() {
        assert_eq!(float32_cells(&[1.0, f32::NAN, 0.5, 2.0], 2), ",1,\n,0.5,2");
        assert_eq!(float32_cells(&[], 3), "");
    }

    #[test]
    fn reads_features_and_kept_fields_with_their_lines() {
        let text = "a,1.5,2\r\nb, 3 ,\n\n\"c\nd\",1e3,nan\n";
        let rows = read_float_rows(text.as_bytes(), &header(3), &[1, 2], &[0], 2);
        assert_eq!(rows.lines, [2, 3, 5]);
        assert_eq!(rows.kept, ["a", "b", "c\nd"]);
        assert_eq!(rows.values[..3], [1.5, 2.0, 3.0]);
        assert!(rows.values[3].is_nan(), "an empty field is missing");
        assert_eq!(rows.values[4], 1000.0);
        assert!(rows.values[5].is_nan());
        assert!(rows.rejects.is_empty());
    }

    #[test]
    fn rejects_records_it_cannot_read_with_the_js_readers_reasons() {
        let text = "a,1,2\nb,abc,2\nc,1\nd,1,2,3\ne,4,5\n";
        let rows = read_float_rows(text.as_bytes(), &header(3), &[1, 2], &[], 10);
        assert_eq!(rows.lines, [10, 14]);
        assert_eq!(rows.values, [1.0, 2.0, 4.0, 5.0]);
        assert_eq!(
            rows.rejects,
            [
                (11, "column 'c1' \"abc\" is not a number".to_string()),
                (12, "2 fields, the header has 3".to_string()),
                (13, "4 fields, the header has 3".to_string()),
            ]
        );
    }

    #[test]
    fn rounds_as_pandas_does_through_f64() {
        // A decimal whose f32 differs between direct and double rounding: the f64 route is
        // what pandas' read_csv then astype(float32) and JS's Number then Float32Array give.
        // Just above 1 + 2^-24, halfway between two f32s: f32 parsing rounds up, the f64
        // route rounds to 1 + 2^-24 first and then, a tie, to even.
        let decimal = "1.00000005960464477550";
        let rows = read_float_rows(format!("x,{decimal}\n").as_bytes(), &header(2), &[1], &[], 1);
        assert_eq!(rows.values, [1.0]);
        assert_ne!(decimal.parse::<f32>().unwrap(), 1.0, "the two routes differ here");
    }
}
