//! Token vocabularies with the four special symbols, and plain character vocabularies.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// Padding symbol, id [`Vocab::PAD`].
pub const PAD: &str = "<pad>";
/// Begin-of-sequence symbol, id [`Vocab::BOS`].
pub const BOS: &str = "<s>";
/// End-of-sequence symbol, id [`Vocab::EOS`].
pub const EOS: &str = "</s>";
/// Unknown-token symbol, id [`Vocab::UNK`].
pub const UNK: &str = "<unk>";

/// A vocabulary: ids 0-3 are `<pad>`, `<s>`, `</s>`, `<unk>` (the ids
/// [`Seq2SeqConfig`](super::Seq2SeqConfig)'s defaults use), then the tokens in the order given.
/// Serialized as its token list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "Vec<String>", into = "Vec<String>")]
pub struct Vocab {
    tokens: Vec<String>,
    index: HashMap<String, usize>,
}

/// Token ids, and the tokens that were not in the vocabulary (mapped to `<unk>`).
#[derive(Clone, Debug, PartialEq)]
pub struct Encoded {
    /// One id per token.
    pub ids: Vec<usize>,
    /// The unknown tokens, in order of appearance, each once.
    pub unknown: Vec<String>,
}

impl Vocab {
    /// Id of `<pad>`.
    pub const PAD: usize = 0;
    /// Id of `<s>`.
    pub const BOS: usize = 1;
    /// Id of `</s>`.
    pub const EOS: usize = 2;
    /// Id of `<unk>`.
    pub const UNK: usize = 3;

    /// The specials, then `tokens` (duplicates and specials among them dropped).
    pub fn new<S: Into<String>>(tokens: impl IntoIterator<Item = S>) -> Self {
        let all = [PAD, BOS, EOS, UNK]
            .into_iter()
            .map(String::from)
            .chain(tokens.into_iter().map(Into::into));
        let mut vocab = Self {
            tokens: Vec::new(),
            index: HashMap::new(),
        };
        for token in all {
            if !vocab.index.contains_key(&token) {
                vocab.index.insert(token.clone(), vocab.tokens.len());
                vocab.tokens.push(token);
            }
        }
        vocab
    }

    /// A character vocabulary: the specials, then every distinct character of `text`, sorted
    /// (the characters of [`CharVocab::from_text`], their ids shifted by 4).
    pub fn from_chars(text: &str) -> Self {
        Self::new(
            CharVocab::from_text(text)
                .chars()
                .iter()
                .map(|&c| String::from(c)),
        )
    }

    /// Number of ids, specials included.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Always false: the specials are always there.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The id of `token`, if known.
    pub fn id(&self, token: &str) -> Option<usize> {
        self.index.get(token).copied()
    }

    /// The token of `id`, if in range.
    pub fn token(&self, id: usize) -> Option<&str> {
        self.tokens.get(id).map(String::as_str)
    }

    /// Ids of `tokens`; unknown ones become `<unk>` and are listed.
    pub fn encode<S: AsRef<str>>(&self, tokens: impl IntoIterator<Item = S>) -> Encoded {
        let mut unknown: Vec<String> = Vec::new();
        let ids = tokens
            .into_iter()
            .map(|t| {
                let t = t.as_ref();
                self.id(t).unwrap_or_else(|| {
                    if !unknown.iter().any(|u| u == t) {
                        unknown.push(t.to_string());
                    }
                    Self::UNK
                })
            })
            .collect();
        Encoded { ids, unknown }
    }

    /// Ids of the characters of `text` (see [`Vocab::encode`]).
    pub fn encode_chars(&self, text: &str) -> Encoded {
        self.encode(text.chars().map(String::from))
    }

    /// The tokens of `ids` joined by `separator`, specials other than `<unk>` left out.
    pub fn decode(&self, ids: &[usize], separator: &str) -> String {
        ids.iter()
            .filter(|&&id| !matches!(id, Self::PAD | Self::BOS | Self::EOS))
            .map(|&id| self.token(id).unwrap_or(UNK))
            .collect::<Vec<_>>()
            .join(separator)
    }

    /// The tokens, specials first.
    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }
}

impl From<Vec<String>> for Vocab {
    /// Rebuilds a vocabulary from its token list (specials first, as [`Vocab::tokens`] gives).
    fn from(tokens: Vec<String>) -> Self {
        Self::new(tokens)
    }
}

impl From<Vocab> for Vec<String> {
    fn from(vocab: Vocab) -> Self {
        vocab.tokens
    }
}

/// A character vocabulary without special symbols: a character's index is its id. Used where
/// every id is a character (character language models).
///
/// Serialized as `{"chars": ["a", "b", ...]}`; reading one with a repeated character fails.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "CharList", into = "CharList")]
pub struct CharVocab {
    chars: Vec<char>,
    index: HashMap<char, usize>,
}

/// The serialized form of a [`CharVocab`].
#[derive(Serialize, Deserialize)]
struct CharList {
    chars: Vec<char>,
}

impl CharVocab {
    /// The vocabulary of `text`: every distinct character, sorted (by code point).
    pub fn from_text(text: &str) -> Self {
        let mut chars: Vec<char> = text.chars().collect();
        chars.sort_unstable();
        chars.dedup();
        Self::try_from_chars(chars).expect("sorted and deduplicated")
    }

    /// The vocabulary of `chars` in the order given (id `i` is `chars[i]`), or the first
    /// character that comes twice.
    pub fn try_from_chars(chars: Vec<char>) -> Result<Self, char> {
        let mut index = HashMap::with_capacity(chars.len());
        for (i, &c) in chars.iter().enumerate() {
            if index.insert(c, i).is_some() {
                return Err(c);
            }
        }
        Ok(Self { chars, index })
    }

    /// Number of characters `V`.
    pub fn len(&self) -> usize {
        self.chars.len()
    }

    /// Whether there is no character.
    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// The characters, in id order.
    pub fn chars(&self) -> &[char] {
        &self.chars
    }

    /// The id of `c`, if known.
    pub fn id(&self, c: char) -> Option<usize> {
        self.index.get(&c).copied()
    }

    /// The character of `id`, if in range.
    pub fn char(&self, id: usize) -> Option<char> {
        self.chars.get(id).copied()
    }

    /// The ids of the characters of `text`, or the characters the vocabulary lacks (each once,
    /// in order of appearance).
    pub fn encode(&self, text: &str) -> Result<Vec<usize>, Vec<char>> {
        let mut unknown: Vec<char> = Vec::new();
        let ids = text
            .chars()
            .filter_map(|c| {
                let id = self.id(c);
                if id.is_none() && !unknown.contains(&c) {
                    unknown.push(c);
                }
                id
            })
            .collect();
        if unknown.is_empty() {
            Ok(ids)
        } else {
            Err(unknown)
        }
    }

    /// The text of `ids`.
    ///
    /// # Panics
    /// If an id is out of range.
    pub fn decode(&self, ids: &[usize]) -> String {
        ids.iter()
            .map(|&id| {
                self.char(id).unwrap_or_else(|| {
                    panic!(
                        "char vocabulary: expected ids below {}, got {id}",
                        self.len()
                    )
                })
            })
            .collect()
    }
}

impl TryFrom<CharList> for CharVocab {
    type Error = String;

    fn try_from(list: CharList) -> Result<Self, String> {
        Self::try_from_chars(list.chars)
            .map_err(|c| format!("character {c:?} appears twice in the vocabulary"))
    }
}

impl From<CharVocab> for CharList {
    fn from(vocab: CharVocab) -> Self {
        Self { chars: vocab.chars }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specials_come_first_and_unknowns_are_reported() {
        let vocab = Vocab::from_chars("abca");
        assert_eq!(vocab.len(), 4 + 3);
        assert_eq!(vocab.id("a"), Some(4));
        let encoded = vocab.encode_chars("abzxz");
        assert_eq!(encoded.ids, vec![4, 5, Vocab::UNK, Vocab::UNK, Vocab::UNK]);
        assert_eq!(encoded.unknown, vec!["z".to_string(), "x".to_string()]);
        assert_eq!(vocab.decode(&[1, 4, 3, 6, 2, 0], ""), "a<unk>c");
        let json = serde_json::to_string(&vocab).unwrap();
        let back: Vocab = serde_json::from_str(&json).unwrap();
        assert_eq!(back, vocab);
    }

    #[test]
    fn char_vocabularies_encode_decode_and_keep_their_json_format() {
        let vocab = CharVocab::from_text("hello, wörld!\n");
        assert_eq!(
            vocab.chars(),
            &['\n', ' ', '!', ',', 'd', 'e', 'h', 'l', 'o', 'r', 'w', 'ö']
        );
        let ids = vocab.encode("wörld").unwrap();
        assert_eq!(vocab.decode(&ids), "wörld");
        assert_eq!(vocab.encode("hex?"), Err(vec!['x', '?']));
        assert_eq!(
            (vocab.id('h'), vocab.char(6), vocab.char(99)),
            (Some(6), Some('h'), None)
        );
        let json = serde_json::to_string(&vocab).unwrap();
        assert!(json.starts_with(r#"{"chars":["\n"," ","!""#), "{json}");
        let back: CharVocab = serde_json::from_str(&json).unwrap();
        assert_eq!(back, vocab);
        let err = serde_json::from_str::<CharVocab>(r#"{"chars":["a","b","a"]}"#).unwrap_err();
        assert!(err.to_string().contains("'a' appears twice"), "{err}");
        assert_eq!(
            Vocab::from_chars("hello").tokens()[4..],
            ["e", "h", "l", "o"]
        );
    }
}
