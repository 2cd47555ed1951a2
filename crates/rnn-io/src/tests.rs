//! Hostile and edge-case `torch.save` archives, assembled by hand.

use crate::zip::tests::build;
use crate::{Dtype, TensorFile};

/// A tiny pickle assembler.
#[derive(Default)]
struct P(Vec<u8>);

impl P {
    fn op(mut self, b: &[u8]) -> Self {
        self.0.extend_from_slice(b);
        self
    }
    fn s(self, text: &str) -> Self {
        let mut b = vec![0x8c, text.len() as u8];
        b.extend(text.as_bytes());
        self.op(&b)
    }
    fn int(self, v: u32) -> Self {
        let mut b = vec![b'J'];
        b.extend(v.to_le_bytes());
        self.op(&b)
    }
    fn long(self, v: u64) -> Self {
        let mut b = vec![0x8a, 8];
        b.extend(v.to_le_bytes());
        self.op(&b)
    }
    fn global(self, module: &str, name: &str) -> Self {
        self.op(format!("c{module}\n{name}\n").as_bytes())
    }
    fn tuple(self, items: impl FnOnce(Self) -> Self) -> Self {
        items(self.op(b"(")).op(b"t")
    }
    /// `_rebuild_tensor_v2(storage(key, numel), offset, shape, stride, False, OrderedDict())`.
    fn tensor(
        self,
        key: &str,
        storage: &str,
        numel: u64,
        offset: u64,
        shape: &[u64],
        stride: &[u64],
    ) -> Self {
        let p = self.global("torch._utils", "_rebuild_tensor_v2").op(b"(");
        let p = p
            .tuple(|p| {
                p.s("storage")
                    .global("torch", storage)
                    .s(key)
                    .s("cpu")
                    .long(numel)
            })
            .op(b"Q")
            .long(offset);
        let p = p.tuple(|mut p| {
            for &d in shape {
                p = p.long(d);
            }
            p
        });
        let p = p.tuple(|mut p| {
            for &d in stride {
                p = p.long(d);
            }
            p
        });
        p.op(&[0x89])
            .global("collections", "OrderedDict")
            .op(b")R")
            .op(b"tR")
    }
}

fn archive(pickle: &[u8], storages: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut files: Vec<(String, Vec<u8>)> = vec![("a/data.pkl".into(), pickle.to_vec())];
    for (k, v) in storages {
        files.push((format!("a/data/{k}"), v.clone()));
    }
    files.push(("a/byteorder".into(), b"little".to_vec()));
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    build(&refs, false)
}

fn f32s(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Writes one value into a pickle.
type Write = Box<dyn FnOnce(P) -> P>;

/// A state_dict (`OrderedDict`) of `entries` as a protocol-2 pickle.
fn dict_of(entries: Vec<(&str, Write)>) -> Vec<u8> {
    let mut p = P::default()
        .op(&[0x80, 2])
        .global("collections", "OrderedDict")
        .op(b")R(");
    for (k, v) in entries {
        p = v(p.s(k));
    }
    p.op(b"u.").0
}

#[test]
fn strided_views_read_as_torch_gives_them() {
    // storage 0..12 as f32
    let storage = f32s(&(0..12).map(|i| i as f32).collect::<Vec<_>>());
    let pkl = dict_of(vec![
        // a [3, 4] matrix transposed: shape [4, 3], strides [1, 4]
        (
            "t",
            Box::new(|p: P| p.tensor("0", "FloatStorage", 12, 0, &[4, 3], &[1, 4])),
        ),
        // element 5 expanded to [2, 3] (strides 0)
        (
            "e",
            Box::new(|p: P| p.tensor("0", "FloatStorage", 12, 5, &[2, 3], &[0, 0])),
        ),
        // a slice with an offset, shared storage: [2] from 10
        (
            "o",
            Box::new(|p: P| p.tensor("0", "FloatStorage", 12, 10, &[2], &[1])),
        ),
    ]);
    let z = archive(&pkl, &[("0", storage)]);
    let f = TensorFile::torch(&z).unwrap();
    assert_eq!(f.get("t").unwrap().shape, [4, 3]);
    assert_eq!(f.get("t").unwrap().dtype, Dtype::F32);
    assert_eq!(
        f.read_f32("t").unwrap(),
        [0., 4., 8., 1., 5., 9., 2., 6., 10., 3., 7., 11.]
    );
    assert_eq!(f.read_f32("e").unwrap(), [5.0; 6]);
    assert_eq!(f.read_f32("o").unwrap(), [10., 11.]);
}

#[test]
fn views_past_their_storage_and_missing_or_short_records_are_errors_naming_the_key() {
    let storage = f32s(&[1.0; 4]);
    type Storages<'a> = Vec<(&'a str, Vec<u8>)>;
    let cases: Vec<(&str, Vec<u8>, Storages, &str)> = vec![
        (
            "past the end",
            dict_of(vec![(
                "w",
                Box::new(|p: P| p.tensor("0", "FloatStorage", 4, 2, &[3], &[1])),
            )]),
            vec![("0", storage.clone())],
            "reads element 4 of a storage of 4",
        ),
        (
            "missing record",
            dict_of(vec![(
                "w",
                Box::new(|p: P| p.tensor("9", "FloatStorage", 4, 0, &[4], &[1])),
            )]),
            vec![("0", storage.clone())],
            "is missing from the archive",
        ),
        (
            "short record",
            dict_of(vec![(
                "w",
                Box::new(|p: P| p.tensor("0", "FloatStorage", 8, 0, &[8], &[1])),
            )]),
            vec![("0", storage.clone())],
            "holds 16 bytes",
        ),
        (
            "256 GiB shape",
            dict_of(vec![(
                "w",
                Box::new(|p: P| p.tensor("0", "FloatStorage", 4, 0, &[1 << 36], &[1])),
            )]),
            vec![("0", storage.clone())],
            "reads element",
        ),
        (
            "overflowing sizes",
            dict_of(vec![(
                "w",
                Box::new(|p: P| p.tensor("0", "FloatStorage", 4, 0, &[1 << 40, 1 << 40], &[1, 1])),
            )]),
            vec![("0", storage.clone())],
            "overflows",
        ),
        (
            "overflowing strides",
            dict_of(vec![(
                "w",
                Box::new(|p: P| p.tensor("0", "FloatStorage", 4, 0, &[5], &[1 << 62])),
            )]),
            vec![("0", storage.clone())],
            "overflow",
        ),
        (
            "int tensor",
            dict_of(vec![(
                "w",
                Box::new(|p: P| p.tensor("0", "LongStorage", 2, 0, &[2], &[1])),
            )]),
            vec![("0", storage.clone())],
            "not a float type",
        ),
    ];
    for (what, pkl, storages, expected) in cases {
        let z = archive(&pkl, &storages);
        let f = TensorFile::torch(&z).unwrap_or_else(|e| panic!("{what}: {e}"));
        let e = f.read_f32("w").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("w"), "{what}");
        assert!(e.message.contains(expected), "{what}: {e}");
    }
}

#[test]
fn other_values_beside_the_tensors_are_skipped() {
    let storage = f32s(&[1.0, 2.0]);
    let pkl = dict_of(vec![
        (
            "w",
            Box::new(|p: P| p.tensor("0", "FloatStorage", 2, 0, &[2], &[1])),
        ),
        (
            "steps",
            Box::new(|p: P| p.tensor("1", "LongStorage", 1, 0, &[], &[])),
        ),
        ("n", Box::new(|p: P| p.int(7))),
        ("name", Box::new(|p: P| p.s("bn"))),
        (
            "obj",
            Box::new(|p: P| p.global("mymodule", "Thing").op(b")R").op(b"}b")),
        ),
        (
            "nested",
            Box::new(|p: P| {
                p.op(b"}(")
                    .s("w")
                    .tensor("0", "FloatStorage", 2, 1, &[1], &[1])
                    .op(b"u")
            }),
        ),
    ]);
    let z = archive(&pkl, &[("0", storage), ("1", vec![0; 8])]);
    let f = TensorFile::torch(&z).unwrap();
    let names: Vec<&str> = f.tensors().iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["w", "steps", "nested.w"]);
    assert_eq!(f.get("steps").unwrap().dtype, Dtype::I64);
    assert_eq!(f.read_f32("nested.w").unwrap(), [2.0]);
}

#[test]
fn two_keys_that_flatten_to_one_name_are_an_error() {
    let pkl = dict_of(vec![
        (
            "a.w",
            Box::new(|p: P| p.tensor("0", "FloatStorage", 1, 0, &[1], &[1])),
        ),
        (
            "a",
            Box::new(|p: P| {
                p.op(b"}(")
                    .s("w")
                    .tensor("0", "FloatStorage", 1, 0, &[1], &[1])
                    .op(b"u")
            }),
        ),
    ]);
    let z = archive(&pkl, &[("0", f32s(&[1.0]))]);
    let e = TensorFile::torch(&z).err().unwrap();
    assert_eq!(e.key.as_deref(), Some("a.w"), "{e}");
}

#[test]
fn a_memo_bomb_costs_one_pointer_per_reference() {
    // l0 = []; l1 = [l0] * 64; l2 = [l1] * 64; ... 40 levels: 64^40 logical elements.
    let mut p = P::default().op(&[0x80, 2]).op(b"]").op(b"q\x000");
    for _ in 0..40 {
        p = p.op(b"(");
        for _ in 0..64 {
            p = p.op(b"h\x00");
        }
        p = p.op(b"lq\x000");
    }
    let pkl = p.op(b"}(").s("bomb").op(b"h\x00u.").0;
    let z = archive(&pkl, &[]);
    let f = TensorFile::torch(&z).unwrap();
    assert!(f.tensors().is_empty());
}

#[test]
fn nesting_a_million_levels_deep_does_not_overflow_the_stack() {
    // [[[[...]]]] a million deep, built with EMPTY_LIST + APPEND, inside the state_dict.
    let n = 1_000_000;
    let mut p = P::default().op(&[0x80, 2]).op(b"}(").s("deep");
    p.0.extend(std::iter::repeat_n(b']', n));
    p.0.extend(std::iter::repeat_n(b'a', n - 1));
    let pkl = p.op(b"u.").0;
    let z = archive(&pkl, &[]);
    assert!(TensorFile::torch(&z).unwrap().tensors().is_empty());
    // Dictionaries nested deeper than the walk follows are an error.
    let mut p = P::default().op(&[0x80, 2]);
    for _ in 0..100 {
        p = p.op(b"}(").s("d");
    }
    p = p.op(b"}");
    for _ in 0..100 {
        p = p.op(b"u");
    }
    let z = archive(&p.op(b".").0, &[]);
    let e = TensorFile::torch(&z).err().unwrap();
    assert!(e.message.contains("nested more than"), "{e}");
}

#[test]
fn a_self_referencing_list_is_dropped_without_looping() {
    let pkl = P::default()
        .op(&[0x80, 2])
        .op(b"]q\x00h\x00a0}(")
        .s("cycle")
        .op(b"h\x00u.")
        .0;
    let z = archive(&pkl, &[]);
    assert!(TensorFile::torch(&z).unwrap().tensors().is_empty());
}

#[test]
fn malformed_pickles_are_errors() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("no stop", vec![0x80, 2, b'}']),
        ("stack underflow", vec![0x80, 2, b's', b'.']),
        ("unknown opcode", vec![0x80, 2, 0xff]),
        ("protocol 9", vec![0x80, 9, b'}', b'.']),
        ("unset memo", vec![0x80, 2, b'h', 5, b'.']),
        (
            "huge string length",
            vec![0x80, 2, b'X', 0xff, 0xff, 0xff, 0x7f],
        ),
        (
            "huge bytes8 length",
            [vec![0x80, 4, 0x8e], vec![0xff; 8]].concat(),
        ),
        ("not a dict", vec![0x80, 2, b']', b'.']),
        ("mark left", vec![0x80, 2, b'(', b'}', b'.']),
        ("bad persistent id", vec![0x80, 2, b'K', 1, b'Q', b'.']),
        (
            "setitem on list",
            vec![0x80, 2, b']', b'K', 1, b'K', 2, b's', b'.'],
        ),
    ];
    for (what, pkl) in cases {
        let z = archive(&pkl, &[]);
        assert!(TensorFile::torch(&z).is_err(), "{what}");
    }
}

#[test]
fn every_truncation_and_many_byte_flips_of_an_archive_give_ok_or_err() {
    let storage = f32s(&(0..12).map(|i| i as f32).collect::<Vec<_>>());
    let pkl = dict_of(vec![
        (
            "t",
            Box::new(|p: P| p.tensor("0", "FloatStorage", 12, 0, &[4, 3], &[1, 4])),
        ),
        (
            "e",
            Box::new(|p: P| p.tensor("0", "FloatStorage", 12, 5, &[2, 3], &[0, 0])),
        ),
    ]);
    let z = archive(&pkl, &[("0", storage)]);
    // (archives indexed, tensors read, tensors refused, archives refused)
    let mut counts = [0usize; 4];
    let mut read_all = |b: &[u8]| match TensorFile::torch(b) {
        Ok(f) => {
            counts[0] += 1;
            for t in f.tensors() {
                let numel = t.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
                if numel.is_some_and(|n| n < 1 << 20) {
                    match f.read_f32(&t.name) {
                        Ok(v) => {
                            assert_eq!(Some(v.len()), numel);
                            counts[1] += 1;
                        }
                        Err(_) => counts[2] += 1,
                    }
                }
            }
        }
        Err(_) => counts[3] += 1,
    };
    for n in 0..z.len() {
        read_all(&z[..n]);
    }
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..20_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let mut m = z.clone();
        let at = (state as usize) % m.len();
        m[at] = (state >> 32) as u8;
        read_all(&m);
    }
    eprintln!(
        "{} truncations and 20000 byte flips of a {}-byte archive: {} indexed ({} tensors \
         read, {} refused), {} refused",
        z.len(),
        z.len(),
        counts[0],
        counts[1],
        counts[2],
        counts[3]
    );
}

#[test]
fn shared_references_cannot_make_the_index_larger_than_the_input() {
    // One 10 KB key, memoized, reused by 1000 entries: 10 MB of names from a 14 KB pickle.
    let key = "k".repeat(10_000);
    let mut b = vec![0x80, 2, b'}', b'(', b'X'];
    b.extend((key.len() as u32).to_le_bytes());
    b.extend(key.as_bytes());
    b.extend([b'q', 1]);
    let mut p = P(b)
        .tensor("0", "FloatStorage", 1, 0, &[1], &[1])
        .op(b"q\x02");
    for _ in 0..1000 {
        p = p.op(b"h\x01h\x02");
    }
    let z = archive(&p.op(b"u.").0, &[("0", f32s(&[1.0]))]);
    let e = TensorFile::torch(&z).err().unwrap();
    assert!(e.message.contains("names are longer"), "{e}");

    // One memoized list of 1000 pairs turned into 1000 dictionaries.
    let mut p = P::default().op(&[0x80, 2]).op(b"(");
    for i in 0..1000 {
        p = p.tuple(|p| p.int(i).int(i));
    }
    p = p.op(b"lq\x01").op(b"}(");
    for i in 0..1000 {
        p = p
            .int(i)
            .global("collections", "OrderedDict")
            .op(b"(h\x01tR");
    }
    let z = archive(&p.op(b"u.").0, &[]);
    let e = TensorFile::torch(&z).err().unwrap();
    assert!(e.message.contains("copied past the input's size"), "{e}");
}
