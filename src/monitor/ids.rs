//! Prediction ids: `<instance>-<token>`. The instance part is random per loaded model, so an
//! id from another isolate or an earlier load is recognised as foreign; the token is 96 bits
//! from a CSPRNG, drawn per prediction, so that holding one id tells nothing about any other
//! (a caller cannot label someone else's prediction by guessing its id) nor how many
//! predictions were made.

/// A parsed id: which loaded model made it, and the prediction's own random token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PredictionId {
    pub instance: u32,
    pub token: u128,
}

/// Hex digits of the token: 96 bits.
const TOKEN_DIGITS: usize = 24;

impl PredictionId {
    /// The largest token: 96 bits.
    pub const TOKEN_MAX: u128 = (1 << 96) - 1;

    pub fn render(self) -> String {
        let mut text = [b'-'; 9 + TOKEN_DIGITS];
        hex(u128::from(self.instance), &mut text[..8]);
        hex(self.token, &mut text[9..]);
        // Hex digits and a dash are ASCII.
        String::from_utf8_lossy(&text).into_owned()
    }

    pub fn parse(text: &str) -> Option<PredictionId> {
        let (instance, token) = text.split_once('-')?;
        let hex = |s: &str, digits: usize| s.len() == digits && s.bytes().all(|b| b.is_ascii_hexdigit());
        if !hex(instance, 8) || !hex(token, TOKEN_DIGITS) {
            return None;
        }
        Some(PredictionId {
            instance: u32::from_str_radix(instance, 16).ok()?,
            token: u128::from_str_radix(token, 16).ok()?,
        })
    }
}

/// `value`'s last `out.len()` hex digits, in lower case: ids are made at every prediction,
/// and `format!` took a noticeable share of a small one.
fn hex(mut value: u128, out: &mut [u8]) {
    for digit in out.iter_mut().rev() {
        *digit = b"0123456789abcdef"[(value & 0xf) as usize];
        value >>= 4;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_junk_is_refused() {
        let id = PredictionId { instance: 0x00ab_cdef, token: 0x0123_4567_89ab_cdef_0011_2233 };
        assert_eq!(id.render(), "00abcdef-0123456789abcdef00112233");
        assert_eq!(PredictionId::parse("00abcdef-0123456789abcdef00112233"), Some(id));
        let max = PredictionId { instance: u32::MAX, token: PredictionId::TOKEN_MAX };
        assert_eq!(PredictionId::parse(&max.render()), Some(max));
        for junk in [
            "",
            "42",
            "00abcdef-",
            "00abcdef-42",
            "abc-0123456789abcdef00112233",
            "00abcdef-+123456789abcdef00112233",
            "zzzzzzzz-0123456789abcdef00112233",
            "00abcdef-0123456789abcdef0011223",
            "00abcdef-0123456789abcdef001122334",
            "00abcdef-0123456789abcdef0011223g",
            "00abcdef-0123456789abcdef00112233-1",
        ] {
            assert_eq!(PredictionId::parse(junk), None, "{junk}");
        }
    }
}
