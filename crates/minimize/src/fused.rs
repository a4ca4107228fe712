//! Fused steps: a first-order method's update run by the objective's own native code, in one
//! loop with the evaluation of the loss and the gradient.
//!
//! An optimizer step on a small model without data (Rosenbrock, a textbook function) costs a
//! few dozen nanoseconds, and then the way the loop is driven — a call through a trait object
//! per evaluation, parameters and gradients passed through memory, the stopping rules checked
//! in between — costs as much as the arithmetic. An [`Objective`](crate::Objective) that can
//! compile its value and gradient together with an update rule offers a [`Fused`] loop
//! ([`Objective::fused`](crate::Objective::fused)); [`minimize`](crate::minimize) then hands it
//! blocks of steps between the steps it must see itself (history entries, the last step).
//!
//! The contract keeps every result the same as without fusion, bit for bit: the fused loop
//! performs exactly the operations of [`MethodState::update`](crate::MethodState::update) in the
//! same order, and it stops *before* the update of any step at which a stopping rule might
//! fire, leaving that step to `minimize`, which then decides with its own tests. So the fused
//! loop only ever takes steps that `minimize` would have taken too.

use crate::method::Method;

/// One block of steps for a [`Fused`] loop. For each step `k < steps`, the loop evaluates the
/// loss `L` and gradient `g` at `params`, and **stops without updating** (returning `k`) if
///
/// - `!(|L| <= loss_limit)` (a non-finite or exploding loss), or
/// - the sum of squares `Σ gᵢ²` (summed in index order) is not `<= f64::MAX`, or is
///   `< gradient_screen`, or
/// - `|L − loss| < tol`, where `loss` is the previous step's loss;
///
/// otherwise it sets `loss = L`, copies `params` to `before`, and updates `params`, `first`,
/// `second` and `powers` exactly as [`MethodState::update`](crate::MethodState::update) would
/// with learning rate `rates[k]` (or `rates[0]` for every step when `rates` has one element).
#[derive(Debug)]
pub struct FusedBlock<'a> {
    /// The method, with its hyper-parameters.
    pub method: Method,
    pub params: &'a mut [f64],
    /// The parameters before the last update taken (left as they are when no step is taken).
    pub before: &'a mut [f64],
    /// The method's first state vector (Δx or m), as in `MethodState`.
    pub first: &'a mut [f64],
    /// The method's second state vector (h or v).
    pub second: &'a mut [f64],
    /// Adam's β₁ᵗ and β₂ᵗ.
    pub powers: &'a mut [f64; 2],
    pub rates: &'a [f64],
    pub steps: usize,
    /// In: the loss of the step before the block; out: the loss of the last step taken.
    pub loss: &'a mut f64,
    pub loss_limit: f64,
    pub tol: f64,
    pub gradient_screen: f64,
}

/// A native loop of fused steps (see the module documentation).
pub trait Fused {
    /// Runs the block; returns the number of steps taken (updates made), at most
    /// `block.steps`. Every slice must have the objective's parameter count, and `rates` one or
    /// `steps` elements; a loop may take no step at all if they do not.
    fn run(&self, block: FusedBlock<'_>) -> usize;
}
