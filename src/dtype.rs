//! Element types as users name them. The names follow onnxruntime-web so that code written
//! against it ports without renaming.

use std::fmt;
use std::str::FromStr;

use tract_onnx::prelude::DatumType;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    Float32,
    Float64,
    Float16,
    Int8,
    Int16,
    Int32,
    Int64,
    Uint8,
    Uint16,
    Uint32,
    Uint64,
    Bool,
    String,
    /// A row of `{ label: probability }` per batch item: what a ZipMap graph output becomes.
    /// Only outputs have it; it has no tract element type.
    Map,
}

impl DType {
    pub const ALL: [DType; 14] = [
        DType::Float32,
        DType::Float64,
        DType::Float16,
        DType::Int8,
        DType::Int16,
        DType::Int32,
        DType::Int64,
        DType::Uint8,
        DType::Uint16,
        DType::Uint32,
        DType::Uint64,
        DType::Bool,
        DType::String,
        DType::Map,
    ];

    pub fn name(self) -> &'static str {
        match self {
            DType::Float32 => "float32",
            DType::Float64 => "float64",
            DType::Float16 => "float16",
            DType::Int8 => "int8",
            DType::Int16 => "int16",
            DType::Int32 => "int32",
            DType::Int64 => "int64",
            DType::Uint8 => "uint8",
            DType::Uint16 => "uint16",
            DType::Uint32 => "uint32",
            DType::Uint64 => "uint64",
            DType::Bool => "bool",
            DType::String => "string",
            DType::Map => "map",
        }
    }

    /// Bytes per element in the dense little-endian layout; strings have none.
    pub fn size_of(self) -> Option<usize> {
        Some(match self {
            DType::Int8 | DType::Uint8 | DType::Bool => 1,
            DType::Int16 | DType::Uint16 | DType::Float16 => 2,
            DType::Int32 | DType::Uint32 | DType::Float32 => 4,
            DType::Int64 | DType::Uint64 | DType::Float64 => 8,
            DType::String | DType::Map => return None,
        })
    }

    pub fn is_float(self) -> bool {
        matches!(self, DType::Float16 | DType::Float32 | DType::Float64)
    }

    pub fn is_integer(self) -> bool {
        matches!(
            self,
            DType::Int8
                | DType::Int16
                | DType::Int32
                | DType::Int64
                | DType::Uint8
                | DType::Uint16
                | DType::Uint32
                | DType::Uint64
        )
    }

    /// tract's element type; `None` for `Map`, which exists only at the output boundary.
    pub fn to_datum(self) -> Option<DatumType> {
        Some(match self {
            DType::Float32 => DatumType::F32,
            DType::Float64 => DatumType::F64,
            DType::Float16 => DatumType::F16,
            DType::Int8 => DatumType::I8,
            DType::Int16 => DatumType::I16,
            DType::Int32 => DatumType::I32,
            DType::Int64 => DatumType::I64,
            DType::Uint8 => DatumType::U8,
            DType::Uint16 => DatumType::U16,
            DType::Uint32 => DatumType::U32,
            DType::Uint64 => DatumType::U64,
            DType::Bool => DatumType::Bool,
            DType::String => DatumType::String,
            DType::Map => return None,
        })
    }

    /// The user-facing type of a tract datum type, if it has one (TDim counts as int64,
    /// which is what ONNX shape tensors are).
    pub fn from_datum(dt: DatumType) -> Option<DType> {
        Some(match dt.unquantized() {
            DatumType::F32 => DType::Float32,
            DatumType::F64 => DType::Float64,
            DatumType::F16 => DType::Float16,
            DatumType::I8 => DType::Int8,
            DatumType::I16 => DType::Int16,
            DatumType::I32 => DType::Int32,
            DatumType::I64 | DatumType::TDim => DType::Int64,
            DatumType::U8 => DType::Uint8,
            DatumType::U16 => DType::Uint16,
            DatumType::U32 => DType::Uint32,
            DatumType::U64 => DType::Uint64,
            DatumType::Bool => DType::Bool,
            DatumType::String => DType::String,
            _ => return None,
        })
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DType::ALL.into_iter().find(|d| d.name() == s).ok_or_else(|| {
            let names: Vec<_> = DType::ALL.iter().map(|d| d.name()).collect();
            format!("unknown dtype '{s}', expected one of {}", names.join(", "))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for d in DType::ALL {
            assert_eq!(d.name().parse::<DType>(), Ok(d));
            match d.to_datum() {
                Some(dt) => assert_eq!(DType::from_datum(dt), Some(d)),
                None => assert_eq!(d, DType::Map),
            }
        }
    }

    #[test]
    fn unknown_name_lists_the_valid_ones() {
        let err = "float".parse::<DType>().unwrap_err();
        assert!(err.contains("'float'") && err.contains("float32") && err.contains("string"), "{err}");
    }
}
