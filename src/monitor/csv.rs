//! CSV training samples (RFC 4180: a header row, commas, double-quoted fields with `""` for
//! a quote, CRLF or LF line ends) to named columns. A column is numeric when every non-empty
//! field parses as a number, unless named in `categorical`; empty fields are missing.

use crate::error::{Error, Result};

use super::reference::Column;

fn records(text: &str) -> Result<Vec<Vec<String>>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.strip_prefix('\u{feff}').unwrap_or(text).chars().peekable();
    let mut quoted = false;
    let mut line = 1;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => {
                if c == '\n' {
                    line += 1;
                }
                field.push(c);
            }
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
                line += 1;
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err(Error::InvalidOption(format!("CSV: a quoted field opened by line {line} is never closed")));
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    // Blank lines (a trailing newline, say) are not rows.
    records.retain(|r| !(r.len() == 1 && r[0].is_empty()));
    Ok(records)
}

/// The columns of a CSV text with a header row.
pub fn columns(text: &str, categorical: &[String]) -> Result<Vec<(String, Column)>> {
    let mut rows = records(text)?.into_iter();
    let header =
        rows.next().ok_or_else(|| Error::InvalidOption("CSV: the file is empty, expected a header row".into()))?;
    let header: Vec<String> = header.into_iter().map(|h| h.trim().to_owned()).collect();
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = header.iter().find(|h| !seen.insert(h.as_str())) {
        return Err(Error::InvalidOption(format!("CSV: column '{dup}' appears twice in the header")));
    }
    if let Some(name) = categorical.iter().find(|c| !header.contains(c)) {
        return Err(Error::InvalidOption(format!(
            "categorical names '{name}', but the CSV's columns are {}",
            header.join(", ")
        )));
    }
    let mut fields: Vec<Vec<String>> = vec![Vec::new(); header.len()];
    for (i, row) in rows.enumerate() {
        if row.len() != header.len() {
            return Err(Error::InvalidOption(format!(
                "CSV: data row {} has {} fields, the header has {}",
                i + 1,
                row.len(),
                header.len()
            )));
        }
        for (column, value) in fields.iter_mut().zip(row) {
            column.push(value);
        }
    }
    Ok(header
        .into_iter()
        .zip(fields)
        .map(|(name, values)| {
            let numbers: Option<Vec<f64>> = values
                .iter()
                .map(|v| {
                    let v = v.trim();
                    if v.is_empty() { Some(f64::NAN) } else { v.parse::<f64>().ok() }
                })
                .collect();
            let column = match numbers {
                Some(n) if !categorical.contains(&name) => Column::Numeric(n),
                _ => Column::Categorical(values.into_iter().map(|v| (!v.is_empty()).then_some(v)).collect()),
            };
            (name, column)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_fields_missing_values_and_kinds() {
        let text =
            "\u{feff}age,country,note,code\r\n41,FR,\"says \"\"hi\"\", twice\",1\r\n,DE,\"two\nlines\",2\n33,,x,3\n";
        let cols = columns(text, &["code".to_string()]).unwrap();
        let names: Vec<&str> = cols.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["age", "country", "note", "code"]);
        match &cols[0].1 {
            Column::Numeric(v) => {
                assert_eq!(v[0], 41.0);
                assert!(v[1].is_nan());
                assert_eq!(v[2], 33.0);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(cols[1].1, Column::Categorical(vec![Some("FR".into()), Some("DE".into()), None]));
        assert_eq!(
            cols[2].1,
            Column::Categorical(vec![Some("says \"hi\", twice".into()), Some("two\nlines".into()), Some("x".into())])
        );
        assert_eq!(cols[3].1, Column::Categorical(vec![Some("1".into()), Some("2".into()), Some("3".into())]));
    }

    #[test]
    fn malformed_files_are_refused_with_where() {
        let e = columns("a,b\n1,2\n3\n", &[]).unwrap_err();
        assert!(e.to_string().contains("data row 2 has 1 fields"), "{e}");
        assert!(columns("", &[]).unwrap_err().to_string().contains("empty"));
        assert!(columns("a,a\n1,2\n", &[]).unwrap_err().to_string().contains("twice"));
        assert!(columns("a\n\"1\n", &[]).unwrap_err().to_string().contains("never closed"));
        assert!(columns("a\n1\n", &["b".to_string()]).unwrap_err().to_string().contains("'b'"));
    }
}
