//! Property test: random, hostile safetensors headers (lying lengths, huge or overflowing
//! shapes, inverted or overlapping offsets, unknown dtypes, garbage JSON) never panic the
//! reader: each is an `Err`, or an `Ok` whose every tensor reads as many values as its shape
//! says, or fails with an `Err`.

use proptest::prelude::*;
use rnn_io::TensorFile;

fn dtype() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("F32".to_string()),
        Just("F16".to_string()),
        Just("BF16".to_string()),
        Just("F64".to_string()),
        Just("I64".to_string()),
        Just("BOOL".to_string()),
        "[A-Z0-9]{1,5}",
    ]
}

fn dim() -> impl Strategy<Value = u64> {
    prop_oneof![
        0u64..6,
        Just(u64::MAX),
        Just(1 << 32),
        Just(1 << 62),
        any::<u64>()
    ]
}

fn offset() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..64, Just(u64::MAX), any::<u64>()]
}

prop_compose! {
    fn entry()(name in "[a-z._]{1,6}", dtype in dtype(), shape in prop::collection::vec(dim(), 0..4),
               begin in offset(), end in offset()) -> String {
        let shape: Vec<String> = shape.iter().map(u64::to_string).collect();
        format!(r#""{name}":{{"dtype":"{dtype}","shape":[{}],"data_offsets":[{begin},{end}]}}"#,
            shape.join(","))
    }
}

prop_compose! {
    fn file()(entries in prop::collection::vec(entry(), 0..4), meta in any::<bool>(),
              garbage in prop::option::of("[ -~]{0,12}"), data in prop::collection::vec(any::<u8>(), 0..96),
              lie in prop_oneof![Just(None), Just(Some(u64::MAX)), (0u64..200).prop_map(Some)])
              -> Vec<u8> {
        let mut parts = entries;
        if meta {
            parts.push(r#""__metadata__":{"format":"pt"}"#.to_string());
        }
        let mut header = format!("{{{}}}", parts.join(","));
        if let Some(g) = garbage {
            header.insert_str(header.len() / 2, &g);
        }
        let len = lie.unwrap_or(header.len() as u64);
        let mut bytes = len.to_le_bytes().to_vec();
        bytes.extend(header.as_bytes());
        bytes.extend(data);
        bytes
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn hostile_headers_are_errors_or_tensors_that_read_within_their_shapes(bytes in file()) {
        if let Ok(file) = TensorFile::safetensors(&bytes) {
            for t in file.tensors() {
                let numel = t.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
                if let Ok(values) = file.read_f32(&t.name) {
                    prop_assert_eq!(Some(values.len()), numel);
                    prop_assert!(values.len() * t.dtype.size() <= bytes.len());
                }
            }
        }
    }

    #[test]
    fn random_bytes_after_a_plausible_length_are_errors_or_readable(
        len in 0u64..64, body in prop::collection::vec(any::<u8>(), 0..128)
    ) {
        let mut bytes = len.to_le_bytes().to_vec();
        bytes.extend(body);
        if let Ok(file) = TensorFile::safetensors(&bytes) {
            for t in file.tensors() {
                let _ = file.read_f32(&t.name);
            }
        }
    }
}

prop_compose! {
    /// A well-formed file of f32 tensors, then one header number replaced by a hostile one.
    fn mutated()(shapes in prop::collection::vec(prop::collection::vec(0u64..4, 0..3), 1..4),
                 which in any::<prop::sample::Index>(), hostile in dim())
                 -> (Vec<u8>, bool) {
        let mut entries = Vec::new();
        let mut at = 0u64;
        for (i, shape) in shapes.iter().enumerate() {
            let n: u64 = shape.iter().product::<u64>() * 4;
            let dims: Vec<String> = shape.iter().map(u64::to_string).collect();
            entries.push(format!(
                r#""t{i}":{{"dtype":"F32","shape":[{}],"data_offsets":[{at},{}]}}"#,
                dims.join(","), at + n));
            at += n;
        }
        let header = format!("{{{}}}", entries.join(","));
        // Replace the `which`-th number of the header by `hostile`.
        let numbers: Vec<(usize, usize)> = header
            .char_indices()
            .filter(|(i, c)| c.is_ascii_digit() && !header[..*i].ends_with(|p: char| p.is_ascii_alphanumeric()))
            .map(|(i, _)| (i, header[i..].find(|c: char| !c.is_ascii_digit()).unwrap() + i))
            .collect();
        let (mutated, header) = if numbers.is_empty() {
            (false, header)
        } else {
            let (a, b) = numbers[which.index(numbers.len())];
            (true, format!("{}{hostile}{}", &header[..a], &header[b..]))
        };
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend(header.as_bytes());
        bytes.extend((0..at).map(|i| i as u8));
        (bytes, mutated)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn one_hostile_number_in_a_valid_header_never_panics((bytes, mutated) in mutated()) {
        match TensorFile::safetensors(&bytes) {
            Ok(file) => {
                for t in file.tensors() {
                    let values = file.read_f32(&t.name).unwrap();
                    prop_assert_eq!(values.len(), t.shape.iter().product::<usize>());
                }
            }
            Err(e) => prop_assert!(mutated, "a valid file was refused: {}", e),
        }
    }
}
