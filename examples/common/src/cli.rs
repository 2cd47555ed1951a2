//! Command-line parsers for the library's types.

use burn_rnn::CellKind;
use clap::builder::{PossibleValuesParser, TypedValueParser};

/// The parser of a `--cell` flag: `rnn`, `rnn_relu`, `lstm` or `gru` (listed in `--help`), as a
/// [`CellKind`]. Use it as `#[arg(long, value_parser = cell_kind_parser())]`.
pub fn cell_kind_parser() -> impl TypedValueParser<Value = CellKind> {
    PossibleValuesParser::new(CellKind::ALL.map(CellKind::as_str))
        .map(|name| name.parse::<CellKind>().expect("one of the listed names"))
}

/// The values a flattened argument struct `A` takes when no flag is given: its defaults, as
/// the command line has them (what `TrainArgs::defaults` of the examples builds on).
pub fn default_args<A: clap::Args>() -> A {
    use clap::Parser;
    #[derive(clap::Parser)]
    struct P<A: clap::Args> {
        #[command(flatten)]
        a: A,
    }
    P::<A>::parse_from(["defaults"]).a
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
        assert_eq!(
            Args::parse_from(["x", "--cell", "rnn"]).cell,
            CellKind::RnnTanh
        );
        let err = Args::try_parse_from(["x", "--cell", "transformer"]).unwrap_err();
        assert!(
            err.to_string()
                .contains("possible values: rnn, rnn_relu, lstm, gru"),
            "{err}"
        );
    }
}
