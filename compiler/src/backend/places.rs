//! What the code generators share about a step kernel's places: which
//! columns it uses, and the cache of lowered expressions that a store to a
//! place invalidates.

use crate::ir::{Block, Expr, Handle, NeuronIr, Place, Stmt};
use std::collections::HashMap;

/// The column places the step kernel reads or writes, and those it writes.
pub(crate) fn used_places(ir: &NeuronIr) -> (Vec<Place>, Vec<Place>) {
    fn visit_expr(ir: &NeuronIr, h: Handle<Expr>, seen: &mut [bool], used: &mut Vec<Place>) {
        if seen[h.index()] {
            return;
        }
        seen[h.index()] = true;
        match ir.exprs.get(h) {
            Expr::Load(p) if !matches!(p, Place::Local(_)) && !used.contains(p) => used.push(*p),
            Expr::Unary(_, a) | Expr::RoundToInt(a) => visit_expr(ir, *a, seen, used),
            Expr::Binary(_, a, b) => {
                visit_expr(ir, *a, seen, used);
                visit_expr(ir, *b, seen, used);
            }
            Expr::Select(c, a, b) => {
                for x in [c, a, b] {
                    visit_expr(ir, *x, seen, used);
                }
            }
            Expr::Math(_, xs) => {
                for x in xs {
                    visit_expr(ir, *x, seen, used);
                }
            }
            _ => {}
        }
    }
    fn visit_block(
        ir: &NeuronIr,
        block: &Block,
        seen: &mut [bool],
        used: &mut Vec<Place>,
        written: &mut Vec<Place>,
    ) {
        for s in &block.0 {
            match s {
                Stmt::Store(p, h) => {
                    visit_expr(ir, *h, seen, used);
                    if !matches!(p, Place::Local(_)) {
                        if !used.contains(p) {
                            used.push(*p);
                        }
                        if !written.contains(p) {
                            written.push(*p);
                        }
                    }
                }
                Stmt::If(c, a, b) => {
                    visit_expr(ir, *c, seen, used);
                    visit_block(ir, a, seen, used, written);
                    visit_block(ir, b, seen, used, written);
                }
                Stmt::While {
                    condition, body, ..
                } => {
                    visit_expr(ir, *condition, seen, used);
                    visit_block(ir, body, seen, used, written);
                }
                Stmt::Spike | Stmt::Integrate | Stmt::Propagator { .. } => {}
            }
        }
    }
    let mut seen = vec![false; ir.exprs.len()];
    let (mut used, mut written) = (Vec::new(), Vec::new());
    visit_block(ir, &ir.step, &mut seen, &mut used, &mut written);
    (used, written)
}

/// Lowered values of expressions (SSA values, or operands in text), so that
/// an expression used twice is computed once, as long as no place it loads
/// (transitively) has been stored to since.
///
/// A place is a bit: the used columns in binding order (the order of
/// [`used_places`]), then the locals.
#[derive(Clone)]
pub(crate) struct ExprCache<V> {
    values: HashMap<Handle<Expr>, V>,
    /// For each expression, the bits of the places it loads.
    deps: Vec<Vec<u64>>,
    /// The used columns, in binding order.
    slots: Vec<Place>,
}

impl<V: Clone> ExprCache<V> {
    /// An empty cache for the step kernel of `ir`.
    pub(crate) fn new(ir: &NeuronIr) -> ExprCache<V> {
        let (used, _) = used_places(ir);
        let slots: Vec<Place> = ir
            .columns()
            .iter()
            .map(|c| c.place)
            .filter(|p| used.contains(p))
            .collect();
        ExprCache {
            values: HashMap::new(),
            deps: dependencies(ir, &slots),
            slots,
        }
    }

    pub(crate) fn get(&self, h: Handle<Expr>) -> Option<V> {
        self.values.get(&h).cloned()
    }

    pub(crate) fn contains(&self, h: Handle<Expr>) -> bool {
        self.values.contains_key(&h)
    }

    pub(crate) fn insert(&mut self, h: Handle<Expr>, v: V) {
        self.values.insert(h, v);
    }

    pub(crate) fn clear(&mut self) {
        self.values.clear();
    }

    /// The cached values, to [`ExprCache::restore`] later (where code
    /// emitted meanwhile does not dominate what follows).
    pub(crate) fn snapshot(&self) -> HashMap<Handle<Expr>, V> {
        self.values.clone()
    }

    pub(crate) fn restore(&mut self, values: HashMap<Handle<Expr>, V>) {
        self.values = values;
    }

    /// The bit of a place: columns by their position among the used
    /// columns, then locals.
    fn bit(&self, place: Place) -> Option<usize> {
        match place {
            Place::Local(k) => Some(self.slots.len() + k as usize),
            column => self.slots.iter().position(|c| *c == column),
        }
    }

    /// Forgets the cached expressions that load `place`.
    pub(crate) fn forget(&mut self, place: Place) {
        let Some(bit) = self.bit(place) else {
            return;
        };
        let deps = &self.deps;
        self.values.retain(|h, _| {
            deps[h.index()]
                .get(bit / 64)
                .is_none_or(|w| w & (1 << (bit % 64)) == 0)
        });
    }
}

/// For each expression, the set of places it loads (transitively), over
/// the bits of [`ExprCache::bit`]. Operands precede their users in the arena (a
/// verified invariant), so one forward pass suffices.
fn dependencies(ir: &NeuronIr, slots: &[Place]) -> Vec<Vec<u64>> {
    let n_columns = slots.len();
    let words = (n_columns + ir.locals as usize).div_ceil(64).max(1);
    let mut deps: Vec<Vec<u64>> = Vec::with_capacity(ir.exprs.len());
    for h in ir.exprs.handles() {
        let mut set = vec![0u64; words];
        let mut union = |other: &Vec<u64>| {
            for (w, o) in set.iter_mut().zip(other) {
                *w |= o;
            }
        };
        match ir.exprs.get(h) {
            Expr::Load(p) => {
                let bit = match p {
                    Place::Local(k) => Some(n_columns + *k as usize),
                    column => slots.iter().position(|s| s == column),
                };
                if let Some(bit) = bit {
                    set[bit / 64] |= 1 << (bit % 64);
                }
            }
            Expr::Unary(_, a) | Expr::RoundToInt(a) => union(&deps[a.index()]),
            Expr::Binary(_, a, b) => {
                union(&deps[a.index()]);
                union(&deps[b.index()]);
            }
            Expr::Select(c, a, b) => {
                for x in [c, a, b] {
                    union(&deps[x.index()]);
                }
            }
            Expr::Math(_, xs) => {
                for x in xs {
                    union(&deps[x.index()]);
                }
            }
            _ => {}
        }
        deps.push(set);
    }
    deps
}
