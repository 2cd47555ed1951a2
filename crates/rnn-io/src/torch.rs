//! `torch.save` archives: the zip container ([`crate::zip`]), its `data.pkl` read as data
//! ([`crate::pickle`]), and the tensors of the `state_dict` it holds, by name.

use std::collections::HashMap;
use std::rc::Rc;

use crate::pickle::{Kind, TensorRef, Value, Vm, MAX_DEPTH};
use crate::{Dtype, Error, TensorInfo};

/// The tensors of an archive: name, description, and the storage records by key.
pub(crate) struct Archive<'a> {
    pub tensors: Vec<(String, TensorRef)>,
    pub storages: HashMap<String, &'a [u8]>,
}

/// Most dictionary entries the walk visits (a guard against shared-reference blowups); no more
/// than the pickle has bytes either.
const MAX_ENTRIES: usize = 1 << 20;

pub(crate) fn parse(bytes: &[u8]) -> Result<Archive<'_>, Error> {
    if bytes.starts_with(&[0x80, 0x02, 0x8a, 0x0a]) {
        return Err(Error::new(
            None,
            "a legacy (pre-1.6) torch.save file; load it in PyTorch and save it again",
        ));
    }
    if !bytes.starts_with(b"PK") {
        return Err(Error::new(
            None,
            "not a torch.save archive (no zip signature)",
        ));
    }
    let entries = crate::zip::entries(bytes)?;
    let pickles: Vec<_> = entries
        .iter()
        .filter(|e| e.name == "data.pkl" || e.name.ends_with("/data.pkl"))
        .collect();
    let pkl = match pickles.as_slice() {
        [one] => *one,
        [] => return Err(Error::new(None, "no data.pkl in the archive")),
        _ => return Err(Error::new(None, "more than one data.pkl in the archive")),
    };
    let root_dir = &pkl.name[..pkl.name.len() - "data.pkl".len()];
    let mut storages = HashMap::new();
    for e in &entries {
        if let Some(rest) = e.name.strip_prefix(root_dir) {
            if let Some(key) = rest.strip_prefix("data/") {
                if storages.insert(key.to_string(), e.data).is_some() {
                    return Err(Error::new(
                        None,
                        format!("storage record `{}` appears twice", e.name),
                    ));
                }
            } else if rest == "byteorder" && e.data != b"little" {
                return Err(Error::new(
                    None,
                    format!(
                        "byte order `{}`: only little-endian archives are read",
                        String::from_utf8_lossy(e.data)
                    ),
                ));
            }
        }
    }
    let mut vm = Vm::new(pkl.data);
    let root = vm.run()?;
    let mut tensors = Vec::new();
    collect(&root, &mut tensors, pkl.data.len())?;
    drop(root);
    drop(vm);
    let mut seen = HashMap::new();
    for (name, _) in &tensors {
        if seen.insert(name.clone(), ()).is_some() {
            return Err(Error::new(
                Some(name.clone()),
                "two entries of the state_dict have this name (nested dictionaries flatten to \
                 dotted names)",
            ));
        }
    }
    Ok(Archive { tensors, storages })
}

/// The tensors of a state_dict: the root dictionary's tensor values by key, and those of
/// nested dictionaries as `outer.inner`. Other values (ints, strings, `_metadata`, objects)
/// are skipped.
fn collect(root: &Value, out: &mut Vec<(String, TensorRef)>, size: usize) -> Result<(), Error> {
    let max_entries = MAX_ENTRIES.min(size);
    // Names are built from shared keys: their total is bounded by the input's size too.
    let max_name_bytes = 2 * size + (1 << 16);
    let mut name_bytes = 0usize;
    let Some(dict) = as_dict(root) else {
        return Err(Error::new(
            None,
            "the pickle holds no dictionary of tensors (a state_dict); torch.save(model) \
             files are not read, save model.state_dict()",
        ));
    };
    let mut work: Vec<(String, Rc<crate::pickle::Seq>, usize)> = vec![(String::new(), dict, 0)];
    let mut visited = 0usize;
    while let Some((prefix, dict, depth)) = work.pop() {
        let items = dict.items.borrow();
        let mut nested = Vec::new();
        for kv in items.chunks_exact(2) {
            visited += 1;
            if visited > max_entries {
                return Err(Error::new(
                    None,
                    format!(
                        "the state_dict has more entries than {max_entries} (its pickle's size, \
                         or the most read)"
                    ),
                ));
            }
            let key = match &kv[0] {
                Value::Str(s) => s.to_string(),
                Value::Int(i) => i.to_string(),
                _ => continue,
            };
            let name = format!("{prefix}{key}");
            name_bytes += name.len();
            if name_bytes > max_name_bytes {
                return Err(Error::new(
                    None,
                    "the state_dict's names are longer in all than twice its pickle",
                ));
            }
            match &kv[1] {
                Value::Tensor(t) => out.push((name, (**t).clone())),
                v => {
                    if let Some(d) = as_dict(v) {
                        if depth + 1 >= MAX_DEPTH {
                            return Err(Error::new(
                                Some(name),
                                format!("dictionaries nested more than {MAX_DEPTH} levels"),
                            ));
                        }
                        nested.push((format!("{name}."), d, depth + 1));
                    }
                }
            }
        }
        // Visit nested dictionaries in file order.
        work.extend(nested.into_iter().rev());
    }
    Ok(())
}

fn as_dict(v: &Value) -> Option<Rc<crate::pickle::Seq>> {
    match v {
        Value::Seq(s) if s.kind == Kind::Dict => Some(Rc::clone(s)),
        _ => None,
    }
}

impl TensorRef {
    pub(crate) fn info(&self, name: &str) -> Result<TensorInfo, Error> {
        let shape = self
            .shape
            .iter()
            .map(|&d| usize::try_from(d))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| Error::new(Some(name.into()), "a size beyond this machine's range"))?;
        Ok(TensorInfo {
            name: name.to_string(),
            shape,
            dtype: self.storage.dtype,
        })
    }

    /// The tensor's values in row-major order, converted to f32, read through its strides
    /// from `storage` (the record's bytes). Every index is checked against the storage.
    pub(crate) fn read_f32(&self, name: &str, storage: Option<&[u8]>) -> Result<Vec<f32>, Error> {
        let fail = |m: String| Error::new(Some(name.to_string()), m);
        let dtype = self.storage.dtype;
        if !dtype.is_float() {
            return Err(fail(format!("dtype {dtype:?} is not a float type")));
        }
        let bytes = storage.ok_or_else(|| {
            fail(format!(
                "its storage record `data/{}` is missing from the archive",
                self.storage.key
            ))
        })?;
        let need = self
            .storage
            .numel
            .checked_mul(dtype.size() as u64)
            .ok_or_else(|| fail("storage size overflows".into()))?;
        if (bytes.len() as u64) < need {
            return Err(fail(format!(
                "its storage record `data/{}` holds {} bytes; {} elements of {dtype:?} need {need}",
                self.storage.key,
                bytes.len(),
                self.storage.numel
            )));
        }
        let numel = self
            .shape
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d))
            .ok_or_else(|| fail("the element count overflows".into()))?;
        if numel == 0 {
            return Ok(Vec::new());
        }
        // The furthest element read: offset + sum((size - 1) * stride), all non-negative.
        let mut last = self.offset;
        for (&d, &s) in self.shape.iter().zip(&self.stride) {
            let s = u64::try_from(s).map_err(|_| fail(format!("a negative stride {s}")))?;
            last = (d - 1)
                .checked_mul(s)
                .and_then(|x| x.checked_add(last))
                .ok_or_else(|| fail("the strides overflow".into()))?;
        }
        if last >= self.storage.numel {
            return Err(fail(format!(
                "the view (offset {}, sizes {:?}, strides {:?}) reads element {last} of a \
                 storage of {}",
                self.offset, self.shape, self.stride, self.storage.numel
            )));
        }
        let numel = usize::try_from(numel).map_err(|_| fail("too many elements".into()))?;
        let mut out = Vec::with_capacity(numel);
        let dims = self.shape.len();
        let mut index = vec![0u64; dims];
        let mut at = self.offset;
        let size = dtype.size();
        for _ in 0..numel {
            let p = at as usize * size;
            out.push(decode(dtype, &bytes[p..p + size]));
            // Advance the row-major index, keeping `at` the element's storage position.
            for d in (0..dims).rev() {
                index[d] += 1;
                at += self.stride[d] as u64;
                if index[d] < self.shape[d] {
                    break;
                }
                at -= self.stride[d] as u64 * self.shape[d];
                index[d] = 0;
            }
        }
        Ok(out)
    }
}

fn decode(dtype: Dtype, b: &[u8]) -> f32 {
    match dtype {
        Dtype::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        Dtype::F64 => f64::from_le_bytes(b.try_into().expect("8 bytes")) as f32,
        Dtype::F16 => half::f16::from_le_bytes([b[0], b[1]]).to_f32(),
        Dtype::BF16 => half::bf16::from_le_bytes([b[0], b[1]]).to_f32(),
        _ => unreachable!("checked float"),
    }
}
