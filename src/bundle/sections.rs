//! WebAssembly custom sections: found by walking the module's section headers, and appended
//! at the end, where the spec allows custom sections to be. Only the framing is read; the
//! module's code is never interpreted.

const MAGIC: &[u8; 8] = b"\0asm\x01\0\0\0";
const CUSTOM: u8 = 0;

/// Whether `bytes` start like a WebAssembly module (version 1).
pub fn is_wasm(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

/// Reads an unsigned LEB128 of at most 32 bits at `at`; returns it and the bytes it took.
fn leb_u32(bytes: &[u8], at: usize) -> Option<(u32, usize)> {
    let mut value: u32 = 0;
    for i in 0..5 {
        let byte = *bytes.get(at + i)?;
        value |= u32::from(byte & 0x7f).checked_shl(7 * i as u32)?;
        if byte & 0x80 == 0 {
            // The fifth byte may only carry the top 4 bits of a u32.
            return (i < 4 || byte < 0x10).then_some((value, i + 1));
        }
    }
    None
}

fn write_leb_u32(out: &mut Vec<u8>, mut value: u32) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// A custom section: its name, payload, and the offset of its first byte in the module.
pub type Section<'a> = (&'a str, &'a [u8], usize);

/// Every custom section, in module order; `Err` says where the framing is broken.
pub fn custom_sections(bytes: &[u8]) -> Result<Vec<Section<'_>>, String> {
    if !is_wasm(bytes) {
        return Err("not a WebAssembly module".into());
    }
    let mut out = Vec::new();
    let mut at = MAGIC.len();
    while at < bytes.len() {
        let id = bytes[at];
        let (size, n) = leb_u32(bytes, at + 1).ok_or_else(|| format!("bad section size at byte {}", at + 1))?;
        let start = at + 1 + n;
        let end = start.checked_add(size as usize).filter(|&e| e <= bytes.len()).ok_or_else(|| {
            format!("section at byte {at} claims {size} bytes, past the end of the module ({} bytes)", bytes.len())
        })?;
        if id == CUSTOM {
            let (len, m) = leb_u32(bytes, start).ok_or_else(|| format!("bad custom section name at byte {start}"))?;
            let name_end = (start + m)
                .checked_add(len as usize)
                .filter(|&e| e <= end)
                .ok_or("custom section name runs past its section")?;
            let name =
                std::str::from_utf8(&bytes[start + m..name_end]).map_err(|_| "custom section name is not UTF-8")?;
            out.push((name, &bytes[name_end..end], at));
        }
        at = end;
    }
    Ok(out)
}

/// The payload of the one custom section called `name`; `Ok(None)` if absent, `Err` if repeated.
pub fn custom_section<'a>(sections: &[Section<'a>], name: &str) -> Result<Option<&'a [u8]>, String> {
    let mut found = sections.iter().filter(|(n, _, _)| *n == name);
    let first = found.next().map(|(_, p, _)| *p);
    if found.next().is_some() {
        return Err(format!("the module has more than one '{name}' section"));
    }
    Ok(first)
}

/// Appends a custom section to a module.
pub fn append_custom_section(module: &mut Vec<u8>, name: &str, payload: &[u8]) -> Result<(), String> {
    let mut header = Vec::new();
    write_leb_u32(&mut header, u32::try_from(name.len()).map_err(|_| "section name too long")?);
    header.extend_from_slice(name.as_bytes());
    let size = u32::try_from(header.len() + payload.len()).map_err(|_| format!("section '{name}' is over 4 GiB"))?;
    module.push(CUSTOM);
    write_leb_u32(module, size);
    module.extend_from_slice(&header);
    module.extend_from_slice(payload);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module() -> Vec<u8> {
        // The empty module plus a type section with no types.
        let mut m = MAGIC.to_vec();
        m.extend_from_slice(&[1, 1, 0]);
        m
    }

    #[test]
    fn sections_round_trip() {
        let mut m = module();
        append_custom_section(&mut m, "a", b"hello").unwrap();
        append_custom_section(&mut m, "b", &vec![7u8; 300]).unwrap();
        let s = custom_sections(&m).unwrap();
        let names: Vec<(&str, &[u8])> = s.iter().map(|(n, p, _)| (*n, *p)).collect();
        assert_eq!(names, vec![("a", &b"hello"[..]), ("b", &[7u8; 300][..])]);
        assert_eq!(s[0].2, module().len());
        assert_eq!(custom_section(&s, "b").unwrap().map(|p| p.len()), Some(300));
        assert_eq!(custom_section(&s, "c").unwrap(), None);
    }

    #[test]
    fn repeated_sections_are_refused() {
        let mut m = module();
        append_custom_section(&mut m, "a", b"1").unwrap();
        append_custom_section(&mut m, "a", b"2").unwrap();
        let s = custom_sections(&m).unwrap();
        assert!(custom_section(&s, "a").unwrap_err().contains("more than one"));
    }

    #[test]
    fn broken_framing_is_an_error_never_a_panic() {
        let mut m = module();
        append_custom_section(&mut m, "name", &[1, 2, 3, 4]).unwrap();
        for cut in 0..m.len() {
            let _ = custom_sections(&m[..cut]);
        }
        let mut bad = module();
        bad.extend_from_slice(&[0, 0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert!(custom_sections(&bad).unwrap_err().contains("past the end"));
        let mut overlong = module();
        overlong.extend_from_slice(&[0, 0x80, 0x80, 0x80, 0x80, 0x80]);
        assert!(custom_sections(&overlong).is_err());
        assert!(custom_sections(b"PK\x03\x04").is_err());
    }

    #[test]
    fn leb128_edges() {
        for v in [0u32, 1, 127, 128, 16383, 16384, u32::MAX] {
            let mut out = Vec::new();
            write_leb_u32(&mut out, v);
            assert_eq!(leb_u32(&out, 0), Some((v, out.len())));
        }
        assert_eq!(leb_u32(&[0xff, 0xff, 0xff, 0xff, 0x1f], 0), None);
    }
}
