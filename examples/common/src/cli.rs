//! Command-line parsers for the library's types.

use burn_rnn::CellKind;
use clap::builder::{PossibleValuesParser, TypedValueParser};

/// The parser of a `--cell` flag: `rnn`, `lstm` or `gru` (listed in `--help`), as a
/// [`CellKind`]. Use it as `#[arg(long, value_parser = cell_kind_parser())]`.
pub fn cell_kind_parser() -> impl TypedValueParser<Value = CellKind> {
    PossibleValuesParser::new(CellKind::ALL.map(CellKind::as_str))
        .map(|name| name.parse::<CellKind>().expect("one of the listed names"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Args {
        #[arg(long, value_parser = cell_kind_parser(), default_value = "lstm")]
        cell: CellKind,
    }

    #[test]
    fn cell_names_parse_and_others_are_refused() {
        assert_eq!(Args::parse_from(["x"]).cell, CellKind::Lstm);
        assert_eq!(Args::parse_from(["x", "--cell", "gru"]).cell, CellKind::Gru);
        assert_eq!(Args::parse_from(["x", "--cell", "rnn"]).cell, CellKind::Rnn);
        let err = Args::try_parse_from(["x", "--cell", "transformer"]).unwrap_err();
        assert!(
            err.to_string().contains("possible values: rnn, lstm, gru"),
            "{err}"
        );
    }
}
