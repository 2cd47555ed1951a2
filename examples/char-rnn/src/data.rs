//! Corpus loading, the character vocabulary, the train/validation/test split and the
//! contiguous streams of truncated BPTT.

use std::ops::Deref;
use std::path::Path;

use burn_seq2seq::CharVocab;

use crate::error::{input, Error};

/// The embedded default corpus: Cicero's *Liber Primus* (public domain), from the `lipsum`
/// crate, about 49 KB.
pub fn default_corpus() -> &'static str {
    lipsum::LIBER_PRIMUS
}

/// Reads a UTF-8 corpus, or the embedded one when `path` is `None`.
pub fn load_corpus(path: Option<&Path>) -> Result<String, Error> {
    let Some(path) = path else {
        return Ok(default_corpus().to_string());
    };
    let bytes = rnn_io::atomic::read_regular(path)
        .map_err(|e| input(format!("cannot read corpus {}: {e}", path.display())))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        input(format!(
            "corpus {} is not UTF-8 text (invalid byte at offset {})",
            path.display(),
            e.utf8_error().valid_up_to()
        ))
    })?;
    if text.is_empty() {
        return Err(input(format!("corpus {} is empty", path.display())));
    }
    Ok(text)
}

/// The characters a model knows, in sorted order; a character's index is its id. A
/// [`CharVocab`] (its methods come through `Deref`) with the run folder's `vocab.json` I/O.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vocab(CharVocab);

impl Deref for Vocab {
    type Target = CharVocab;

    fn deref(&self) -> &CharVocab {
        &self.0
    }
}

impl Vocab {
    /// The vocabulary of `text`: every distinct character, sorted.
    pub fn from_text(text: &str) -> Self {
        Self(CharVocab::from_text(text))
    }

    /// Writes the vocabulary as JSON, `{"chars": [...]}`.
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let json = serde_json::to_string(&self.0).expect("a vocabulary serializes");
        std::fs::write(path, json)
            .map_err(|e| Error::Run(format!("cannot write {}: {e}", path.display())))
    }

    /// Reads a vocabulary written by [`Vocab::save`].
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = rnn_io::atomic::read_regular_text(path)
            .map_err(|e| input(format!("cannot read vocabulary {}: {e}", path.display())))?;
        serde_json::from_str(&text)
            .map(Self)
            .map_err(|e| input(format!("{} is not a vocabulary: {e}", path.display())))
    }
}

/// The corpus as ids, split 90/5/5 into contiguous train, validation and test parts.
#[derive(Debug, Clone)]
pub struct Splits {
    /// The first 90%.
    pub train: Vec<usize>,
    /// The next 5%.
    pub val: Vec<usize>,
    /// The last 5%.
    pub test: Vec<usize>,
}

impl Splits {
    /// Splits `ids` 90/5/5.
    pub fn new(ids: Vec<usize>) -> Self {
        let n = ids.len();
        let (a, b) = (n * 90 / 100, n * 95 / 100);
        Self {
            train: ids[..a].to_vec(),
            val: ids[a..b].to_vec(),
            test: ids[b..].to_vec(),
        }
    }
}

/// `batch` contiguous streams over a text, read `seq_len` characters at a time: batch `k`'s
/// row `b` continues where batch `k-1`'s row `b` stopped, so a carried state stays valid.
#[derive(Debug, Clone)]
pub struct Streams {
    rows: Vec<Vec<usize>>,
    seq_len: usize,
    /// The offset of the next chunk within each row.
    pub position: usize,
}

impl Streams {
    /// Cuts `ids` into `batch` equal rows. Needs at least `batch * (seq_len + 1)` ids.
    pub fn new(ids: &[usize], batch: usize, seq_len: usize, what: &str) -> Result<Self, Error> {
        let need = batch * (seq_len + 1);
        if ids.len() < need {
            return Err(input(format!(
                "the {what} text is too short: {} characters, need at least batch * (seq_len + 1) \
                 = {batch} * {} = {need}",
                ids.len(),
                seq_len + 1
            )));
        }
        let row_len = ids.len() / batch;
        let rows = ids
            .chunks_exact(row_len)
            .take(batch)
            .map(<[usize]>::to_vec)
            .collect();
        Ok(Self {
            rows,
            seq_len,
            position: 0,
        })
    }

    /// Number of rows (the batch size).
    pub fn batch(&self) -> usize {
        self.rows.len()
    }

    /// Chunks per pass over the text.
    pub fn chunks_per_epoch(&self) -> usize {
        (self.rows[0].len() - 1) / self.seq_len
    }

    /// The next chunk, `(inputs, targets)` each `[batch * seq_len]` row-major with targets one
    /// character ahead; `None` at the end of the text (then call [`Streams::rewind`]).
    pub fn next_chunk(&mut self) -> Option<(Vec<i64>, Vec<i64>)> {
        let (p, l) = (self.position, self.seq_len);
        if p + l + 1 > self.rows[0].len() {
            return None;
        }
        let mut x = Vec::with_capacity(self.batch() * l);
        let mut y = Vec::with_capacity(self.batch() * l);
        for row in &self.rows {
            x.extend(row[p..p + l].iter().map(|&i| i as i64));
            y.extend(row[p + 1..p + l + 1].iter().map(|&i| i as i64));
        }
        self.position += l;
        Some((x, y))
    }

    /// Back to the start of the text.
    pub fn rewind(&mut self) {
        self.position = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_round_trips_through_json() {
        let dir = std::env::temp_dir().join(format!("char-rnn-vocab-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let v = Vocab::from_text("hello, wörld!\n");
        let path = dir.join("vocab.json");
        v.save(&path).unwrap();
        let back = Vocab::load(&path).unwrap();
        assert_eq!(back, v);
        let ids = back.encode("wörld").unwrap();
        assert_eq!(back.decode(&ids), "wörld");
        let json = rnn_io::atomic::read_regular_text(&path).unwrap();
        assert!(json.starts_with(r#"{"chars":["\n"," ","!","#), "{json}");
        assert_eq!(back.encode("hex?"), Err(vec!['x', '?']));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn streams_are_contiguous_rows_with_shifted_targets() {
        let ids: Vec<usize> = (0..22).collect();
        let mut s = Streams::new(&ids, 2, 3, "training").unwrap();
        assert_eq!(s.chunks_per_epoch(), 3);
        let (x, y) = s.next_chunk().unwrap();
        assert_eq!(x, vec![0, 1, 2, 11, 12, 13]);
        assert_eq!(y, vec![1, 2, 3, 12, 13, 14]);
        let (x, _) = s.next_chunk().unwrap();
        assert_eq!(x, vec![3, 4, 5, 14, 15, 16]);
        s.next_chunk().unwrap();
        assert!(s.next_chunk().is_none());
        s.rewind();
        assert_eq!(s.next_chunk().unwrap().0[0], 0);
        assert!(Streams::new(&ids, 4, 5, "training").is_err());
    }
}
