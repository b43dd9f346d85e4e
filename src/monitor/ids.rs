//! Prediction ids: `<instance>-<sequence>`, where the instance part is random per loaded
//! model, so an id from another isolate or an earlier load is recognised as foreign instead
//! of being joined to whichever prediction happens to have the same sequence number here.

/// A parsed id: which loaded model made it and its sequence number there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PredictionId {
    pub instance: u32,
    pub sequence: u64,
}

impl PredictionId {
    pub fn render(self) -> String {
        format!("{}{}", self.prefix(), self.sequence)
    }

    /// `<instance>-`, the same for every id of one loaded model: a binding can keep it and
    /// append the sequence number itself.
    pub fn prefix(self) -> String {
        format!("{:08x}-", self.instance)
    }

    pub fn parse(text: &str) -> Option<PredictionId> {
        let (instance, sequence) = text.split_once('-')?;
        if instance.len() != 8 || sequence.is_empty() || sequence.starts_with('+') {
            return None;
        }
        Some(PredictionId { instance: u32::from_str_radix(instance, 16).ok()?, sequence: sequence.parse().ok()? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_junk_is_refused() {
        let id = PredictionId { instance: 0x00ab_cdef, sequence: 42 };
        assert_eq!(id.render(), "00abcdef-42");
        assert_eq!(PredictionId::parse("00abcdef-42"), Some(id));
        for junk in ["", "42", "00abcdef-", "abc-1", "00abcdef-+1", "zzzzzzzz-1", "00abcdef-1-2", "00abcdef--1"] {
            assert_eq!(PredictionId::parse(junk), None, "{junk}");
        }
    }
}
