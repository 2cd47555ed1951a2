//! What the reader builds from pickled values: integers, storage records, tensors (by the
//! rebuild functions' names), dictionaries and opaque objects.

use std::rc::Rc;

use super::{err, Kind, StorageRef, TensorRef, Value, Vm};
use crate::{Dtype, Error};

/// A `LONG1`/`LONG4` little-endian two's-complement integer.
pub(super) fn long(bytes: &[u8]) -> Value {
    if bytes.len() > 8 {
        return Value::BigInt;
    }
    let mut v: i64 = 0;
    for (i, &b) in bytes.iter().enumerate() {
        v |= i64::from(b) << (8 * i);
    }
    if let Some(&last) = bytes.last() {
        if last & 0x80 != 0 && bytes.len() < 8 {
            v -= 1i64 << (8 * bytes.len());
        }
    }
    Value::Int(v)
}

/// The items of a tuple or list, if it has at most `max` (a copy: only for small ones).
fn items_of(v: &Value, max: usize) -> Option<Vec<Value>> {
    match v {
        Value::Seq(s) if matches!(s.kind, Kind::Tuple | Kind::List) => {
            let items = s.items.borrow();
            (items.len() <= max).then(|| items.clone())
        }
        _ => None,
    }
}

/// The most dimensions a tensor may have.
const MAX_DIMS: usize = 32;

fn int_of(v: &Value, what: &str) -> Result<i64, Error> {
    match v {
        Value::Int(i) => Ok(*i),
        other => Err(err(format!(
            "{what} is {}, expected an int",
            other.describe()
        ))),
    }
}

/// The storage of a persistent id `('storage', torch.XStorage, key, location, numel)`.
pub(super) fn storage_ref(pid: &Value) -> Result<StorageRef, Error> {
    let items = items_of(pid, 5).ok_or_else(|| err("a persistent id that is not a 5-tuple"))?;
    let bad = || err("a persistent id that is not ('storage', type, key, location, size)");
    if items.len() != 5 {
        return Err(bad());
    }
    match &items[0] {
        Value::Str(s) if &**s == "storage" => {}
        _ => return Err(bad()),
    }
    let dtype = match &items[1] {
        Value::Global(g) => storage_dtype(&g.1),
        _ => return Err(bad()),
    };
    let key = match &items[2] {
        Value::Str(s) => s.to_string(),
        _ => return Err(bad()),
    };
    let numel = int_of(&items[4], "a storage size")?;
    let numel = u64::try_from(numel).map_err(|_| err(format!("storage size {numel}")))?;
    Ok(StorageRef { key, dtype, numel })
}

impl Vm<'_> {
    pub(super) fn object(&mut self, cls: &Value, args: Vec<Value>) -> Value {
        let name = match cls {
            Value::Global(g) => format!("{}.{}", g.0, g.1),
            other => other.describe().to_string(),
        };
        self.seq(Kind::Object(name), args)
    }

    /// `REDUCE`: the tensor rebuild functions and `OrderedDict` are recognized by name; any other
    /// callable gives an opaque object holding its arguments.
    pub(super) fn reduce(&mut self, callable: Value, args: Value) -> Result<Value, Error> {
        let Value::Global(g) = &callable else {
            return Ok(self.object(&callable, vec![args]));
        };
        match (g.0.as_str(), g.1.as_str()) {
            ("torch._utils", "_rebuild_tensor_v2") | ("torch._utils", "_rebuild_tensor") => {
                rebuild_tensor(&args)
            }
            ("torch._utils", "_rebuild_parameter")
            | ("torch._utils", "_rebuild_parameter_with_state") => {
                let a = items_of(&args, 8).ok_or_else(|| err("parameter arguments"))?;
                match a.first() {
                    Some(t @ Value::Tensor(_)) => Ok(t.clone()),
                    _ => Ok(self.object(&callable, vec![args])),
                }
            }
            ("collections", "OrderedDict") | ("builtins", "dict") => self.ordered_dict(&args),
            _ => Ok(self.object(&callable, vec![args])),
        }
    }

    /// `OrderedDict(pairs)`: a dictionary of the pairs (an empty one without arguments).
    fn ordered_dict(&mut self, args: &Value) -> Result<Value, Error> {
        let a = items_of(args, 2).unwrap_or_default();
        let pairs = match a.first() {
            Some(Value::Seq(s)) if matches!(s.kind, Kind::Tuple | Kind::List) => {
                let pairs = s.items.borrow();
                // Each REDUCE copies its pairs: a budget keeps a pickle that builds many
                // dictionaries from one memoized list linear in its size.
                self.copied += 2 * pairs.len();
                if self.copied > 2 * self.input.len() + (1 << 16) {
                    return Err(err("OrderedDict arguments copied past the input's size"));
                }
                pairs.clone()
            }
            _ => Vec::new(),
        };
        let mut items = Vec::new();
        for p in pairs {
            match items_of(&p, 2) {
                Some(kv) if kv.len() == 2 => items.extend(kv),
                _ => return Err(err("OrderedDict items that are not pairs")),
            }
        }
        Ok(self.seq(Kind::Dict, items))
    }
}

/// `_rebuild_tensor_v2(storage, offset, size, stride, ...)`: a view of a storage record, its
/// offset, sizes and strides checked to be integers of the right signs.
fn rebuild_tensor(args: &Value) -> Result<Value, Error> {
    let a = items_of(args, 8).ok_or_else(|| err("tensor arguments that are not a short tuple"))?;
    if a.len() < 4 {
        return Err(err("_rebuild_tensor_v2 with fewer than 4 arguments"));
    }
    let Value::Storage(storage) = &a[0] else {
        return Err(err(format!(
            "a tensor whose storage is {}, expected a storage record",
            a[0].describe()
        )));
    };
    let offset = int_of(&a[1], "a storage offset")?;
    let offset = u64::try_from(offset).map_err(|_| err(format!("storage offset {offset}")))?;
    let dims = |v: &Value, what: &str| -> Result<Vec<i64>, Error> {
        items_of(v, MAX_DIMS)
            .ok_or_else(|| {
                err(format!(
                    "a tensor {what} that is not a tuple of at most {MAX_DIMS}"
                ))
            })?
            .iter()
            .map(|d| int_of(d, what))
            .collect()
    };
    let shape = dims(&a[2], "size")?;
    let stride = dims(&a[3], "stride")?;
    if shape.len() != stride.len() {
        return Err(err(format!(
            "a tensor with {} sizes and {} strides",
            shape.len(),
            stride.len()
        )));
    }
    let shape = shape
        .iter()
        .map(|&d| u64::try_from(d).map_err(|_| err(format!("a tensor size of {d}"))))
        .collect::<Result<_, _>>()?;
    Ok(Value::Tensor(Rc::new(TensorRef {
        storage: (**storage).clone(),
        offset,
        shape,
        stride,
    })))
}

/// The element type of a legacy storage class (`torch.FloatStorage`, ...).
fn storage_dtype(name: &str) -> Dtype {
    match name {
        "DoubleStorage" => Dtype::F64,
        "FloatStorage" => Dtype::F32,
        "HalfStorage" => Dtype::F16,
        "BFloat16Storage" => Dtype::BF16,
        "LongStorage" => Dtype::I64,
        "IntStorage" => Dtype::I32,
        "ShortStorage" => Dtype::I16,
        "CharStorage" => Dtype::I8,
        "ByteStorage" => Dtype::U8,
        "BoolStorage" => Dtype::Bool,
        _ => Dtype::Other,
    }
}
