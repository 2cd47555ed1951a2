//! `RnnBackend` for Burn's other backends, behind their features: the plain-ops default
//! bodies (correct everywhere; no fused kernels yet). The orphan rule keeps users from writing
//! these impls themselves, so the crate ships them.
//!
//! | feature | backend |
//! | --- | --- |
//! | `candle` | `Candle<F, I>` (deprecated by Burn 0.21 in favour of `flex` and CubeCL) |
//! | `flex` | `Flex` |

use super::RnnBackend;

// Candle is deprecated upstream, but its users still need the impl to run our layers.
#[cfg(feature = "candle")]
#[allow(deprecated)]
impl<F: burn_candle::FloatCandleElement, I: burn_candle::IntCandleElement> RnnBackend
    for burn_candle::Candle<F, I>
{
}

#[cfg(feature = "flex")]
impl RnnBackend for burn_flex::Flex {}
