//! Whole conversions: a `burn::nn` layer (or a stack of them) to a burn-rnn layer and back,
//! with the checks that the cells chain and that the target can hold the layer.

use burn::nn::DropoutConfig;
use burn::tensor::backend::Backend;

use super::layers::{BurnBiLayer, BurnLayer};
use super::{Ctx, InteropError};
use crate::cell::Cell;
use crate::layer::Recurrent;

/// the cells above layer 0 take `D * H` features. `first_weight` names the source parameter
/// that carries `H_in`.
/// Checks that the cells of a stack chain: every cell has hidden size `H` (the first's), and
pub(super) fn check_chain<B: Backend, C: Cell<B>>(
    cells: &[C],
    dirs: usize,
    ctx: &Ctx,
    name_of: impl Fn(usize) -> String,
) -> Result<(), InteropError> {
    let h = cells[0].d_hidden();
    for (index, cell) in cells.iter().enumerate() {
        let d_input = if index < dirs {
            cells[0].d_input()
        } else {
            dirs * h
        };
        ctx.check_shape(
            &name_of(index),
            &[d_input, h],
            &[cell.d_input(), cell.d_hidden()],
        )?;
    }
    Ok(())
}

/// `from_burn` and `from_burn_stack`.
pub(super) fn from_uni<B: Backend, L: BurnLayer<B>>(
    layers: &[L],
    stack: bool,
) -> Result<Recurrent<B, L::Cell>, InteropError> {
    let from = if stack { L::STACK_NAME } else { L::NAME };
    let root = Ctx::new(from, L::OURS);
    if layers.is_empty() {
        return Err(InteropError::EmptyStack { from, to: L::OURS });
    }
    let at = |i: usize| root.layer(stack, i);
    let batch_first = layers[0].flags().0;
    let mut cells = Vec::with_capacity(layers.len());
    for (i, layer) in layers.iter().enumerate() {
        let ctx = at(i);
        let (layer_batch_first, reverse) = layer.flags();
        if reverse {
            return Err(ctx.unsupported(
                "reverse",
                true,
                "false: a layer that runs only backwards has no burn-rnn counterpart \
                 (a bidirectional layer runs both ways)",
            ));
        }
        if layer_batch_first != batch_first {
            return Err(ctx.unsupported(
                "batch_first",
                layer_batch_first,
                format!("{batch_first}, as layers[0]: a burn-rnn stack has one layout"),
            ));
        }
        cells.push(layer.to_cell(&ctx)?);
    }
    check_chain(&cells, 1, &root, |i| {
        format!("{}{}", at(i).prefix, L::FIRST_WEIGHT)
    })?;
    let num_layers = cells.len();
    Ok(Recurrent::from_cells(
        cells,
        DropoutConfig::new(0.0).init(),
        num_layers,
        false,
        batch_first,
    ))
}

/// `from_burn_bidirectional` and `from_burn_bidirectional_stack`.
pub(super) fn from_bi<B: Backend, L: BurnBiLayer<B>>(
    layers: &[L],
    stack: bool,
) -> Result<Recurrent<B, <L::Uni as BurnLayer<B>>::Cell>, InteropError> {
    let from = if stack { L::STACK_NAME } else { L::NAME };
    let to = <L::Uni as BurnLayer<B>>::OURS;
    let root = Ctx::new(from, to);
    if layers.is_empty() {
        return Err(InteropError::EmptyStack { from, to });
    }
    let at = |i: usize| root.layer(stack, i);
    let batch_first = layers[0].parts().3;
    let mut cells = Vec::with_capacity(2 * layers.len());
    for (i, layer) in layers.iter().enumerate() {
        let ctx = at(i);
        let (forward, reverse, d_hidden, layer_batch_first) = layer.parts();
        if layer_batch_first != batch_first {
            return Err(ctx.unsupported(
                "batch_first",
                layer_batch_first,
                format!("{batch_first}, as layers[0]: a burn-rnn stack has one layout"),
            ));
        }
        let (fwd_batch_first, fwd_reverse) = forward.flags();
        let inner = format!(
            "as {} builds it: Burn runs `forward.forward` on the batch-first input",
            L::NAME
        );
        if !fwd_batch_first {
            return Err(ctx.unsupported("forward.batch_first", false, format!("true, {inner}")));
        }
        if fwd_reverse {
            return Err(ctx.unsupported("forward.reverse", true, format!("false, {inner}")));
        }
        let fwd = forward.to_cell(&ctx.at("forward"))?;
        let rev = reverse.to_cell(&ctx.at("reverse"))?;
        ctx.check_shape("d_hidden", &[fwd.d_hidden()], &[d_hidden])?;
        cells.push(fwd);
        cells.push(rev);
    }
    check_chain(&cells, 2, &root, |index| {
        let dir = if index % 2 == 0 { "forward" } else { "reverse" };
        format!(
            "{}{dir}.{}",
            at(index / 2).prefix,
            <L::Uni as BurnLayer<B>>::FIRST_WEIGHT
        )
    })?;
    let num_layers = layers.len();
    Ok(Recurrent::from_cells(
        cells,
        DropoutConfig::new(0.0).init(),
        num_layers,
        true,
        batch_first,
    ))
}

/// Checks the layer count and directions of a conversion to `burn::nn`.
pub(super) fn check_target<B: Backend, C: Cell<B>>(
    layer: &Recurrent<B, C>,
    ctx: &Ctx,
    bidirectional: bool,
    stack: bool,
) -> Result<(), InteropError> {
    if layer.bidirectional != bidirectional {
        let expected = if bidirectional {
            format!(
                "true: {} runs both directions; use to_burn or to_burn_stack",
                ctx.to
            )
        } else {
            format!(
                "false: {} runs one direction; use to_burn_bidirectional or \
                 to_burn_bidirectional_stack",
                ctx.to
            )
        };
        return Err(ctx.unsupported("bidirectional", layer.bidirectional, expected));
    }
    let reg = layer.regularization();
    for (setting, rate) in [
        ("regularization.zoneout_hidden", reg.zoneout_hidden),
        ("regularization.zoneout_cell", reg.zoneout_cell),
    ] {
        if rate != 0.0 {
            return Err(ctx.unsupported(
                setting,
                rate,
                format!("0: {} has no zoneout, which changes inference too", ctx.to),
            ));
        }
    }
    if !stack && layer.num_layers != 1 {
        let method = if bidirectional {
            "to_burn_bidirectional_stack"
        } else {
            "to_burn_stack"
        };
        return Err(ctx.unsupported(
            "num_layers",
            layer.num_layers,
            format!(
                "1: {} is a single layer; use {method} for one per layer",
                ctx.to
            ),
        ));
    }
    Ok(())
}

/// `to_burn` and `to_burn_stack`.
pub(super) fn to_uni<B: Backend, L: BurnLayer<B>>(
    layer: &Recurrent<B, L::Cell>,
    stack: bool,
) -> Result<Vec<L>, InteropError> {
    let to = if stack { L::STACK_NAME } else { L::NAME };
    let ctx = Ctx::new(L::OURS, to);
    check_target(layer, &ctx, false, stack)?;
    layer
        .cells
        .iter()
        .map(|cell| L::from_cell(cell, layer.batch_first, &ctx))
        .collect()
}

/// `to_burn_bidirectional` and `to_burn_bidirectional_stack`.
pub(super) fn to_bi<B: Backend, L: BurnBiLayer<B>>(
    layer: &Recurrent<B, <L::Uni as BurnLayer<B>>::Cell>,
    stack: bool,
) -> Result<Vec<L>, InteropError> {
    let to = if stack { L::STACK_NAME } else { L::NAME };
    let ctx = Ctx::new(<L::Uni as BurnLayer<B>>::OURS, to);
    check_target(layer, &ctx, true, stack)?;
    layer
        .cells
        .chunks(2)
        .map(|pair| {
            // The inner layers are batch-first, as the BiXxxConfigs build them.
            let forward = L::Uni::from_cell(&pair[0], true, &ctx)?;
            let reverse = L::Uni::from_cell(&pair[1], true, &ctx)?;
            Ok(L::from_parts(
                forward,
                reverse,
                pair[0].d_hidden(),
                layer.batch_first,
            ))
        })
        .collect()
}

/// The one element of a vector that [`check_target`] made sure has one.
pub(super) fn single<T>(mut layers: Vec<T>) -> T {
    layers.pop().expect("checked: one layer")
}
