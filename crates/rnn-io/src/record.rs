//! Checks of a Burn record in MessagePack (Burn's `NamedMpkFileRecorder` format) before it is
//! decoded into a module: every tensor (a map with `bytes`, `shape` and `dtype`) must hold
//! exactly as many bytes as its shape and element type need, and every parameter's `id` must
//! be one Burn can parse. Burn builds arrays from those bytes without checking them, so a
//! record that lies about them would read out of bounds, and it panics on an id it cannot
//! parse (`ParamId::deserialize`).
//!
//! The walk is streaming: it borrows the input, allocates nothing in proportion to declared
//! sizes, and refuses nesting deeper than [`MAX_DEPTH`] levels.

use std::fmt;

use serde::de::{
    DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor,
};

use crate::Error;

/// The deepest nesting a record may have (Burn's records nest a few levels per module).
pub const MAX_DEPTH: usize = 128;

/// One tensor found in a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordTensor {
    /// Where it is: the field names from the root, e.g. `item.encoder.rnn.cells.[0].weight_ih.param`.
    pub path: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Its element type, as Burn names it (`F32`, `I64`, ...).
    pub dtype: String,
}

impl RecordTensor {
    /// The number of elements.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// Checks every tensor of the MessagePack record `bytes` and lists them.
///
/// # Errors
/// A malformed record, nesting past [`MAX_DEPTH`], a tensor whose byte length is not its
/// element count times its element size (the error's key is the tensor's path), or a
/// parameter whose `id` is not one Burn's `ParamId::deserialize` accepts (the key is the
/// parameter's path).
pub fn check_record(bytes: &[u8]) -> Result<Vec<RecordTensor>, Error> {
    let mut de = rmp_serde::Deserializer::from_read_ref(bytes);
    de.set_max_depth(MAX_DEPTH + 8);
    let mut st = State::default();
    let walker = Walker {
        path: String::new(),
        depth: 0,
        st: &mut st,
    };
    let result = walker.deserialize(&mut de);
    if let Some(failure) = st.failure {
        return Err(failure);
    }
    result.map_err(|e| Error::new(None, format!("not a Burn record: {e}")))?;
    Ok(st.out)
}

/// What the walk collects: the tensors, and the first check that failed.
#[derive(Default)]
struct State {
    out: Vec<RecordTensor>,
    failure: Option<Error>,
}

struct Walker<'o> {
    path: String,
    depth: usize,
    st: &'o mut State,
}

impl<'de> DeserializeSeed<'de> for Walker<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if self.depth > MAX_DEPTH {
            return Err(D::Error::custom(format!(
                "nested more than {MAX_DEPTH} levels at `{}`",
                self.path
            )));
        }
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walker<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Burn record")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_bytes<E>(self, _: &[u8]) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        Walker {
            depth: self.depth + 1,
            ..self
        }
        .deserialize(d)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        Walker {
            depth: self.depth + 1,
            ..self
        }
        .deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0usize;
        loop {
            let child = Walker {
                path: format!("{}.[{i}]", self.path),
                depth: self.depth + 1,
                st: &mut *self.st,
            };
            if seq.next_element_seed(child)?.is_none() {
                return Ok(());
            }
            i += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let (mut bytes, mut shape, mut dtype) = (None, None, None);
        let (mut id, mut has_param) = (None, false);
        while let Some(key) = map.next_key::<Key>()? {
            let path = match &key {
                Key::Name(k) if self.path.is_empty() => k.clone(),
                Key::Name(k) => format!("{}.{k}", self.path),
                Key::Other => format!("{}.?", self.path),
            };
            match &key {
                Key::Name(k) if k == "bytes" => bytes = Some(map.next_value::<ByteLen>()?.0),
                Key::Name(k) if k == "shape" => shape = Some(map.next_value::<Shape>()?.0),
                Key::Name(k) if k == "dtype" => dtype = Some(map.next_value::<DtypeName>()?.0),
                Key::Name(k) if k == "id" => id = map.next_value::<IdText>()?.0,
                _ => map.next_value_seed(Walker {
                    path,
                    depth: self.depth + 1,
                    st: &mut *self.st,
                })?,
            }
            has_param |= matches!(&key, Key::Name(k) if k == "param");
        }
        let path = self.path;
        let st = self.st;
        if let Some(id) = id.filter(|id| has_param && !valid_param_id(id)) {
            st.failure = Some(Error::new(
                Some(path),
                format!("`{id}` is not a parameter id (Burn's base32 form or a UUID)"),
            ));
            return Err(A::Error::custom("a parameter id failed its check"));
        }
        let (Some(bytes), Some(shape), Some(dtype)) = (bytes, shape, dtype) else {
            return Ok(());
        };
        let mut fail = |m: String| {
            st.failure = Some(Error::new(Some(path.clone()), m));
            A::Error::custom("a tensor failed its check")
        };
        let Some(size) = element_size(&dtype) else {
            return Err(fail(format!("a tensor of unknown element type `{dtype}`")));
        };
        let Some(need) = shape.iter().try_fold(size, |a: usize, &d| a.checked_mul(d)) else {
            return Err(fail(format!("shape {shape:?} overflows")));
        };
        if need != bytes {
            return Err(fail(format!(
                "the tensor holds {bytes} bytes, but shape {shape:?} of {dtype} needs {need}"
            )));
        }
        st.out.push(RecordTensor { path, shape, dtype });
        Ok(())
    }
}

/// Whether Burn's `ParamId::deserialize` accepts `id` without panicking: the same two
/// parsers it runs (base32 of at most 8 bytes, else a UUID), so no id that passes here can
/// make it panic.
fn valid_param_id(id: &str) -> bool {
    match data_encoding::BASE32_DNSSEC.decode(id.as_bytes()) {
        Ok(bytes) => bytes.len() <= 8,
        Err(_) => uuid::Uuid::try_parse(id).is_ok(),
    }
}

/// The byte size of one element of a Burn `DType` (`None`: not a type a record holds).
fn element_size(dtype: &str) -> Option<usize> {
    Some(match dtype {
        "F64" | "I64" | "U64" => 8,
        "F32" | "Flex32" | "I32" | "U32" => 4,
        "F16" | "BF16" | "I16" | "U16" => 2,
        "I8" | "U8" | "Bool" => 1,
        _ => return None,
    })
}

enum Key {
    Name(String),
    Other,
}

impl<'de> serde::Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E>(self, v: &str) -> Result<Key, E> {
                Ok(Key::Name(v.chars().take(64).collect()))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Key, E> {
                Ok(Key::Other)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Key, E> {
                Ok(Key::Other)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Key, E> {
                Ok(Key::Other)
            }
            fn visit_bytes<E>(self, _: &[u8]) -> Result<Key, E> {
                Ok(Key::Other)
            }
        }
        d.deserialize_any(V)
    }
}

/// An `id` field: its text (at most 64 characters are kept, more than any id has), or `None`
/// for a value that is not a string.
struct IdText(Option<String>);

impl<'de> serde::Deserialize<'de> for IdText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = IdText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a parameter id")
            }
            fn visit_str<E>(self, v: &str) -> Result<IdText, E> {
                Ok(IdText(Some(v.chars().take(64).collect())))
            }
            fn visit_bytes<E>(self, _: &[u8]) -> Result<IdText, E> {
                Ok(IdText(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<IdText, E> {
                Ok(IdText(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<IdText, E> {
                Ok(IdText(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<IdText, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(IdText(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<IdText, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(IdText(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// The length of a `bytes` field (MessagePack bin, or an array of bytes).
struct ByteLen(usize);

impl<'de> serde::Deserialize<'de> for ByteLen {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ByteLen;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("tensor bytes")
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<ByteLen, E> {
                Ok(ByteLen(v.len()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ByteLen, A::Error> {
                let mut n = 0;
                while seq.next_element::<u8>()?.is_some() {
                    n += 1;
                }
                Ok(ByteLen(n))
            }
        }
        d.deserialize_any(V)
    }
}

/// A `shape` field: a sequence of sizes.
struct Shape(Vec<usize>);

impl<'de> serde::Deserialize<'de> for Shape {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Shape;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a tensor shape")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
                let mut dims = Vec::new();
                while let Some(d) = seq.next_element::<u64>()? {
                    if dims.len() == 32 {
                        return Err(A::Error::custom("a shape of more than 32 dimensions"));
                    }
                    dims.push(usize::try_from(d).map_err(A::Error::custom)?);
                }
                Ok(Shape(dims))
            }
        }
        d.deserialize_any(V)
    }
}

/// A `dtype` field: a unit variant (`"F32"`) or a one-entry map (`{"Bool": ...}`).
struct DtypeName(String);

impl<'de> serde::Deserialize<'de> for DtypeName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = DtypeName;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a tensor dtype")
            }
            fn visit_str<E>(self, v: &str) -> Result<DtypeName, E> {
                Ok(DtypeName(v.chars().take(32).collect()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<DtypeName, A::Error> {
                let name = map
                    .next_key::<String>()?
                    .ok_or_else(|| A::Error::custom("an empty dtype"))?;
                map.next_value::<IgnoredAny>()?;
                if map.next_key::<IgnoredAny>()?.is_some() {
                    return Err(A::Error::custom("a dtype with two variants"));
                }
                Ok(DtypeName(name.chars().take(32).collect()))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;

    struct Bin(Vec<u8>);
    impl Serialize for Bin {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(&self.0)
        }
    }

    #[derive(Serialize)]
    struct Data {
        bytes: Bin,
        shape: Vec<u64>,
        dtype: &'static str,
    }

    #[derive(Serialize)]
    struct Param {
        id: &'static str,
        param: Data,
    }

    #[derive(Serialize)]
    struct Module {
        weight: Param,
        layers: Vec<Param>,
    }

    fn record(shape: Vec<u64>, bytes: usize, dtype: &'static str) -> Vec<u8> {
        let p = |shape: Vec<u64>, bytes: usize, dtype| Param {
            id: "0123456789abc", // Burn's form: base32 of a u64
            param: Data {
                bytes: Bin(vec![0; bytes]),
                shape,
                dtype,
            },
        };
        let m = Module {
            weight: p(vec![2, 3], 24, "F32"),
            layers: vec![p(shape, bytes, dtype)],
        };
        rmp_serde::to_vec_named(&m).unwrap()
    }

    #[test]
    fn parameter_ids_are_checked_by_burns_rules() {
        // Burn's own ids, a UUID, and the ids Burn's `ParamId::deserialize` panics on.
        for (id, valid) in [
            ("0123456789abc", true),
            ("0000000000000000", false), // base32 of 10 bytes
            ("67e55044-10b1-426f-9247-bb680e5fe0c8", true),
            ("abc", false),
            ("not an id", false),
            ("", true), // no bytes: id 0
        ] {
            assert_eq!(valid_param_id(id), valid, "{id:?}");
        }
    }

    #[test]
    fn tensors_are_listed_with_their_paths_when_their_bytes_match() {
        let t = check_record(&record(vec![4], 16, "F32")).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].path, "weight.param");
        assert_eq!(t[0].shape, [2, 3]);
        assert_eq!(t[1].path, "layers.[0].param");
        assert_eq!(t[1].numel(), 4);
    }

    #[test]
    fn a_tensor_that_lies_about_its_bytes_is_an_error_naming_it() {
        for (shape, bytes, dtype, words) in [
            (
                vec![4],
                12,
                "F32",
                "holds 12 bytes, but shape [4] of F32 needs 16",
            ),
            (vec![4], 20, "F32", "holds 20 bytes"),
            (vec![4], 16, "F64", "needs 32"),
            (vec![1 << 40, 1 << 40], 16, "F32", "overflows"),
            (vec![4], 16, "Complex", "unknown element type"),
        ] {
            let e = check_record(&record(shape, bytes, dtype)).unwrap_err();
            assert_eq!(e.key.as_deref(), Some("layers.[0].param"), "{e}");
            assert!(e.message.contains(words), "{e}");
        }
    }

    #[test]
    fn malformed_and_hostile_messagepack_is_an_error() {
        let good = record(vec![4], 16, "F32");
        for n in 0..good.len() {
            assert!(check_record(&good[..n]).is_err(), "{n}");
        }
        let deep = vec![0x91u8; 100_000];
        let e = check_record(&deep).unwrap_err();
        assert!(e.message.contains("not a Burn record"), "{e}");
        // An array and a bin that declare 4 G entries / bytes.
        assert!(check_record(&[0xdd, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(check_record(&[0xc6, 0xff, 0xff, 0xff, 0xff, 0]).is_err());
    }
}
