//! Decay frames: states that only decay in the step kernel are stored
//! divided by their decay so far, and the kernel stops writing them.
//!
//! A synaptic variable such as CUBA's `g_ex' = -g_ex / tau_ex` is, after the
//! exact solver, one statement `g_ex = e · g_ex` (`e = exp(-dt / tau_ex)`);
//! everything else that changes it comes from outside the kernel (spike
//! events). Reading and writing every such column at every step is most of
//! the memory traffic of a network of simple neurons. In a frame the
//! column holds `ĝ = g / s`, where the frame's scale `s` is `e^j` after
//! `j` steps of the frame's period: the decay is carried by `s`, which is
//! one number per population and step, and the column only changes when
//! an event adds to it (`ĝ += w · (1 / s)`).
//!
//! The scale after `m` completed steps is `scales[m mod period]`
//! ([`Frame::scale`]), `scales[j]` being `e` multiplied `j` times. After
//! the last step of a period the runtime multiplies the column by
//! `scales[period]`, the scale goes back to 1, and `ĝ` stays near `g`: no
//! under- or overflow however long the run. Every reader of the state
//! multiplies by the scale of the moment: the step kernel through
//! [`super::Expr::FrameScale`] (the runtime passes the scales in
//! [`crate::abi::StepContext::frames`]), and the runtime's recorders,
//! handlers and couplings itself.
//!
//! The value differs from repeated multiplication by rounding only: `ĝ · s`
//! rounds the product of `j` factors once where the unframed kernel rounds
//! at every step (both within a few units in the last place over a period).
//! Every backend computes exactly the same numbers from the framed IR.

use super::*;
use crate::abi::MAX_FRAMES;
use std::collections::HashMap;

/// A state stored in a decay frame.
#[derive(Clone, Debug, Serialize)]
pub struct Frame {
    /// The framed state.
    pub state: u32,
    /// Its factor per step, `0 < decay < 1`.
    pub decay: f64,
    /// `scales[j]` = `decay` multiplied `j` times, for `j` in
    /// `0..=period`.
    #[serde(skip)]
    pub scales: Vec<f64>,
}

/// The longest period of a frame, in steps.
const MAX_PERIOD: usize = 1024;
/// The smallest scale within a period: a column holds at most its value
/// divided by this.
const MIN_SCALE: f64 = 1e-60;

impl Frame {
    /// The frame of `state` with factor `decay` per step.
    pub fn new(state: u32, decay: f64) -> Frame {
        assert!(
            decay > 0.0 && decay < 1.0,
            "a frame decays: 0 < {decay} < 1"
        );
        let mut scales = vec![1.0];
        while scales.len() <= MAX_PERIOD {
            let next = scales[scales.len() - 1] * decay;
            if next < MIN_SCALE && scales.len() > 1 {
                break;
            }
            scales.push(next);
        }
        Frame {
            state,
            decay,
            scales,
        }
    }

    /// The steps of a period: the column is brought back to scale 1 after
    /// every multiple of this.
    pub fn period(&self) -> u64 {
        self.scales.len() as u64 - 1
    }

    /// The scale after `steps` completed steps: the state's value is its
    /// column times this.
    pub fn scale(&self, steps: u64) -> f64 {
        self.scales[(steps % self.period()) as usize]
    }

    /// The factor by which the column is multiplied when step `n` has been
    /// completed (`steps = n + 1`), if the period ends there.
    pub fn renormalization(&self, steps: u64) -> Option<f64> {
        (steps > 0 && steps.is_multiple_of(self.period()))
            .then(|| self.scales[self.scales.len() - 1])
    }
}

impl NeuronIr {
    /// The scales of the population's frames after `steps` completed steps,
    /// for [`crate::abi::StepContext::frames`].
    pub fn frame_scales(&self, steps: u64) -> [f64; MAX_FRAMES] {
        let mut scales = [1.0; MAX_FRAMES];
        for (s, f) in scales.iter_mut().zip(&self.frames) {
            *s = f.scale(steps);
        }
        scales
    }

    /// The frame of state `k`, if it has one.
    pub fn frame_of(&self, k: u32) -> Option<&Frame> {
        self.frames.iter().find(|f| f.state == k)
    }
}

/// Puts every state of `ir` that only decays in the step kernel into a
/// decay frame (at most [`MAX_FRAMES`], in state order), and rewrites the
/// kernel and the observables to read them through their scales. `ir` has
/// been integrated and optimised; it stays valid IR.
///
/// A state qualifies when the step kernel stores it once, unconditionally,
/// with its own previous value times a constant `0 < e < 1`, does not read
/// it after that store, and no spike input of the model adds to it. Models
/// of single precision are left alone.
pub fn frame_decays(ir: &mut NeuronIr) {
    if ir.precision != Precision::F64 || !ir.frames.is_empty() {
        return;
    }
    let mut framed: Vec<(u32, f64, usize)> = Vec::new();
    for k in 0..ir.states.len() as u32 {
        if framed.len() == MAX_FRAMES {
            break;
        }
        if ir
            .spike_inputs
            .iter()
            .any(|s| s.targets.iter().any(|t| t.0 == k))
        {
            continue;
        }
        if let Some((decay, at)) = decay_store(ir, k) {
            framed.push((k, decay, at));
        }
    }
    if framed.is_empty() {
        return;
    }
    // The stores go, then the locals they alone read.
    let stores: Vec<usize> = framed.iter().map(|f| f.2).collect();
    let removed: Vec<Stmt> = stores.iter().map(|&at| ir.step.0[at].clone()).collect();
    let mut at = 0;
    ir.step.0.retain(|_| {
        at += 1;
        !stores.contains(&(at - 1))
    });
    for s in removed {
        let Stmt::Store(_, h) = s else { continue };
        if let Expr::Load(Place::Local(l)) = ir.exprs.get(h).clone()
            && !block_reads(ir, &ir.step, Place::Local(l))
        {
            ir.step
                .0
                .retain(|s| !matches!(s, Stmt::Store(Place::Local(x), _) if *x == l));
        }
    }
    ir.frames = framed
        .iter()
        .map(|&(k, decay, _)| Frame::new(k, decay))
        .collect();
    let mut rewrite = Rewrite {
        frames: framed.iter().map(|f| f.0).collect(),
        memo: HashMap::new(),
    };
    let step = std::mem::take(&mut ir.step);
    ir.step = rewrite.block(ir, &step);
    let observables = std::mem::take(&mut ir.observables);
    ir.observables = observables
        .into_iter()
        .map(|(v, h)| (v, rewrite.expr(ir, h)))
        .collect();
    optimize(ir);
}

/// The factor and statement index of the top-level store `k = e · k` of
/// the step kernel, if that is the only store of `k` and nothing after it
/// reads `k`.
fn decay_store(ir: &NeuronIr, k: u32) -> Option<(f64, usize)> {
    let place = Place::State(k);
    let mut found = None;
    for (at, s) in ir.step.0.iter().enumerate() {
        match s {
            Stmt::Store(p, h) if *p == place => {
                if found.is_some() {
                    return None;
                }
                found = Some((at, *h));
            }
            other => {
                if stores(other, place) {
                    return None;
                }
            }
        }
    }
    let (at, h) = found?;
    // The value: `e · k`, directly or through a local stored once before.
    let value = match ir.exprs.get(h) {
        Expr::Load(Place::Local(l)) => {
            let mut stored = ir.step.0.iter().enumerate().filter_map(|(i, s)| match s {
                Stmt::Store(Place::Local(x), v) if x == l => Some((i, *v)),
                _ => None,
            });
            let (i, v) = stored.next()?;
            if stored.next().is_some() || i > at || nested_stores(&ir.step, Place::Local(*l)) {
                return None;
            }
            // `k` is not stored between the local and the state: the only
            // store of `k` is the state's.
            v
        }
        _ => h,
    };
    let decay = match ir.exprs.get(value) {
        Expr::Binary(BinaryOp::Mul, a, b) => match (ir.exprs.get(*a), ir.exprs.get(*b)) {
            (Expr::Real(e), Expr::Load(p)) | (Expr::Load(p), Expr::Real(e)) if *p == place => *e,
            _ => return None,
        },
        _ => return None,
    };
    if !(decay > 0.0 && decay < 1.0) {
        return None;
    }
    let after = Block(ir.step.0[at + 1..].to_vec());
    if block_reads(ir, &after, place) {
        return None;
    }
    Some((decay, at))
}

/// Whether `s` (or a statement inside it) stores `place`.
fn stores(s: &Stmt, place: Place) -> bool {
    match s {
        Stmt::Store(p, _) => *p == place,
        Stmt::If(_, a, b) => stores_anywhere(a, place) || stores_anywhere(b, place),
        Stmt::While { body, .. } => stores_anywhere(body, place),
        Stmt::Propagator { phi, integral, .. } => phi.contains(&place) || integral.contains(&place),
        Stmt::Spike | Stmt::Integrate => false,
    }
}

/// Whether any statement of `b`, nested or not, stores `place`.
pub(super) fn stores_anywhere(b: &Block, place: Place) -> bool {
    b.0.iter().any(|s| stores(s, place))
}

/// Whether a statement nested in an `if` or `while` of `b` stores `place`.
fn nested_stores(b: &Block, place: Place) -> bool {
    b.0.iter().any(|s| match s {
        Stmt::Store(..) => false,
        other => stores(other, place),
    })
}

/// Whether any expression that `b` evaluates reads `place`.
fn block_reads(ir: &NeuronIr, b: &Block, place: Place) -> bool {
    let mut memo = HashMap::new();
    block_reads_with(ir, b, place, &mut memo)
}

fn block_reads_with(
    ir: &NeuronIr,
    b: &Block,
    place: Place,
    memo: &mut HashMap<usize, bool>,
) -> bool {
    b.0.iter().any(|s| match s {
        Stmt::Store(_, h) => reads(ir, *h, place, memo),
        Stmt::If(c, x, y) => {
            reads(ir, *c, place, memo)
                || block_reads_with(ir, x, place, memo)
                || block_reads_with(ir, y, place, memo)
        }
        Stmt::While {
            condition, body, ..
        } => reads(ir, *condition, place, memo) || block_reads_with(ir, body, place, memo),
        Stmt::Propagator { a, .. } => a.iter().any(|h| reads(ir, *h, place, memo)),
        Stmt::Spike | Stmt::Integrate => false,
    })
}

fn reads(ir: &NeuronIr, h: Handle<Expr>, place: Place, memo: &mut HashMap<usize, bool>) -> bool {
    if let Some(r) = memo.get(&h.index()) {
        return *r;
    }
    let r = match ir.exprs.get(h) {
        Expr::Load(p) => *p == place,
        Expr::Unary(_, a) | Expr::RoundToInt(a) => reads(ir, *a, place, memo),
        Expr::Binary(_, a, b) => reads(ir, *a, place, memo) || reads(ir, *b, place, memo),
        Expr::Select(c, a, b) => {
            reads(ir, *c, place, memo) || reads(ir, *a, place, memo) || reads(ir, *b, place, memo)
        }
        Expr::Math(_, xs) => xs.iter().any(|x| reads(ir, *x, place, memo)),
        Expr::Real(_)
        | Expr::Int(_)
        | Expr::Bool(_)
        | Expr::Time
        | Expr::Dt
        | Expr::Index
        | Expr::Random(..)
        | Expr::FrameScale(_) => false,
    };
    memo.insert(h.index(), r);
    r
}

/// Rewrites expressions so that each load of a framed state is multiplied
/// by its frame's scale (new expressions are appended to the arena).
struct Rewrite {
    /// The framed states, by frame.
    frames: Vec<u32>,
    memo: HashMap<usize, Handle<Expr>>,
}

impl Rewrite {
    fn block(&mut self, ir: &mut NeuronIr, b: &Block) -> Block {
        b.map_exprs(&mut |h| self.expr(ir, h))
    }

    /// For `a · b` with one side a literal and the other the load of a
    /// framed state: the literal, the state and its frame.
    fn scaled(
        &self,
        ir: &NeuronIr,
        a: Handle<Expr>,
        b: Handle<Expr>,
    ) -> Option<(Handle<Expr>, u32, u32)> {
        let framed = |h: Handle<Expr>| match ir.exprs.get(h) {
            Expr::Load(Place::State(k)) => {
                let f = self.frames.iter().position(|s| s == k)?;
                Some((*k, f as u32))
            }
            _ => None,
        };
        let literal = |h: Handle<Expr>| matches!(ir.exprs.get(h), Expr::Real(_));
        match (literal(a), framed(b), literal(b), framed(a)) {
            (true, Some((k, f)), _, _) => Some((a, k, f)),
            (_, _, true, Some((k, f))) => Some((b, k, f)),
            _ => None,
        }
    }

    fn expr(&mut self, ir: &mut NeuronIr, h: Handle<Expr>) -> Handle<Expr> {
        if let Some(n) = self.memo.get(&h.index()) {
            return *n;
        }
        let (ty, span) = (ir.exprs.ty(h), ir.exprs.span(h));
        // A constant times a framed state becomes (constant · scale) ·
        // column: the product of the two is the same for every neuron, so
        // a kernel computes it once per step, not per neuron.
        if let Expr::Binary(BinaryOp::Mul, a, b) = *ir.exprs.get(h)
            && let Some((c, k, f)) = self.scaled(ir, a, b)
        {
            let scale = ir.add(Expr::FrameScale(f), ty, span);
            let factor = ir.add(Expr::Binary(BinaryOp::Mul, c, scale), ty, span);
            let load = ir.add(Expr::Load(Place::State(k)), ty, span);
            let out = ir.add(Expr::Binary(BinaryOp::Mul, factor, load), ty, span);
            self.memo.insert(h.index(), out);
            return out;
        }
        let out = match ir.exprs.get(h).clone() {
            Expr::Load(Place::State(k)) => match self.frames.iter().position(|&s| s == k) {
                Some(f) => {
                    let scale = ir.add(Expr::FrameScale(f as u32), ty, span);
                    ir.add(Expr::Binary(BinaryOp::Mul, h, scale), ty, span)
                }
                None => h,
            },
            Expr::Unary(op, a) => {
                let a2 = self.expr(ir, a);
                if a2 == a {
                    h
                } else {
                    ir.add(Expr::Unary(op, a2), ty, span)
                }
            }
            Expr::RoundToInt(a) => {
                let a2 = self.expr(ir, a);
                if a2 == a {
                    h
                } else {
                    ir.add(Expr::RoundToInt(a2), ty, span)
                }
            }
            Expr::Binary(op, a, b) => {
                let (a2, b2) = (self.expr(ir, a), self.expr(ir, b));
                if (a2, b2) == (a, b) {
                    h
                } else {
                    ir.add(Expr::Binary(op, a2, b2), ty, span)
                }
            }
            Expr::Select(c, a, b) => {
                let (c2, a2, b2) = (self.expr(ir, c), self.expr(ir, a), self.expr(ir, b));
                if (c2, a2, b2) == (c, a, b) {
                    h
                } else {
                    ir.add(Expr::Select(c2, a2, b2), ty, span)
                }
            }
            Expr::Math(m, xs) => {
                let ys: Vec<Handle<Expr>> = xs.iter().map(|x| self.expr(ir, *x)).collect();
                if ys == xs {
                    h
                } else {
                    ir.add(Expr::Math(m, ys), ty, span)
                }
            }
            _ => h,
        };
        self.memo.insert(h.index(), out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::lower::PopulationSpec;

    fn stdlib_ir(name: &str, framed: bool) -> NeuronIr {
        let c = crate::compile_stdlib();
        let model = c
            .program
            .neurons
            .iter()
            .find(|m| m.name == name)
            .expect("a standard-library model");
        let spec = PopulationSpec::defaults(model, "P", 0.1);
        let (ir, _) = match framed {
            true => crate::ir::compile_neuron_framed(model, &spec),
            false => crate::ir::compile_neuron(model, &spec),
        }
        .expect("compiles");
        ir
    }

    #[test]
    fn the_scales_are_repeated_products_within_bounds() {
        for decay in [0.999, 0.98, 0.5, 0.01] {
            let f = Frame::new(0, decay);
            assert_eq!(f.scales[0], 1.0);
            for j in 1..f.scales.len() {
                assert_eq!(f.scales[j], f.scales[j - 1] * decay);
            }
            assert!(f.period() >= 1 && f.period() <= MAX_PERIOD as u64);
            assert!(*f.scales.last().unwrap() >= MIN_SCALE);
            let p = f.period();
            assert_eq!(f.scale(0), 1.0);
            assert_eq!(f.scale(p), 1.0);
            assert_eq!(f.scale(p + 3), f.scales[3 % p as usize]);
            assert_eq!(f.renormalization(0), None);
            assert_eq!(f.renormalization(p), Some(f.scales[p as usize]));
            assert_eq!(f.renormalization(2 * p), Some(f.scales[p as usize]));
            assert_eq!(f.renormalization(p + 1), None);
        }
        // 0.98^1024 is about 1e-9: the longest period.
        assert_eq!(Frame::new(0, 0.98).period(), MAX_PERIOD as u64);
        // 0.01^30 = 1e-60: 30 steps.
        assert_eq!(Frame::new(0, 0.01).period(), 30);
    }

    #[test]
    fn cuba_synaptic_variables_go_into_frames() {
        let plain = stdlib_ir("CubaLIF", false);
        assert!(plain.frames.is_empty());
        let ir = stdlib_ir("CubaLIF", true);
        let names: Vec<&str> = ir
            .frames
            .iter()
            .map(|f| ir.states[f.state as usize].name.as_str())
            .collect();
        assert_eq!(names, ["g_ex", "g_in"]);
        let want = (-0.1f64 / 5.0).exp();
        assert!(
            (ir.frames[0].decay - want).abs() < 1e-15,
            "{}",
            ir.frames[0].decay
        );
        for f in &ir.frames {
            assert!(!stores_anywhere(&ir.step, Place::State(f.state)));
        }
        // The membrane potential is still stored, and reads the frames.
        assert!(stores_anywhere(&ir.step, Place::State(0)));
        let text = print::print(&ir);
        assert!(
            text.contains("((0.004937935295309005 * frame0) * g_ex)"),
            "{text}"
        );
        verify(&ir).expect("valid IR");
    }

    #[test]
    fn coupled_and_reset_states_stay_as_they_are() {
        // TraubHH's gates are not pure decays, AdEx's `w` jumps at a spike:
        // neither is framed.
        let hh = stdlib_ir("TraubHH", true);
        for f in &hh.frames {
            let name = &hh.states[f.state as usize].name;
            assert!(name.starts_with("g_"), "{name} framed");
        }
        let adex = stdlib_ir("AdEx", true);
        assert!(
            adex.frames
                .iter()
                .all(|f| adex.states[f.state as usize].name != "w"),
            "AdEx's adaptation current is framed"
        );
    }

    #[test]
    fn single_precision_models_are_not_framed() {
        let c = crate::compile_stdlib();
        let model = c
            .program
            .neurons
            .iter()
            .find(|m| m.name == "CubaLIF")
            .unwrap();
        let mut spec = PopulationSpec::defaults(model, "P", 0.1);
        spec.precision = Precision::F32;
        let (ir, _) = crate::ir::compile_neuron_framed(model, &spec).unwrap();
        assert!(ir.frames.is_empty());
    }
}
