//! Token vocabularies with the four special symbols.

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

    /// A character vocabulary: every distinct character of `text`, sorted.
    pub fn from_chars(text: &str) -> Self {
        let mut chars: Vec<char> = text.chars().collect();
        chars.sort_unstable();
        chars.dedup();
        Self::new(chars.into_iter().map(String::from))
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
}
