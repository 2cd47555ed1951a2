//! A pickle reader for the subset `torch.save` writes (protocols 2 to 5), run as data: opcodes
//! build values, and a `GLOBAL` is only a name. Nothing is imported or called; the rebuild
//! functions of tensors are recognized by name and turned into tensor descriptions.
//!
//! Bounds, so that no input can exhaust memory or the stack:
//! - each opcode creates at most one value, and a string or bytes value is a copy of input
//!   bytes, so memory is linear in the input's size;
//! - a memo reference (`BINGET`) shares its value (`Rc`), never copies it: a "pickle bomb" of
//!   repeated references costs one pointer each;
//! - the reader is a loop over an explicit stack (no recursion), and values are taken apart
//!   iteratively when the reader is dropped ([`Vm`]'s `Drop`), however deeply they nest;
//! - the walk that finds the tensors (in [`crate::torch`]) visits at most [`MAX_DEPTH`] levels.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use crate::{Dtype, Error};

mod rebuild;

use rebuild::{long, storage_ref};

/// How deep [`crate::torch`] follows nested dictionaries.
pub(crate) const MAX_DEPTH: usize = 64;

/// A storage record the pickle refers to (`BINPERSID ('storage', type, key, location, n)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StorageRef {
    pub key: String,
    pub dtype: Dtype,
    pub numel: u64,
}

/// A tensor as `torch._utils._rebuild_tensor_v2` describes it: a strided view of a storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TensorRef {
    pub storage: StorageRef,
    pub offset: u64,
    pub shape: Vec<u64>,
    pub stride: Vec<i64>,
}

/// What kind of container a [`Seq`] is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    Tuple,
    List,
    /// A `dict` or `collections.OrderedDict`: items are key, value, key, value, ...
    Dict,
    Set,
    /// Anything else built by `REDUCE`/`NEWOBJ`/`BUILD`: kept as data, never interpreted.
    Object(String),
}

/// A container value. Items live in a `RefCell` because pickles fill containers after
/// memoizing them (`EMPTY_DICT, BINPUT, MARK, ..., SETITEMS`).
#[derive(Debug)]
pub(crate) struct Seq {
    pub kind: Kind,
    pub items: RefCell<Vec<Value>>,
}

/// A pickled value.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    None,
    /// A bool (its value is not needed).
    Bool,
    Int(i64),
    /// An integer beyond 64 bits (its value is not needed).
    BigInt,
    /// A float (its value is not needed).
    Float,
    Str(Rc<str>),
    /// Bytes (their value is not needed: they are not copied).
    Bytes,
    /// A `module.name` reference: a name, never resolved.
    Global(Rc<(String, String)>),
    Seq(Rc<Seq>),
    Storage(Rc<StorageRef>),
    Tensor(Rc<TensorRef>),
    /// The `MARK` opcode's position on the stack.
    Mark,
}

impl Value {
    fn describe(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool => "a bool",
            Value::Int(_) | Value::BigInt => "an int",
            Value::Float => "a float",
            Value::Str(_) => "a str",
            Value::Bytes => "bytes",
            Value::Global(_) => "a global name",
            Value::Seq(_) => "a container",
            Value::Storage(_) => "a storage",
            Value::Tensor(_) => "a tensor",
            Value::Mark => "a mark",
        }
    }
}

/// The reader's machine: stack, mark positions and memo.
pub(crate) struct Vm<'a> {
    input: &'a [u8],
    pos: usize,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: HashMap<u32, Value>,
    /// Every container made, so that [`Drop`] can empty them all without recursion.
    made: Vec<Rc<Seq>>,
    /// Values copied out of shared containers (bounded by the input's size).
    copied: usize,
}

fn err(message: impl Into<String>) -> Error {
    Error::new(None, format!("pickle: {}", message.into()))
}

impl<'a> Vm<'a> {
    pub(crate) fn new(input: &'a [u8]) -> Self {
        Self {
            input,
            pos: 0,
            stack: Vec::new(),
            marks: Vec::new(),
            memo: HashMap::new(),
            made: Vec::new(),
            copied: 0,
        }
    }

    fn seq(&mut self, kind: Kind, items: Vec<Value>) -> Value {
        let s = Rc::new(Seq {
            kind,
            items: RefCell::new(items),
        });
        self.made.push(Rc::clone(&s));
        Value::Seq(s)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.input.len())
            .ok_or_else(|| {
                err(format!(
                    "truncated: {n} bytes needed at offset {}",
                    self.pos
                ))
            })?;
        let s = &self.input[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?[0])
    }

    fn le(&mut self, n: usize) -> Result<u64, Error> {
        let s = self.take(n)?;
        Ok(s.iter()
            .rev()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    fn len(&mut self, n: usize) -> Result<usize, Error> {
        let v = self.le(n)?;
        usize::try_from(v)
            .ok()
            .filter(|&l| l <= self.input.len() - self.pos)
            .ok_or_else(|| {
                err(format!(
                    "a length of {v} at offset {} runs past the end of the pickle",
                    self.pos
                ))
            })
    }

    fn line(&mut self) -> Result<&'a str, Error> {
        let rest = &self.input[self.pos..];
        let n = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| err("unterminated line"))?;
        let s = std::str::from_utf8(&rest[..n]).map_err(|_| err("a line is not UTF-8"))?;
        self.pos += n + 1;
        Ok(s)
    }

    fn pop(&mut self) -> Result<Value, Error> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(err(format!("stack underflow at offset {}", self.pos)));
        }
        Ok(self.stack.pop().expect("checked"))
    }

    fn top(&self) -> Result<&Value, Error> {
        self.stack
            .last()
            .ok_or_else(|| err(format!("empty stack at offset {}", self.pos)))
    }

    fn pop_mark(&mut self) -> Result<Vec<Value>, Error> {
        let mark = self
            .marks
            .pop()
            .ok_or_else(|| err(format!("no MARK before offset {}", self.pos)))?;
        // The value under the mark was `Mark` itself.
        let items = self.stack.split_off(mark);
        self.stack.pop();
        Ok(items)
    }

    fn push(&mut self, v: Value) {
        self.stack.push(v);
    }

    fn memo_put(&mut self, key: u32) -> Result<(), Error> {
        let v = self.top()?.clone();
        if matches!(v, Value::Mark) {
            return Err(err("memoizing a mark"));
        }
        self.memo.insert(key, v);
        Ok(())
    }

    fn memo_get(&mut self, key: u32) -> Result<(), Error> {
        let v = self
            .memo
            .get(&key)
            .cloned()
            .ok_or_else(|| err(format!("memo key {key} was never stored")))?;
        self.push(v);
        Ok(())
    }

    /// Runs the pickle to its `STOP` and returns the value it leaves.
    pub(crate) fn run(&mut self) -> Result<Value, Error> {
        loop {
            let at = self.pos;
            let op = self.byte()?;
            if op == b'.' {
                let v = self.pop()?;
                if !self.stack.is_empty() || !self.marks.is_empty() {
                    return Err(err("values left on the stack at STOP"));
                }
                return Ok(v);
            }
            let known = self.header_op(op)?
                || self.literal_op(op)?
                || self.container_op(op)?
                || self.memo_or_stack_op(op)?
                || self.object_op(op)?;
            if !known {
                return Err(err(format!(
                    "opcode 0x{op:02x} at offset {at} is not one torch.save writes"
                )));
            }
        }
    }

    /// The protocol and frame opcodes, which carry no value. Returns whether `op` was one of them.
    fn header_op(&mut self, op: u8) -> Result<bool, Error> {
        match op {
            0x80 => {
                let proto = self.byte()?;
                if !(2..=5).contains(&proto) {
                    return Err(err(format!("protocol {proto} (2 to 5 are read)")));
                }
            }
            0x95 => {
                self.take(8)?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Literals: None, booleans, integers, floats, strings and bytes. Returns whether `op` was one of them.
    fn literal_op(&mut self, op: u8) -> Result<bool, Error> {
        match op {
            b'N' => self.push(Value::None),
            0x88 => self.push(Value::Bool),
            0x89 => self.push(Value::Bool),
            b'J' => {
                let v = self.le(4)? as u32 as i32;
                self.push(Value::Int(i64::from(v)));
            }
            b'K' => {
                let v = self.le(1)?;
                self.push(Value::Int(v as i64));
            }
            b'M' => {
                let v = self.le(2)?;
                self.push(Value::Int(v as i64));
            }
            0x8a | 0x8b => {
                let n = if op == 0x8a {
                    self.len(1)?
                } else {
                    self.len(4)?
                };
                let bytes = self.take(n)?;
                self.push(long(bytes));
            }
            b'G' => {
                let s = self.take(8)?;
                let _ = s;
                self.push(Value::Float);
            }
            b'X' | 0x8c | 0x8d => {
                let n = match op {
                    0x8c => self.len(1)?,
                    b'X' => self.len(4)?,
                    _ => self.len(8)?,
                };
                let s = self.take(n)?;
                let s = std::str::from_utf8(s).map_err(|_| err("a str is not UTF-8"))?;
                self.push(Value::Str(s.into()));
            }
            b'T' | b'U' | b'B' | b'C' | 0x8e | 0x96 => {
                let n = match op {
                    b'U' | b'C' => self.len(1)?,
                    b'T' | b'B' => self.len(4)?,
                    _ => self.len(8)?,
                };
                self.take(n)?;
                self.push(Value::Bytes);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Tuples, lists, dicts and sets: built empty, from a mark or from the stack, and filled. Returns whether `op` was one of them.
    fn container_op(&mut self, op: u8) -> Result<bool, Error> {
        let (kind, items) = match op {
            b')' => (Kind::Tuple, Vec::new()),
            b']' => (Kind::List, Vec::new()),
            b'}' => (Kind::Dict, Vec::new()),
            0x8f => (Kind::Set, Vec::new()),
            b't' => (Kind::Tuple, self.pop_mark()?),
            0x91 => (Kind::Set, self.pop_mark()?),
            b'l' => (Kind::List, self.pop_mark()?),
            b'd' => (Kind::Dict, self.pop_mark()?),
            0x85..=0x87 => {
                let n = usize::from(op - 0x84);
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.pop()?);
                }
                items.reverse();
                (Kind::Tuple, items)
            }
            _ => return self.fill_op(op),
        };
        if matches!(kind, Kind::Dict) && items.len() % 2 != 0 {
            return Err(err("DICT with an odd number of items"));
        }
        let v = self.seq(kind, items);
        self.push(v);
        Ok(true)
    }

    /// Items added to the container under them: `APPEND(S)`, `ADDITEMS`, `SETITEM(S)`. Returns
    /// whether `op` was one of them.
    fn fill_op(&mut self, op: u8) -> Result<bool, Error> {
        match op {
            b'a' => {
                let v = self.pop()?;
                self.append(vec![v])?;
            }
            b'e' | 0x90 => {
                let items = self.pop_mark()?;
                self.append(items)?;
            }
            b's' => {
                let v = self.pop()?;
                let k = self.pop()?;
                self.set_items(vec![k, v])?;
            }
            b'u' => {
                let items = self.pop_mark()?;
                if items.len() % 2 != 0 {
                    return Err(err("SETITEMS with an odd number of items"));
                }
                self.set_items(items)?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Marks, the memo, and the stack's own opcodes (pop, dup). Returns whether `op` was one of them.
    fn memo_or_stack_op(&mut self, op: u8) -> Result<bool, Error> {
        match op {
            b'(' => {
                self.marks.push(self.stack.len() + 1);
                self.push(Value::Mark);
            }
            b'q' => {
                let k = self.le(1)? as u32;
                self.memo_put(k)?;
            }
            b'r' => {
                let k = self.le(4)? as u32;
                self.memo_put(k)?;
            }
            0x94 => {
                let k = u32::try_from(self.memo.len()).map_err(|_| err("memo full"))?;
                self.memo_put(k)?;
            }
            b'h' => {
                let k = self.le(1)? as u32;
                self.memo_get(k)?;
            }
            b'j' => {
                let k = self.le(4)? as u32;
                self.memo_get(k)?;
            }
            b'0' => {
                if matches!(self.pop()?, Value::Mark) {
                    return Err(err("POP of a mark"));
                }
            }
            b'1' => {
                self.pop_mark()?;
            }
            b'2' => {
                let v = self.top()?.clone();
                self.push(v);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Globals, persistent ids (storages), calls, objects and their state. Returns whether `op` was one of them.
    fn object_op(&mut self, op: u8) -> Result<bool, Error> {
        match op {
            b'c' => {
                let module = self.line()?.to_string();
                let name = self.line()?.to_string();
                self.push(Value::Global(Rc::new((module, name))));
            }
            0x93 => {
                let name = self.pop()?;
                let module = self.pop()?;
                match (module, name) {
                    (Value::Str(m), Value::Str(n)) => {
                        self.push(Value::Global(Rc::new((m.to_string(), n.to_string()))))
                    }
                    _ => return Err(err("STACK_GLOBAL of non-strings")),
                }
            }
            b'Q' => {
                let pid = self.pop()?;
                let storage = storage_ref(&pid)?;
                self.push(Value::Storage(Rc::new(storage)));
            }
            b'R' => {
                let args = self.pop()?;
                let callable = self.pop()?;
                let v = self.reduce(callable, args)?;
                self.push(v);
            }
            0x81 => {
                let args = self.pop()?;
                let cls = self.pop()?;
                let v = self.object(&cls, vec![args]);
                self.push(v);
            }
            0x92 => {
                let kwargs = self.pop()?;
                let args = self.pop()?;
                let cls = self.pop()?;
                let v = self.object(&cls, vec![args, kwargs]);
                self.push(v);
            }
            b'b' => {
                // BUILD: the state of an object (e.g. a state_dict's `_metadata`), kept as
                // data among the object's items; dictionaries and tensors ignore it.
                let state = self.pop()?;
                match self.top()? {
                    Value::Seq(s) if matches!(s.kind, Kind::Object(_)) => {
                        s.items.borrow_mut().push(state)
                    }
                    Value::Seq(_) | Value::Tensor(_) => {}
                    other => return Err(err(format!("BUILD on {}", other.describe()))),
                }
            }

            _ => return Ok(false),
        }
        Ok(true)
    }

    fn target(&self) -> Result<Rc<Seq>, Error> {
        match self.top()? {
            Value::Seq(s) => Ok(Rc::clone(s)),
            other => Err(err(format!(
                "adding items to {} at offset {}",
                other.describe(),
                self.pos
            ))),
        }
    }

    fn append(&mut self, items: Vec<Value>) -> Result<(), Error> {
        let seq = self.target()?;
        match seq.kind {
            Kind::List | Kind::Set | Kind::Object(_) => {
                seq.items.borrow_mut().extend(items);
                Ok(())
            }
            _ => Err(err("APPEND to a tuple or dict")),
        }
    }

    fn set_items(&mut self, items: Vec<Value>) -> Result<(), Error> {
        let seq = self.target()?;
        match seq.kind {
            Kind::Dict | Kind::Object(_) => {
                seq.items.borrow_mut().extend(items);
                Ok(())
            }
            _ => Err(err("SETITEM on a value that is not a dict")),
        }
    }
}

impl Drop for Vm<'_> {
    /// Empties every container the reader made before any is dropped: each one is still held
    /// by `made` while the items are dropped, so no drop recurses, however deeply values nest
    /// (or if they form a cycle). Values taken out of the reader must not outlive it.
    fn drop(&mut self) {
        for s in &self.made {
            let items = std::mem::take(&mut *s.items.borrow_mut());
            drop(items);
        }
    }
}
