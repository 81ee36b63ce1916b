//! The statements of a kernel that advances several neurons at once, as
//! lane masks: what the two-neuron Cranelift kernel and LLVM's wide kernel
//! share.
//!
//! An `If` runs both branches, under the masks `outer & c` and
//! `outer & !c`; a store under a mask keeps the old value in the other
//! lanes, and `Spike` marks the mask's lanes (both are the generator's).
//! Expressions have no side effects, so evaluating one for lanes that do
//! not use it changes nothing.

use crate::ir::{Block, Expr, Handle, NeuronIr, Place, Stmt, Type};

/// Whether the step kernel of `ir` can be lowered for several neurons at
/// once: no `While` (its iteration count differs between lanes), and
/// column and local types the lanes represent.
pub(crate) fn supported(ir: &NeuronIr) -> bool {
    fn no_while(block: &Block) -> bool {
        block.0.iter().all(|s| match s {
            Stmt::While { .. } => false,
            Stmt::If(_, a, b) => no_while(a) && no_while(b),
            _ => true,
        })
    }
    no_while(&ir.step)
        && ir
            .columns()
            .iter()
            .all(|c| matches!(c.ty, Type::F64 | Type::F32 | Type::I32))
        && ir
            .local_types
            .iter()
            .all(|t| matches!(t, Type::F64 | Type::F32 | Type::I32 | Type::Bool))
}

/// A code generator for several neurons at once, as [`block`] drives it.
pub(crate) trait MaskedLanes {
    /// A lowered value.
    type Val;
    /// A lane mask.
    type Mask: Clone;
    fn expr(&mut self, h: Handle<Expr>) -> Self::Val;
    /// The lanes where a value is true.
    fn truth(&mut self, v: Self::Val) -> Self::Mask;
    /// `a & b`.
    fn and(&mut self, a: &Self::Mask, b: &Self::Mask) -> Self::Mask;
    /// `a & !b`.
    fn and_not(&mut self, a: &Self::Mask, b: &Self::Mask) -> Self::Mask;
    /// `!a`.
    fn not(&mut self, a: &Self::Mask) -> Self::Mask;
    /// Stores `v` in the lanes of the current mask.
    fn store(&mut self, place: Place, v: Self::Val);
    /// Marks the lanes of the current mask as spiking.
    fn spike(&mut self);
    /// The lanes the code being emitted runs for (`None`: all).
    fn mask(&mut self) -> &mut Option<Self::Mask>;
}

/// Emits a block of statements for every lane.
pub(crate) fn block<L: MaskedLanes>(l: &mut L, statements: &Block) {
    for s in &statements.0 {
        match s {
            Stmt::Store(place, h) => {
                let v = l.expr(*h);
                l.store(*place, v);
            }
            Stmt::If(c, then, otherwise) => {
                let c = l.expr(*c);
                let c = l.truth(c);
                let outer = l.mask().clone();
                let (yes, no) = match &outer {
                    Some(m) => (l.and(m, &c), l.and_not(m, &c)),
                    None => {
                        let no = l.not(&c);
                        (c, no)
                    }
                };
                if !then.0.is_empty() {
                    *l.mask() = Some(yes);
                    block(l, then);
                }
                if !otherwise.0.is_empty() {
                    *l.mask() = Some(no);
                    block(l, otherwise);
                }
                *l.mask() = outer;
            }
            Stmt::Spike => l.spike(),
            // Not in kernels lowered this way (`While`), or not in verified
            // step kernels.
            Stmt::While { .. } | Stmt::Integrate | Stmt::Propagator { .. } => {}
        }
    }
}
