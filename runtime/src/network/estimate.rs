//! How much memory a run will take, worked out from the compiled network
//! before anything big is allocated, so that a run too large for the
//! machine stops at once instead of after minutes of building (or in the
//! out-of-memory killer's hands).
//!
//! The estimate counts what the run keeps, by consumer:
//!
//! - **synapses** of each projection: the expected count from the rule
//!   (`all_to_all`: `n_pre·n_post`; `fixed_probability(p)`: `p·n_pre·n_post`;
//!   `fixed_indegree(k)`: `k·n_post`; `fixed_outdegree(k)`: `k·n_pre`;
//!   `fixed_total(n)`: `n`; `one_to_one`: `n_pre`; `probability(expr)`: the
//!   mean of `expr` over up to 4096 pairs spread over the selections, times
//!   `n_pre·n_post`; `from_file`: at most one pair per 4 bytes of the file)
//!   times the bytes each synapse keeps: a 4-byte target index, 4 bytes per
//!   value that varies between synapses (one per `on pre` statement and
//!   output, plus the synapse's parameters where it has per-synapse state),
//!   2 bytes for a per-synapse delay, and for synapses with per-synapse
//!   state 8 bytes per state variable plus 16 bytes of bookkeeping (last
//!   update step, source and by-target indices); plus 8 bytes per source
//!   neuron for the row starts;
//! - **ring buffers**: for each target population and variable that spikes
//!   change, `targets × (longest delay in steps + 1) × 8` bytes; a delay
//!   that varies per synapse is taken as the largest of 64 sampled values;
//! - **state** of each population: `neurons × columns ×` 8 bytes (4 for
//!   single-precision and integer columns);
//! - **traces**: exactly `samples × (neurons + 1) × 8` bytes (the values
//!   and the sample times), `samples = steps / every + 1`;
//! - **spikes**: 16 bytes per recorded spike; a spike source's spikes are
//!   known, a population of neurons is *assumed* to fire at
//!   [`ASSUMED_RATE_HZ`] per recorded neuron (an assumption, not a bound:
//!   activity is not known before the run);
//! - **rates**: 8 bytes per bin.
//!
//! What is not counted: the kernels and the compiled network (already in
//! memory), per-thread scratch space, the transient copy of a projection's
//! target indices while its rows are assembled, and the result files' text
//! while they are written.

use nmlc_compiler::abi::rng::{Stream, StreamKind};
use nmlc_compiler::check::eval_constant;
use nmlc_compiler::ir::Type;
use nmlc_compiler::model::{ConnectionRule, Expr, NeuronVar, Projection, Stmt, Var};

use super::compile::{CompiledKind, CompiledNetwork};
use super::error::RunError;
use super::plastic::is_plastic;
use super::projection::{neuron_position, reads_positions};
use super::record::Recorders;
use super::values::{ValueScope, evaluate, has_distribution, has_index};

/// The firing rate assumed for recorded spikes of neurons, in Hz.
pub const ASSUMED_RATE_HZ: f64 = 10.0;

/// Bytes of one recorded spike: a `(step, neuron)` pair.
const SPIKE_BYTES: u64 = 16;

/// What a consumer of memory is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsumerKind {
    /// A projection's synapses.
    Synapses,
    /// The delayed-input buffers of one target variable.
    RingBuffers,
    /// The state columns of a population.
    State,
    /// A recorded variable.
    Trace,
    /// Recorded spikes (estimated from [`ASSUMED_RATE_HZ`] for neurons).
    Spikes,
    /// A population-rate recorder.
    Rate,
}

/// One consumer of memory.
#[derive(Clone, Debug, PartialEq)]
pub struct Consumer {
    /// What it is.
    pub kind: ConsumerKind,
    /// Its name for people: `projection EE synapses`, `trace of P.V_m`.
    pub name: String,
    /// How the size was reckoned: `3.2e8 synapses × 8 bytes`.
    pub detail: String,
    /// The bytes it takes.
    pub bytes: u64,
}

/// The memory a run will take, by consumer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MemoryEstimate {
    /// Every consumer, largest first.
    pub consumers: Vec<Consumer>,
}

impl MemoryEstimate {
    /// The total in bytes.
    pub fn total(&self) -> u64 {
        self.consumers
            .iter()
            .fold(0u64, |sum, c| sum.saturating_add(c.bytes))
    }

    /// The recordings whose size is known before the run (traces and
    /// rates), largest first.
    pub fn known_recordings(&self) -> impl Iterator<Item = &Consumer> {
        self.consumers
            .iter()
            .filter(|c| matches!(c.kind, ConsumerKind::Trace | ConsumerKind::Rate))
    }
}

/// The memory the run of `c` will take; fails where the recorders or rules
/// are invalid (with the error the build would give).
pub fn estimate(c: &CompiledNetwork) -> Result<MemoryEstimate, RunError> {
    let mut consumers = Vec::new();
    for p in &c.populations {
        if let CompiledKind::Neuron { ir, .. } = &p.kind {
            let columns = ir.columns();
            let per_neuron: u64 = columns
                .iter()
                .map(|col| if col.ty == Type::F64 { 8 } else { 4 })
                .sum();
            consumers.push(Consumer {
                kind: ConsumerKind::State,
                name: format!("state of {}", p.name),
                detail: format!(
                    "{} neurons × {} columns ({per_neuron} bytes)",
                    p.size,
                    columns.len()
                ),
                bytes: u64::from(p.size) * per_neuron,
            });
        }
    }
    let mut inboxes: Vec<(usize, String, u64)> = Vec::new();
    for (index, p) in c.network.projections.iter().enumerate() {
        consumers.push(synapses(c, p));
        if is_plastic(p) {
            continue;
        }
        let delay = longest_delay_steps(c, index, p);
        for name in delivered_variables(c, p) {
            let key = (p.target.population as usize, name);
            match inboxes
                .iter_mut()
                .find(|(t, n, _)| (*t, n) == (key.0, &key.1))
            {
                Some(entry) => entry.2 = entry.2.max(delay),
                None => inboxes.push((key.0, key.1, delay)),
            }
        }
    }
    for (target, variable, delay) in inboxes {
        let p = &c.populations[target];
        let slots = delay + 1;
        consumers.push(Consumer {
            kind: ConsumerKind::RingBuffers,
            name: format!("ring buffers of {}.{variable}", p.name),
            detail: format!("{} neurons × {slots} slots × 8 bytes", p.size),
            bytes: u64::from(p.size).saturating_mul(slots).saturating_mul(8),
        });
    }
    recordings(c, &mut consumers)?;
    consumers.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.name.cmp(&b.name)));
    Ok(MemoryEstimate { consumers })
}

/// Traces, spikes and rates.
fn recordings(c: &CompiledNetwork, consumers: &mut Vec<Consumer>) -> Result<(), RunError> {
    let r = Recorders::new(c)?;
    let steps = c.steps();
    for t in &r.traces {
        let samples = steps / t.every_steps + 1;
        let neurons = t.neurons.len() as u64;
        consumers.push(Consumer {
            kind: ConsumerKind::Trace,
            name: format!(
                "trace of {}.{}",
                c.populations[t.population].name, t.variable
            ),
            detail: format!("{samples} samples × {neurons} neurons × 8 bytes"),
            bytes: samples.saturating_mul(neurons + 1).saturating_mul(8),
        });
    }
    for (k, mask) in r.spike_mask.iter().enumerate() {
        let Some(mask) = mask else { continue };
        let p = &c.populations[k];
        let recorded = mask.iter().filter(|m| **m).count() as u64;
        let (spikes, detail) = match &p.kind {
            CompiledKind::Source { spikes } => {
                let n = spikes
                    .iter()
                    .filter(|(step, j)| *step < steps && mask[*j as usize])
                    .count() as u64;
                (n, format!("{n} spikes × {SPIKE_BYTES} bytes"))
            }
            // Not recordable (the checker refuses it).
            CompiledKind::Generator { .. } => (0, "no spikes of its own".to_string()),
            CompiledKind::Neuron { .. } => {
                let n = (recorded as f64 * ASSUMED_RATE_HZ * c.duration_ms / 1000.0).ceil() as u64;
                (
                    n,
                    format!(
                        "{recorded} neurons at an assumed {ASSUMED_RATE_HZ} Hz: {n} spikes × {SPIKE_BYTES} bytes"
                    ),
                )
            }
        };
        consumers.push(Consumer {
            kind: ConsumerKind::Spikes,
            name: format!("spikes of {}", p.name),
            detail,
            bytes: spikes.saturating_mul(SPIKE_BYTES),
        });
    }
    for rate in &r.rates {
        let bins = rate.counts.len() as u64;
        consumers.push(Consumer {
            kind: ConsumerKind::Rate,
            name: rate.stem.replacen('_', " of ", 1),
            detail: format!("{bins} bins × 8 bytes"),
            bytes: bins * 8,
        });
    }
    Ok(())
}

/// The synapses of a projection.
fn synapses(c: &CompiledNetwork, p: &Projection) -> Consumer {
    let n_pre = selection_len(c, &p.source);
    let n_post = selection_len(c, &p.target);
    let pairs = n_pre as f64 * n_post as f64;
    let constant = |e: &Expr| eval_constant(e, &c.network_params).unwrap_or(0.0).max(0.0);
    let expected = match &p.rule {
        ConnectionRule::AllToAll => pairs,
        ConnectionRule::OneToOne => n_pre.min(n_post) as f64,
        ConnectionRule::FixedProbability(e) => constant(e).min(1.0) * pairs,
        ConnectionRule::FixedIndegree(e) => constant(e).round() * n_post as f64,
        ConnectionRule::FixedOutdegree(e) => constant(e).round() * n_pre as f64,
        ConnectionRule::FixedTotal(e) => constant(e).round(),
        ConnectionRule::Probability(e) => mean_probability(c, p, e, n_pre, n_post) * pairs,
        ConnectionRule::FromFile(path) => std::fs::metadata(path)
            .map(|m| (m.len() / 4) as f64)
            .unwrap_or(0.0),
    };
    let count = expected.ceil().min(u64::MAX as f64) as u64;
    let varies = p.values.iter().any(|(_, e)| per_synapse(c, e));
    let mut per_synapse_bytes = 4u64;
    if varies {
        let handler = p.synapse.on_pre.as_ref().map_or(0, |h| h.body.len());
        per_synapse_bytes += 4 * (handler + p.synapse.outputs.len()) as u64;
    }
    if p.delay.as_ref().is_some_and(|d| per_synapse(c, d)) {
        per_synapse_bytes += 2;
    }
    if is_plastic(p) {
        per_synapse_bytes += 8 * p.synapse.states.len() as u64 + 16;
        if varies {
            per_synapse_bytes += 4 * (p.synapse.params.len() + p.synapse.handler_args.len()) as u64;
        }
    }
    Consumer {
        kind: ConsumerKind::Synapses,
        name: format!("projection {} synapses", p.name),
        detail: format!("{count} synapses × {per_synapse_bytes} bytes"),
        bytes: count
            .saturating_mul(per_synapse_bytes)
            .saturating_add(8 * (n_pre + 1)),
    }
}

/// Whether a projection value differs between synapses.
fn per_synapse(c: &CompiledNetwork, e: &Expr) -> bool {
    has_distribution(e) || has_index(e) || eval_constant(e, &c.network_params).is_none()
}

/// The number of neurons of a selection.
fn selection_len(c: &CompiledNetwork, s: &nmlc_compiler::model::Selection) -> u64 {
    let (start, end) = selection_bounds(c, s);
    u64::from(end.saturating_sub(start))
}

/// The first neuron of a selection and the one after its last, clamped to
/// the population (the whole population where a bound cannot be evaluated).
fn selection_bounds(c: &CompiledNetwork, s: &nmlc_compiler::model::Selection) -> (u32, u32) {
    let size = c.populations[s.population as usize].size;
    let bound = |e: &Option<Expr>, default: u32| {
        e.as_ref()
            .and_then(|e| eval_constant(e, &c.network_params))
            .map_or(default, |v| v.clamp(0.0, f64::from(size)) as u32)
    };
    (bound(&s.start, 0), bound(&s.end, size))
}

/// The mean of a connection probability over up to 4096 pairs spread evenly
/// over the selections (with the sampled neurons' positions where it reads
/// them; a position that cannot be evaluated counts as 0 here, the build
/// reports it).
fn mean_probability(c: &CompiledNetwork, p: &Projection, e: &Expr, n_pre: u64, n_post: u64) -> f64 {
    if n_pre == 0 || n_post == 0 {
        return 0.0;
    }
    let side = 64u64;
    let (rows, cols) = (n_pre.min(side), n_post.min(side));
    let i_of = |a: u64| (a * n_pre / rows) as u32;
    let j_of = |b: u64| (b * n_post / cols) as u32;
    // The sampled neurons' positions, once each (`None` without them).
    let sampled = |s: &nmlc_compiler::model::Selection, ks: Vec<u32>| -> Vec<Option<[f64; 3]>> {
        let start = selection_bounds(c, s).0;
        let pop = s.population as usize;
        ks.into_iter()
            .map(|k| match reads_positions(e) {
                true => neuron_position(c, pop, start + k).ok().flatten(),
                false => None,
            })
            .collect()
    };
    let pre = sampled(&p.source, (0..rows).map(i_of).collect());
    let post = sampled(&p.target, (0..cols).map(j_of).collect());
    let mut sum = 0.0;
    for a in 0..rows {
        for b in 0..cols {
            let (i, j) = (i_of(a), j_of(b));
            let positions = pre[a as usize].zip(post[b as usize]);
            let scope = ValueScope {
                network_params: &c.network_params,
                index: i,
                target_index: Some(j),
                size: n_pre as u32,
                model_params: &[],
                positions,
            };
            let mut draws = Stream::new(0, StreamKind::Connectivity, 0, 0).draws(0);
            sum += evaluate(e, &scope, &mut draws)
                .unwrap_or(0.0)
                .clamp(0.0, 1.0);
        }
    }
    sum / (rows * cols) as f64
}

/// The longest delay of a projection in steps: the constant, or the largest
/// of 64 values sampled like the builder draws them.
fn longest_delay_steps(c: &CompiledNetwork, index: usize, p: &Projection) -> u64 {
    let Some(e) = &p.delay else { return 0 };
    let n_pre = selection_len(c, &p.source).max(1) as u32;
    let n_post = selection_len(c, &p.target).max(1) as u32;
    let longest = (0..64u32)
        .filter_map(|k| {
            let i = k % n_pre;
            let scope = ValueScope {
                network_params: &c.network_params,
                index: i,
                target_index: Some((k * 7919) % n_post),
                size: n_pre,
                model_params: &[],
                positions: None,
            };
            let stream = Stream::new(c.seed, StreamKind::SynapseValues, index as u32, i);
            evaluate(e, &scope, &mut stream.draws(5000 + u64::from(k))).ok()
        })
        .fold(0.0f64, f64::max);
    (longest / c.dt_ms).round().clamp(0.0, 65535.0) as u64
}

/// The names of the target variables that a projection's spikes change
/// through ring buffers (`g_e`, or `EE.g` for the synapse's post state).
fn delivered_variables(c: &CompiledNetwork, p: &Projection) -> Vec<String> {
    let CompiledKind::Neuron { model, .. } = &c.populations[p.target.population as usize].kind
    else {
        return Vec::new();
    };
    let model = &c.program.neurons[*model as usize];
    let Some(h) = &p.synapse.on_pre else {
        return Vec::new();
    };
    h.body
        .iter()
        .filter_map(|stmt| match stmt {
            Stmt::Assign { target, .. } => match target {
                Var::Post(NeuronVar::State(k)) => {
                    model.states.get(*k as usize).map(|s| s.name.clone())
                }
                Var::Post(NeuronVar::Input(k)) => {
                    model.inputs.get(*k as usize).map(|s| s.name.clone())
                }
                Var::PostState(k) => p
                    .synapse
                    .post_states
                    .get(*k as usize)
                    .map(|s| format!("{}.{}", p.name, s.name)),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::{RunOptions, compile_ir};
    use nmlc_compiler::compile_text;
    use nmlc_compiler::loader::DiskReader;

    const SIZES: &str = "import stdlib.neurons.lif
network Sizes {
    dt = 0.1 ms
    duration = 100 ms
    P = LIF(1000)
    Q = LIF(500)
    S = SpikeSource(2) { times = [1 ms, 2 ms, 500 ms]  neurons = [0, 1, 1] }
    connect P -> Q as Dense { rule = all_to_all  delay = 1 ms  on pre { post.V_m += 0.1 mV } }
    connect P[0:100] -> Q as Sparse {
        rule = fixed_probability(0.1)  delay = uniform(1 ms, 3 ms)
        on pre { post.V_m += w }  w = normal(0.8 mV, 0.1 mV)
    }
    connect S -> Q as In { rule = fixed_indegree(2)  delay = 5 ms  on pre { post.V_m += 1 mV } }
    record V_m of P[0:10] every 1 ms
    record spikes of Q
    record spikes of S
    record rate of P every 10 ms
}";

    fn sizes() -> MemoryEstimate {
        let c = compile_text("sizes.nml", SIZES, None, &DiskReader);
        assert!(!c.has_errors(), "{:?}", c.diagnostics);
        let compiled = compile_ir(&c.program, &RunOptions::default()).expect("compiles");
        estimate(&compiled).expect("an estimate")
    }

    fn part<'e>(e: &'e MemoryEstimate, name: &str) -> &'e Consumer {
        e.consumers
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no `{name}` in {:#?}", e.consumers))
    }

    #[test]
    fn synapses_follow_the_rule_and_what_each_keeps() {
        let e = sizes();
        // Every pair; a constant value and delay: the 4-byte target only.
        assert_eq!(
            part(&e, "projection Dense synapses").bytes,
            1000 * 500 * 4 + 8 * 1001
        );
        // p · n_pre · n_post, with a drawn weight (4) and delay (2).
        assert_eq!(
            part(&e, "projection Sparse synapses").bytes,
            5000 * (4 + 4 + 2) + 8 * 101
        );
        assert_eq!(part(&e, "projection In synapses").bytes, 1000 * 4 + 8 * 3);
        assert_eq!(
            e.consumers[0].name, "projection Dense synapses",
            "largest first"
        );
    }

    #[test]
    fn ring_buffers_hold_the_longest_delay() {
        let e = sizes();
        // Delays 1 ms, up to 3 ms and 5 ms into one variable: 50 steps + 1.
        assert_eq!(part(&e, "ring buffers of Q.V_m").bytes, 500 * 51 * 8);
        assert!(
            e.consumers
                .iter()
                .all(|c| c.name != "ring buffers of P.V_m")
        );
    }

    #[test]
    fn traces_are_exact_and_spikes_follow_the_assumption() {
        let e = sizes();
        // 1000 steps, a sample every 10 and one at t = 0.
        assert_eq!(part(&e, "trace of P.V_m").bytes, 101 * (10 + 1) * 8);
        let q = (500.0 * ASSUMED_RATE_HZ * 0.1) as u64;
        assert_eq!(part(&e, "spikes of Q").bytes, q * 16);
        // The source's spikes are known; the one after the run does not count.
        assert_eq!(part(&e, "spikes of S").bytes, 2 * 16);
        assert_eq!(part(&e, "rate of P").bytes, 10 * 8);
        let known: u64 = e.known_recordings().map(|c| c.bytes).sum();
        assert_eq!(known, 101 * 11 * 8 + 10 * 8);
        let sum: u64 = e.consumers.iter().map(|c| c.bytes).sum();
        assert_eq!(e.total(), sum);
        assert!(part(&e, "state of P").bytes >= 1000 * 8 * 2);
    }
}
