//! Bad input panics with a message naming the expected and the actual shape.

mod common;

use burn::tensor::Tensor;
use burn_rnn::*;
use common::{device, B};

fn zeros<const D: usize>(shape: [usize; D]) -> Tensor<B, D> {
    Tensor::zeros(shape, &device())
}

#[test]
#[should_panic(
    expected = "LSTM: expected input of shape [batch, seq, input] with input = 4, \
                           got [2, 5, 3] (input feature size: expected 4, got 3)"
)]
fn layer_rejects_wrong_feature_size() {
    let lstm = LstmConfig::new(4, 3).init::<B>(&device());
    lstm.forward(zeros([2, 5, 3]), None);
}

#[test]
#[should_panic(expected = "GRU: expected input of shape [seq, batch, input] with input = 4")]
fn time_major_layer_rejects_wrong_feature_size() {
    let gru = GruConfig::new(4, 3)
        .with_batch_first(false)
        .init::<B>(&device());
    gru.forward(zeros([5, 2, 6]), None);
}

#[test]
#[should_panic(expected = "LSTMCell: expected input of shape [batch, 4], got [2, 7]")]
fn cell_rejects_wrong_feature_size() {
    let cell = LstmCellConfig::new(4, 3).init::<B>(&device());
    cell.forward(zeros([2, 7]), None);
}

#[test]
#[should_panic(expected = "GRUCell: expected hidden state of shape [2, 3], got [2, 4]")]
fn cell_rejects_state_of_wrong_size() {
    let cell = GruCellConfig::new(4, 3).init::<B>(&device());
    cell.forward(zeros([2, 4]), Some(GruState::new(zeros([2, 4]))));
}

#[test]
#[should_panic(expected = "RNNCell: expected hidden state of shape [2, 3], got [5, 3]")]
fn cell_rejects_state_with_other_batch() {
    let cell = RnnCellConfig::new(4, 3).init::<B>(&device());
    cell.forward(zeros([2, 4]), Some(RnnState::new(zeros([5, 3]))));
}

#[test]
#[should_panic(expected = "LSTMCell: expected cell state of shape [2, 3], got [2, 1]")]
fn lstm_cell_rejects_cell_state_of_wrong_size() {
    let cell = LstmCellConfig::new(4, 3).init::<B>(&device());
    cell.forward(
        zeros([2, 4]),
        Some(LstmState::from_hidden_and_cell(
            zeros([2, 3]),
            zeros([2, 1]),
        )),
    );
}

#[test]
#[should_panic(expected = "RNN: expected initial state of shape [2, 2, 3] \
                           [num_layers*D, batch, hidden], got [2, 4, 3]")]
fn layer_rejects_state_with_other_batch() {
    let rnn = RnnConfig::new(4, 3).with_num_layers(2).init::<B>(&device());
    rnn.forward(zeros([2, 5, 4]), Some(RnnState::new(zeros([2, 4, 3]))));
}

#[test]
#[should_panic(expected = "GRU: expected initial state of shape [4, 2, 3] \
                           [num_layers*D, batch, hidden], got [2, 2, 3]")]
fn bidirectional_layer_rejects_unidirectional_state() {
    let gru = GruConfig::new(4, 3)
        .with_num_layers(2)
        .with_bidirectional(true)
        .init::<B>(&device());
    gru.forward(zeros([2, 5, 4]), Some(GruState::new(zeros([2, 2, 3]))));
}

#[test]
#[should_panic(expected = "LSTM: expected initial cell state of shape [1, 2, 3], got [1, 2, 4]")]
fn layer_rejects_lstm_cell_state_of_wrong_width() {
    let lstm = LstmConfig::new(4, 3).init::<B>(&device());
    let state = LstmState::from_hidden_and_cell(zeros([1, 2, 3]), zeros([1, 2, 4]));
    lstm.forward(zeros([2, 5, 4]), Some(state));
}

#[test]
#[should_panic(
    expected = "LSTM state: hidden and cell must have the same [num_layers*D, batch] \
                           dimensions, got hidden [1, 2, 3] and cell [1, 3, 3]"
)]
fn layer_rejects_lstm_state_parts_of_different_batches() {
    let lstm = LstmConfig::new(4, 3).init::<B>(&device());
    let state = LstmState::from_hidden_and_cell(zeros([1, 2, 3]), zeros([1, 3, 3]));
    lstm.forward(zeros([2, 5, 4]), Some(state));
}

/// With a projection, `h` is `[layers*D, N, P]` and `c` `[layers*D, N, H]`: a state of the
/// unprojected shape is refused with both shapes named.
#[test]
fn projected_lstm_checks_each_state_part_against_its_own_width() {
    let lstm = LstmConfig::new(4, 5)
        .with_proj_size(2)
        .with_num_layers(2)
        .init::<B>(&device());
    let run = |h: [usize; 3], c: [usize; 3]| {
        let lstm = lstm.clone();
        let state = LstmState::from_hidden_and_cell(zeros(h), zeros(c));
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            lstm.forward(zeros([3, 4, 4]), Some(state))
        }))
        .err()
        .map(|e| e.downcast_ref::<String>().cloned().unwrap_or_default())
    };
    assert_eq!(run([2, 3, 2], [2, 3, 5]), None);
    assert_eq!(
        run([2, 3, 5], [2, 3, 5]).as_deref(),
        Some(
            "LSTM: expected initial state of shape [2, 3, 2] [num_layers*D, batch, proj_size], \
             got [2, 3, 5]"
        )
    );
    assert_eq!(
        run([2, 3, 2], [2, 3, 2]).as_deref(),
        Some("LSTM: expected initial cell state of shape [2, 3, 5], got [2, 3, 2]")
    );
    let cell = LstmCellConfig::new(4, 5)
        .with_proj_size(2)
        .init::<B>(&device());
    let step = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        cell.forward(
            zeros([3, 4]),
            Some(LstmState::from_hidden_and_cell(
                zeros([3, 5]),
                zeros([3, 5]),
            )),
        )
    }));
    let message = step.expect_err("a cell state of the unprojected shape is refused");
    assert_eq!(
        message.downcast_ref::<String>().map(String::as_str),
        Some("LSTMCell: expected hidden state of shape [3, 2], got [3, 5]")
    );
}

#[test]
#[should_panic(
    expected = "LSTM: expected every length in 1..=5 (the sequence length), \
                           got 6 for sequence 1"
)]
fn lengths_longer_than_the_sequence_are_rejected() {
    let lstm = LstmConfig::new(4, 3).init::<B>(&device());
    lstm.forward_with(RecurrentInput::new(zeros([2, 5, 4])).with_lengths(vec![5, 6]));
}

#[test]
#[should_panic(
    expected = "GRU: expected every length in 1..=5 (the sequence length), \
                           got 0 for sequence 0"
)]
fn zero_lengths_are_rejected() {
    let gru = GruConfig::new(4, 3).init::<B>(&device());
    gru.forward_with(RecurrentInput::new(zeros([2, 5, 4])).with_lengths(vec![0, 3]));
}

#[test]
#[should_panic(expected = "RNN: expected one length per sequence (2), got 3 lengths")]
fn one_length_per_sequence_is_required() {
    let rnn = RnnConfig::new(4, 3).init::<B>(&device());
    rnn.forward_with(RecurrentInput::new(zeros([2, 5, 4])).with_lengths(vec![5, 3, 1]));
}

#[test]
#[should_panic(expected = "LSTM: expected a non-empty input, got shape [2, 0, 4]")]
fn empty_sequences_are_rejected() {
    let lstm = LstmConfig::new(4, 3).init::<B>(&device());
    lstm.forward(zeros([2, 0, 4]), None);
}

#[test]
#[should_panic(expected = "LSTM: expected dropout in [0, 1), got 1.5")]
fn config_rejects_bad_dropout() {
    LstmConfig::new(4, 3).with_dropout(1.5).init::<B>(&device());
}

#[test]
#[should_panic(expected = "GRU: expected num_layers >= 1, got 0")]
fn config_rejects_zero_layers() {
    GruConfig::new(4, 3).with_num_layers(0).init::<B>(&device());
}

/// Every setting that cannot build a layer, for each config: `try_init` returns the typed error,
/// and `init` panics with its message.
#[test]
fn try_init_refuses_each_bad_setting_with_a_typed_error() {
    let dev = device();
    let zero = |module, setting| ConfigError::Zero { module, setting };
    let dropout = |module, value| ConfigError::Dropout { module, value };
    let lstm = |c: LstmConfig| c.try_init::<B>(&dev).map(|_| ());
    let gru = |c: GruConfig| c.try_init::<B>(&dev).map(|_| ());
    let rnn = |c: RnnConfig| c.try_init::<B>(&dev).map(|_| ());
    let any = |c: AnyRecurrentConfig| c.try_init::<B>(&dev).map(|_| ());
    let cases: Vec<(Result<(), ConfigError>, ConfigError)> = vec![
        (lstm(LstmConfig::new(0, 3)), zero("LSTM", "d_input")),
        (lstm(LstmConfig::new(2, 0)), zero("LSTM", "d_hidden")),
        (
            lstm(LstmConfig::new(2, 3).with_num_layers(0)),
            zero("LSTM", "num_layers"),
        ),
        (
            lstm(LstmConfig::new(2, 3).with_dropout(1.0)),
            dropout("LSTM", 1.0),
        ),
        (
            lstm(LstmConfig::new(2, 3).with_dropout(-0.1)),
            dropout("LSTM", -0.1),
        ),
        (gru(GruConfig::new(2, 0)), zero("GRU", "d_hidden")),
        (
            gru(GruConfig::new(2, 3).with_dropout(1.5)),
            dropout("GRU", 1.5),
        ),
        (rnn(RnnConfig::new(0, 3)), zero("RNN", "d_input")),
        (
            rnn(RnnConfig::new(2, 3).with_num_layers(0)),
            zero("RNN", "num_layers"),
        ),
        (
            any(AnyRecurrentConfig::new(CellKind::Gru, 2, 3).with_dropout(2.0)),
            dropout("GRU", 2.0),
        ),
        (
            any(AnyRecurrentConfig::new(CellKind::RnnRelu, 2, 0)),
            zero("RNN", "d_hidden"),
        ),
        (
            lstm(LstmConfig::new(2, 3).with_proj_size(3)),
            ConfigError::ProjSize {
                module: "LSTM",
                proj_size: 3,
                d_hidden: 3,
            },
        ),
        (
            any(AnyRecurrentConfig::new(CellKind::Lstm, 2, 3).with_proj_size(4)),
            ConfigError::ProjSize {
                module: "LSTM",
                proj_size: 4,
                d_hidden: 3,
            },
        ),
        (
            any(AnyRecurrentConfig::new(CellKind::Gru, 2, 3).with_proj_size(1)),
            ConfigError::Unsupported {
                module: "GRU",
                setting: "proj_size",
            },
        ),
        (
            any(AnyRecurrentConfig::new(CellKind::RnnTanh, 2, 3).with_peephole(true)),
            ConfigError::Unsupported {
                module: "RNN",
                setting: "peephole",
            },
        ),
    ];
    for (got, want) in cases {
        assert_eq!(got, Err(want));
    }
    let nan = LstmConfig::new(2, 3)
        .with_dropout(f64::NAN)
        .try_init::<B>(&dev);
    assert!(matches!(nan, Err(ConfigError::Dropout { .. })));
    assert_eq!(
        ConfigError::Zero {
            module: "LSTM",
            setting: "num_layers"
        }
        .to_string(),
        "LSTM: expected num_layers >= 1, got 0"
    );
    for kind in CellKind::ALL {
        let layer = AnyRecurrentConfig::new(kind, 2, 3)
            .try_init::<B>(&dev)
            .unwrap();
        assert_eq!(layer.cells()[0].kind(), kind);
    }
}

/// Regularizer rates outside `[0, 1)` and regularizers a cell cannot take are typed errors
/// naming the layer and the setting, from every config and from `with_regularization`.
#[test]
fn bad_regularizers_are_refused_with_a_typed_error() {
    let dev = device();
    let rate = |module, setting, value| ConfigError::Rate {
        module,
        setting,
        value,
    };
    let reg = Regularization::new;
    let cases: Vec<(Result<(), ConfigError>, ConfigError)> = vec![
        (
            LstmConfig::new(2, 3)
                .with_regularization(reg().with_zoneout_hidden(1.0))
                .try_init::<B>(&dev)
                .map(|_| ()),
            rate("LSTM", "zoneout_hidden", 1.0),
        ),
        (
            GruConfig::new(2, 3)
                .with_regularization(reg().with_weight_drop(-0.1))
                .try_init::<B>(&dev)
                .map(|_| ()),
            rate("GRU", "weight_drop", -0.1),
        ),
        (
            RnnConfig::new(2, 3)
                .with_regularization(reg().with_input_dropout(1.5))
                .try_init::<B>(&dev)
                .map(|_| ()),
            rate("RNN", "input_dropout", 1.5),
        ),
        (
            LayerNormLstmConfig::new(2, 3)
                .with_regularization(reg().with_output_dropout(1.0))
                .try_init::<B>(&dev)
                .map(|_| ()),
            rate("LayerNormLSTM", "output_dropout", 1.0),
        ),
        (
            MinGruConfig::new(2, 3)
                .with_regularization(reg().with_weight_drop(0.2))
                .try_init::<B>(&dev)
                .map(|_| ()),
            ConfigError::Regularizer {
                module: "minGRU",
                setting: "weight_drop",
                needs: "a recurrent weight W_hh",
            },
        ),
        (
            GruConfig::new(2, 3)
                .with_regularization(reg().with_zoneout_cell(0.2))
                .try_init::<B>(&dev)
                .map(|_| ()),
            ConfigError::Regularizer {
                module: "GRU",
                setting: "zoneout_cell",
                needs: "a cell state c (an LSTM's)",
            },
        ),
        (
            AnyRecurrentConfig::new(CellKind::RnnTanh, 2, 3)
                .with_regularization(reg().with_zoneout_cell(0.2))
                .try_init::<B>(&dev)
                .map(|_| ()),
            ConfigError::Regularizer {
                module: "RNN",
                setting: "zoneout_cell",
                needs: "a cell state c (an LSTM's)",
            },
        ),
        (
            MinLstmConfig::new(2, 3)
                .init::<B>(&dev)
                .with_regularization(reg().with_zoneout_cell(0.1))
                .map(|_| ()),
            ConfigError::Regularizer {
                module: "minLSTM",
                setting: "zoneout_cell",
                needs: "a cell state c (an LSTM's)",
            },
        ),
    ];
    for (got, want) in cases {
        assert_eq!(got, Err(want));
    }
    let nan = LstmConfig::new(2, 3)
        .with_regularization(reg().with_zoneout_cell(f64::NAN))
        .try_init::<B>(&dev);
    assert!(matches!(
        nan,
        Err(ConfigError::Rate {
            setting: "zoneout_cell",
            ..
        })
    ));
    let err = MinGruConfig::new(2, 3)
        .with_regularization(reg().with_weight_drop(0.2))
        .try_init::<B>(&dev)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "minGRU: weight_drop needs a recurrent weight W_hh, which this layer's cell has not \
         (set it to 0)"
    );
    // What each cell can take.
    let all = reg()
        .with_zoneout_hidden(0.1)
        .with_zoneout_cell(0.1)
        .with_weight_drop(0.1)
        .with_input_dropout(0.1)
        .with_output_dropout(0.1);
    let lstm = LstmConfig::new(2, 3).with_regularization(all.clone());
    assert_eq!(lstm.try_init::<B>(&dev).unwrap().regularization(), &all);
    let ln = LayerNormLstmConfig::new(2, 3).with_regularization(all);
    assert!(ln.try_init::<B>(&dev).is_ok());
    let min = reg().with_zoneout_hidden(0.1).with_input_dropout(0.1);
    assert!(MinLstmConfig::new(2, 3)
        .with_regularization(min)
        .try_init::<B>(&dev)
        .is_ok());
}

/// The cells' `try_init` refuses a zero size with the cell's PyTorch name, and `init` panics
/// with the same message.
#[test]
fn cell_try_init_refuses_zero_sizes() {
    let dev = device();
    let zero = |module, setting| Err(ConfigError::Zero { module, setting });
    let lstm = |i, h| LstmCellConfig::new(i, h).try_init::<B>(&dev).map(|_| ());
    let gru = |i, h| GruCellConfig::new(i, h).try_init::<B>(&dev).map(|_| ());
    let rnn = |i, h| RnnCellConfig::new(i, h).try_init::<B>(&dev).map(|_| ());
    assert_eq!(lstm(0, 3), zero("LSTMCell", "d_input"));
    assert_eq!(lstm(2, 0), zero("LSTMCell", "d_hidden"));
    assert_eq!(gru(0, 3), zero("GRUCell", "d_input"));
    assert_eq!(gru(2, 0), zero("GRUCell", "d_hidden"));
    assert_eq!(rnn(0, 0), zero("RNNCell", "d_input"));
    assert_eq!(rnn(2, 0), zero("RNNCell", "d_hidden"));
    assert_eq!(lstm(2, 3), Ok(()));
    let ln_lstm = |i, h| {
        LayerNormLstmCellConfig::new(i, h)
            .try_init::<B>(&dev)
            .map(|_| ())
    };
    assert_eq!(ln_lstm(0, 3), zero("LayerNormLSTMCell", "d_input"));
    assert_eq!(
        LayerNormGruConfig::new(2, 0)
            .try_init::<B>(&dev)
            .map(|_| ()),
        zero("LayerNormGRU", "d_hidden")
    );
    let min_gru = |i, h| MinGruCellConfig::new(i, h).try_init::<B>(&dev).map(|_| ());
    let min_lstm = |i, h| MinLstmCellConfig::new(i, h).try_init::<B>(&dev).map(|_| ());
    assert_eq!(min_gru(0, 3), zero("minGRUCell", "d_input"));
    assert_eq!(min_lstm(2, 0), zero("minLSTMCell", "d_hidden"));
    assert_eq!(
        MinGruConfig::new(2, 3)
            .with_num_layers(0)
            .try_init::<B>(&dev)
            .map(|_| ()),
        zero("minGRU", "num_layers")
    );
    assert_eq!(
        MinLstmConfig::new(2, 3)
            .with_dropout(1.0)
            .try_init::<B>(&dev)
            .map(|_| ()),
        Err(ConfigError::Dropout {
            module: "minLSTM",
            value: 1.0
        })
    );
    assert_eq!(
        LstmCellConfig::new(2, 3)
            .with_proj_size(5)
            .try_init::<B>(&dev)
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Err("LSTMCell: expected proj_size < d_hidden = 3 (or 0 for no projection), got 5".into())
    );
    let message = std::panic::catch_unwind(|| GruCellConfig::new(2, 0).init::<B>(&dev))
        .expect_err("init panics on a zero size");
    assert_eq!(
        message.downcast_ref::<String>().map(String::as_str),
        Some("GRUCell: expected d_hidden >= 1, got 0")
    );
}

#[test]
#[should_panic(expected = "GRU: expected dropout in [0, 1), got 1")]
fn init_panics_with_the_try_init_message() {
    GruConfig::new(2, 3).with_dropout(1.0).init::<B>(&device());
}
