//! Building the populations' storage and running the time steps.

use std::sync::{Mutex, MutexGuard, RwLock};

use nmlc_compiler::abi::rng::{PHILOX_LANES, Stream, StreamKind};
use nmlc_compiler::abi::{Aligned, ColumnData, StepContext};
use nmlc_compiler::diagnostics::Diagnostic;
use nmlc_compiler::ir::interp::Interpreter;
use nmlc_compiler::ir::{Frame, NeuronIr, Place, Verified};

use super::compile::{CompiledKind, CompiledNetwork, ParamPlan};
use super::dense;
use super::error::RunError;
use super::fault::NonFinite;
use super::plastic::Plastic;
use super::projection::{CompiledProjection, EffectTarget, Weights, build_projection};
use super::record::{Recorders, TraceSource};
use super::team::with_team;
use super::values::{ValueScope, evaluate};
use crate::ring_buffer::RingBuffer;

/// The `step` slot of the initialisation stream used for the initial value
/// of state variable `k` is `STATE_SLOT + k`; parameter `k` uses slot `k`.
pub const STATE_SLOT: u64 = 1 << 32;

/// A built network: storage of every population, recorders, and how far
/// the run has come.
pub struct Simulation<'c, 'p> {
    pub(crate) compiled: &'c CompiledNetwork<'p>,
    /// What the worker threads share during a step.
    net: Net<'c, 'p>,
    pub(crate) recorders: Recorders,
    /// Per population, all spikes emitted.
    pub(crate) spike_counts: Vec<u64>,
    /// Steps completed.
    pub(crate) steps_done: u64,
    /// Whether the run stopped before its end.
    pub(crate) stopped: bool,
    /// Per projection, its per-synapse state (plastic projections only).
    plastic: Vec<Option<Plastic>>,
    /// Spike deliveries across synapses so far.
    pub(crate) synaptic_events: u64,
    /// Per spike-source population, the next of its spikes to emit.
    source_cursor: Vec<usize>,
    /// Whether `step_spikes` holds spikes (of step `steps_done - 1`) not
    /// yet sent along the projections.
    pending: bool,
}

/// How far a run has come, as [`Simulation::run_observed`] reports it.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// Steps completed.
    pub steps_done: u64,
    /// Steps of the whole run.
    pub steps: u64,
    /// Model time reached (ms).
    pub t_ms: f64,
    /// Spikes emitted so far, all populations.
    pub spikes: u64,
}

/// The storage the parallel phase works on, and what it reads.
struct Net<'c, 'p> {
    compiled: &'c CompiledNetwork<'p>,
    /// Per thread, its chunk of every population (in population order).
    shares: Vec<Padded<Mutex<Vec<Chunk>>>>,
    /// Per population, the first neuron of each thread's chunk, then the
    /// population size.
    bounds: Vec<Vec<usize>>,
    /// The projections, in network order.
    projections: Vec<CompiledProjection>,
    /// Per projection, whether spikes go through the ring buffers (not
    /// plastic: those are delivered synapse by synapse).
    buffered: Vec<bool>,
    /// Per population, the projections that target it, in network order.
    incoming: Vec<Vec<usize>>,
    /// Per population, the neurons that spiked in the last step
    /// (population indices, increasing).
    step_spikes: RwLock<Vec<Vec<u32>>>,
    /// Per population, the train of each Poisson generator (empty for
    /// other populations).
    trains: Vec<Vec<Train>>,
    /// Per projection, where each row splits between the threads' chunks
    /// of the target population: `cuts[k][r * (T + 1) + t]` is the offset
    /// in row `r` of the first synapse into thread `t`'s chunk (`t = T`:
    /// the row length). Empty with one thread, whose chunk takes every row
    /// whole.
    cuts: Vec<Vec<u32>>,
    /// Per population, the states its step kernel does not write (changed
    /// by synaptic events only), which the kernel's finiteness report does
    /// not cover.
    unwritten: Vec<Vec<u32>>,
}

/// The spike counts per step of one Poisson generator's trains.
///
/// Every synapse `s` of projection `k` from a generator has its own train:
/// its count for step `m` comes from word `s mod 4` of the Philox block
/// `Stream::new(seed, Input, k, s / 4).draw(m, 0)`, turned into a count by
/// inversion of the Poisson CDF of mean `λ = rate · dt` (a table of
/// thresholds, so one block serves four synapses). Counts whose
/// probability is below 2^-32 are cut off. From `λ = 10` on, the
/// synapse draws from its own stream `Stream::new(seed, Input, k, s)`
/// with [`nmlc_compiler::abi::rng::Draws::poisson`] instead.
#[derive(Clone, Debug)]
enum Train {
    /// Rate 0.
    Silent,
    /// `thresholds[c]`: the count is the number of thresholds at or below
    /// the word.
    Table(Vec<u32>),
    /// A large mean.
    Large(f64),
}

impl Train {
    /// The train of mean `lambda` spikes per step.
    fn new(lambda: f64) -> Train {
        if lambda <= 0.0 {
            return Train::Silent;
        }
        if lambda >= 10.0 {
            return Train::Large(lambda);
        }
        let scale = 2f64.powi(32);
        let mut thresholds = Vec::new();
        let mut p = (-lambda).exp();
        let mut cdf = p;
        let mut c = 0.0;
        // P(count <= c) = cdf: a word below cdf · 2^32 gives c.
        while cdf * scale < scale - 1.0 && thresholds.len() < 256 {
            thresholds.push((cdf * scale).ceil() as u32);
            c += 1.0;
            p *= lambda / c;
            cdf += p;
        }
        Train::Table(thresholds)
    }

    /// Appends to `out` the counts in step `m` of synapses `range` of
    /// projection `k`.
    fn counts(&self, seed: u64, k: u32, range: std::ops::Range<usize>, m: u64, out: &mut Vec<u32>) {
        match self {
            Train::Silent => out.extend(range.map(|_| 0)),
            Train::Table(thresholds) => {
                let mut s = range.start;
                while s < range.end {
                    // The words of synapses `4 · first …`, eight blocks at
                    // once, and their counts.
                    let first = s / 4;
                    let blocks =
                        Stream::new(seed, StreamKind::Input, k, first as u32).draw_lanes(m, 0);
                    let words: [u32; dense::WORDS] = std::array::from_fn(|j| blocks[j / 4][j % 4]);
                    let mut counts = [0; dense::WORDS];
                    dense::count_at_or_below(&words, thresholds, &mut counts);
                    let stop = ((first + PHILOX_LANES) * 4).min(range.end);
                    out.extend_from_slice(&counts[s - 4 * first..stop - 4 * first]);
                    s = stop;
                }
            }
            Train::Large(lambda) => out.extend(range.map(|s| {
                Stream::new(seed, StreamKind::Input, k, s as u32)
                    .draws(m)
                    .poisson(*lambda)
                    .min(u64::from(u32::MAX)) as u32
            })),
        }
    }
}

/// A value alone in its cache lines (two of them, as the adjacent-line
/// prefetcher fetches pairs): the threads' shares sit side by side, and
/// each thread locks its own every step; sharing a line would move it
/// between the cores at every lock.
#[repr(align(128))]
struct Padded<T>(T);

/// One thread's share of a population: neurons `start..start + len`.
///
/// A population is split into one chunk per thread; each chunk owns its
/// columns and the ring buffers of its neurons, so a thread updating or
/// delivering to its chunk never writes anything another thread touches,
/// and no atomics are needed. Results do not depend on the split: neurons
/// are independent within a step, random numbers are keyed by the
/// population index of a neuron, and each target receives its inputs in the
/// same order (projection order, then spike order) whatever the chunks.
struct Chunk {
    start: usize,
    len: usize,
    cols: Vec<ColumnData>,
    inbox: Vec<Inbox>,
    /// Spikes of the last update (population indices).
    spikes: Vec<u32>,
    /// Synaptic events delivered into the chunk in the last phase.
    events: u64,
    /// Scratch for the spike counts of a Poisson generator's synapses.
    counts: Vec<u32>,
    /// The first state found NaN or infinite after the last update:
    /// (state index, neuron within the chunk).
    fault: Option<(u32, usize)>,
}

/// Spikes on their way to one variable of a population.
struct Inbox {
    /// What the spikes change.
    target: EffectTarget,
    /// How the buffer's contents are applied.
    delivery: Delivery,
    /// The inputs per target neuron and future step.
    buffer: RingBuffer<f64>,
    /// Per slot, the entries deliveries have touched while they are few;
    /// empty where the slots are always taken whole.
    marks: Vec<Marks>,
}

/// The entries of one ring-buffer slot that deliveries have touched, while
/// they are few (at most one in eight neurons): the slot is then taken
/// entry by entry ([`dense::add_slot`] with a list) instead of by a pass over every
/// neuron, which in a sparse network (CUBA: about 200 events a step for
/// 4000 neurons) costs more than all its events. Both give the same
/// result bit for bit, so which one runs does not depend on anything but
/// speed.
#[derive(Clone, Default)]
struct Marks {
    touched: Vec<u32>,
    /// Too many entries: take the whole slot.
    full: bool,
}

impl Marks {
    /// Notes the entries of a delivery into a slot of `len` entries.
    fn note(&mut self, len: usize, entries: impl ExactSizeIterator<Item = u32>) {
        if self.full {
            return;
        }
        if self.touched.len() + entries.len() > len / 8 {
            self.full = true;
            return;
        }
        self.touched.extend(entries);
    }

    fn reset(&mut self) {
        self.touched.clear();
        self.full = false;
    }
}

/// Where the contents of a ring buffer go at the start of a step.
#[derive(Clone)]
enum Delivery {
    /// Added to one column (a state variable); with a refractory counter
    /// column when the variable is clamped during refractoriness, in which
    /// case events reaching a refractory neuron are dropped (as NEST's
    /// `iaf_psc_delta` drops them); with the state's decay frame when it
    /// has one (the events are multiplied by `1 / scale`).
    Column(usize, Option<usize>, Option<Box<Framed>>),
    /// A spike input: added to each of these columns times a per-neuron factor.
    SpikeInput(Vec<(usize, Vec<f64>)>),
}

/// A state in a decay frame, as its deliveries see it.
#[derive(Clone)]
struct Framed {
    /// The IR state.
    state: u32,
    frame: Frame,
}

/// The command bit of a parallel phase that only delivers the last
/// step's spikes (at the end of a run).
const DELIVER_ONLY: u64 = 1;
/// The command bit of a parallel phase that starts by sending the spikes
/// of the step before along the projections.
const PROPAGATE: u64 = 2;

/// The command of the parallel phase of step `n`.
fn command(n: u64, propagate: bool) -> u64 {
    (n << 2) | if propagate { PROPAGATE } else { 0 }
}

impl<'c, 'p> Simulation<'c, 'p> {
    /// Allocates storage, sets parameters and initial values, and sets up
    /// the recorders.
    ///
    /// Per-neuron values are drawn from the initialisation stream
    /// `Stream::new(seed, Initialisation, population index, neuron)`:
    /// parameter `k` from the cursor at step slot `k`, the initial value of
    /// state `k` from slot `2^32 + k`, so adding or removing one override
    /// never changes the numbers drawn for another.
    pub fn build(compiled: &'c CompiledNetwork<'p>) -> Result<Simulation<'c, 'p>, RunError> {
        Simulation::assemble(compiled, Recorders::new(compiled)?)
    }

    /// [`Simulation::build`] without recorders: for running a network
    /// again to look at its state (see [`super::fault`]).
    pub(crate) fn build_unrecorded(
        compiled: &'c CompiledNetwork<'p>,
    ) -> Result<Simulation<'c, 'p>, RunError> {
        Simulation::assemble(compiled, Recorders::none(compiled.populations.len()))
    }

    /// [`Simulation::build`] with the given recorders.
    fn assemble(
        compiled: &'c CompiledNetwork<'p>,
        recorders: Recorders,
    ) -> Result<Simulation<'c, 'p>, RunError> {
        let mut columns = Vec::new();
        for (p_index, p) in compiled.populations.iter().enumerate() {
            let CompiledKind::Neuron {
                model,
                params,
                per_neuron_order,
                ir,
                verified,
                ..
            } = &p.kind
            else {
                columns.push(Vec::new());
                continue;
            };
            let n = p.size as usize;
            let mut cols: Vec<ColumnData> = ir
                .columns()
                .iter()
                .map(|c| ColumnData::zeros(c.ty, n))
                .collect();
            let population = &compiled.network.populations[p_index];
            let model = &compiled.program.neurons[*model as usize];
            let constants: Vec<Option<f64>> = params
                .iter()
                .map(|p| match p {
                    ParamPlan::Constant(v) => Some(*v),
                    _ => None,
                })
                .collect();
            let mut values = constants.clone();
            for i in 0..p.size {
                values.clone_from(&constants);
                let stream =
                    Stream::new(compiled.seed, StreamKind::Initialisation, p_index as u32, i);
                for &k in per_neuron_order {
                    let ParamPlan::PerNeuron(e) = &params[k as usize] else {
                        continue;
                    };
                    let scope = ValueScope {
                        network_params: &compiled.network_params,
                        index: i,
                        target_index: None,
                        size: p.size,
                        model_params: &values,
                        positions: None,
                    };
                    let v =
                        evaluate(e, &scope, &mut stream.draws(u64::from(k))).map_err(|err| {
                            RunError::from_value(
                                err,
                                &format!("parameter `{}`", model.params[k as usize].name),
                            )
                        })?;
                    values[k as usize] = Some(v);
                    if let Some(b) = verified.binding(Place::Param(k)) {
                        cols[b].set(i as usize, v);
                    }
                }
            }
            let ctx = context(compiled, p_index, 0);
            Interpreter::new(ir, verified).build(&mut cols, n, &ctx);
            for (k, e) in &population.init {
                let Some(b) = verified.binding(Place::State(*k)) else {
                    continue;
                };
                for i in 0..p.size {
                    let stream =
                        Stream::new(compiled.seed, StreamKind::Initialisation, p_index as u32, i);
                    let scope = ValueScope {
                        network_params: &compiled.network_params,
                        index: i,
                        target_index: None,
                        size: p.size,
                        model_params: &[],
                        positions: None,
                    };
                    let v = evaluate(e, &scope, &mut stream.draws(STATE_SLOT + u64::from(*k)))
                        .map_err(|err| {
                            RunError::from_value(
                                err,
                                &format!(
                                    "the initial value of `{}`",
                                    model.states[*k as usize].name
                                ),
                            )
                        })?;
                    cols[b].set(i as usize, v);
                }
            }
            columns.push(cols);
        }
        let mut projections: Vec<CompiledProjection> = (0..compiled.network.projections.len())
            .map(|k| build_projection(compiled, k))
            .collect::<Result<_, _>>()?;
        let plastic: Vec<Option<Plastic>> =
            projections.iter_mut().map(|p| p.plastic.take()).collect();
        let buffered: Vec<bool> = plastic.iter().map(Option::is_none).collect();
        let mut incoming = vec![Vec::new(); compiled.populations.len()];
        for (k, p) in projections.iter().enumerate() {
            incoming[p.target].push(k);
        }
        let inboxes = inboxes(compiled, &projections, &mut columns)?;
        let threads = compiled.threads.max(1);
        let mut shares: Vec<Vec<Chunk>> = (0..threads).map(|_| Vec::new()).collect();
        let mut bounds: Vec<Vec<usize>> = Vec::new();
        for ((cols, inbox), p) in columns.into_iter().zip(inboxes).zip(&compiled.populations) {
            let size = match p.kind {
                CompiledKind::Neuron { .. } => p.size as usize,
                // Spike sources and generators have no storage.
                CompiledKind::Source { .. } | CompiledKind::Generator { .. } => 0,
            };
            let chunks = split(cols, inbox, size, threads);
            bounds.push(
                chunks
                    .iter()
                    .map(|c| c.start)
                    .chain(std::iter::once(size))
                    .collect(),
            );
            for (share, chunk) in shares.iter_mut().zip(chunks) {
                share.push(chunk);
            }
        }
        let mut trains = Vec::new();
        for p in &compiled.populations {
            trains.push(match &p.kind {
                CompiledKind::Generator { rate } => generator_trains(compiled, p.size, rate)?,
                _ => Vec::new(),
            });
        }
        for (k, proj) in projections.iter().enumerate() {
            let from_generator = matches!(
                compiled.populations[proj.source].kind,
                CompiledKind::Generator { .. }
            );
            if from_generator && (plastic[k].is_some() || !proj.continuous.is_empty()) {
                return Err(RunError::Unsupported {
                    span: compiled.network.projections[k].span,
                    feature: "synapses from a `PoissonGenerator` other than additive \
                              `on pre { post.X += w }` effects",
                });
            }
        }
        let cuts = projections
            .iter()
            .zip(&buffered)
            .map(|(proj, &buffered)| match buffered && threads > 1 {
                true => row_cuts(proj, &bounds[proj.target]),
                false => Vec::new(),
            })
            .collect();
        let unwritten = compiled
            .populations
            .iter()
            .map(|p| match &p.kind {
                CompiledKind::Neuron { ir, .. } => {
                    // Framed states are checked where events change them.
                    let written = nmlc_compiler::backend::written_states(ir);
                    (0..ir.states.len() as u32)
                        .filter(|k| !written.contains(k) && ir.frame_of(*k).is_none())
                        .collect()
                }
                _ => Vec::new(),
            })
            .collect();
        let mut sim = Simulation {
            compiled,
            net: Net {
                compiled,
                shares: shares.into_iter().map(|s| Padded(Mutex::new(s))).collect(),
                bounds,
                buffered,
                incoming,
                step_spikes: RwLock::new(vec![Vec::new(); compiled.populations.len()]),
                trains,
                cuts,
                unwritten,
                projections,
            },
            recorders,
            spike_counts: vec![0; compiled.populations.len()],
            steps_done: 0,
            stopped: false,
            plastic,
            synaptic_events: 0,
            source_cursor: vec![0; compiled.populations.len()],
            pending: false,
        };
        let mut chunks = sim.net.lock();
        sim.net.sample(&mut sim.recorders, &mut chunks, 0);
        for p in 0..compiled.populations.len() {
            for k in 0..threads {
                chunks.chunk(p, k).check_finite(compiled, p, None);
            }
        }
        let fault = sim.net.fault(&mut chunks, 0);
        drop(chunks);
        match fault {
            Some(e) => Err(e),
            None => Ok(sim),
        }
    }

    /// The total number of neurons.
    pub fn neurons(&self) -> u64 {
        self.compiled
            .populations
            .iter()
            .map(|p| u64::from(p.size))
            .sum()
    }

    /// All spikes emitted so far.
    pub fn total_spikes(&self) -> u64 {
        self.spike_counts.iter().sum()
    }

    /// How far the run has come.
    pub fn progress(&self) -> Progress {
        Progress {
            steps_done: self.steps_done,
            steps: self.compiled.steps(),
            t_ms: self.t_reached_ms(),
            spikes: self.total_spikes(),
        }
    }

    /// The synapses of all projections.
    pub fn synapses(&self) -> u64 {
        self.projections().iter().map(|p| p.csr.len() as u64).sum()
    }

    /// The value of state `k` (an IR state index) of neuron `i` of
    /// population `p` now; `None` if it has no storage.
    pub(crate) fn state_value(&self, p: usize, k: u32, i: usize) -> Option<f64> {
        let CompiledKind::Neuron { verified, .. } = &self.compiled.populations[p].kind else {
            return None;
        };
        let b = verified.binding(Place::State(k))?;
        let scale = state_scale(self.compiled, p, k, self.steps_done);
        let mut chunks = self.net.lock();
        let (chunk, local) = chunks.at(p, i);
        Some(chunk.cols[b].get(local) * scale)
    }

    /// The model time reached (ms).
    pub fn t_reached_ms(&self) -> f64 {
        self.steps_done as f64 * self.compiled.dt_ms
    }

    /// The projections, in network order.
    pub(crate) fn projections(&self) -> &[CompiledProjection] {
        &self.net.projections
    }

    /// Bytes the synapses take: every projection's storage, per-synapse
    /// plastic state, and the per-thread row cuts of delivery.
    pub fn synapse_bytes(&self) -> u64 {
        let projections: u64 = self.net.projections.iter().map(|p| p.bytes()).sum();
        let plastic: u64 = self.plastic.iter().flatten().map(|p| p.bytes()).sum();
        let cuts: u64 = self.net.cuts.iter().map(|c| 4 * c.len() as u64).sum();
        projections + plastic + cuts
    }

    /// Runs every step; see [`Simulation::run_observed`].
    pub fn run(&mut self) -> Result<(), RunError> {
        self.run_observed(&mut |_| true)
    }

    /// Runs the remaining steps. Step `n` advances from `t_n = n·dt` to
    /// `t_{n+1}`: spike events due at the step are applied, every
    /// population is updated, spikes are stamped `t_{n+1}` and sent along
    /// the projections; recorders sample after the step.
    ///
    /// Each step has one parallel phase, in which every thread takes the
    /// previous step's spikes into the ring buffers of its own neurons,
    /// applies the events due now, and updates its neurons; the serial rest
    /// gathers the spikes, records, and runs plasticity and continuous
    /// coupling.
    ///
    /// `observe` is called after every step; when it returns `false` the
    /// run stops there (with `stopped` set, and `Ok`). A NaN or infinite
    /// state stops the run with [`RunError::NonFinite`]; what was recorded
    /// until then is kept, and [`RunError::look_back`] finds the state's
    /// last finite value.
    pub fn run_observed(
        &mut self,
        observe: &mut dyn FnMut(&Progress) -> bool,
    ) -> Result<(), RunError> {
        let steps = self.compiled.steps();
        let threads = self.net.shares.len();
        let Simulation {
            compiled,
            net,
            recorders,
            spike_counts,
            steps_done,
            stopped,
            plastic,
            synaptic_events,
            source_cursor,
            pending,
        } = self;
        let net: &Net = net;
        // The serial part before a step's parallel phase: continuous
        // coupling and arrivals at plastic synapses (most networks have
        // neither, and skip it).
        let serial_before = plastic.iter().any(Option::is_some)
            || net.projections.iter().any(|p| !p.continuous.is_empty());
        let work = |k: usize, command: u64| net.parallel_phase(k, command);
        with_team(threads, &work, |team| {
            let mut outcome = Ok(());
            while *steps_done < steps {
                let n = *steps_done;
                if serial_before {
                    let mut chunks = net.lock();
                    net.couple(&mut chunks, n);
                    net.plastic_arrivals(plastic, &mut chunks, n);
                }
                team.run(command(n, *pending));
                *pending = true;
                let mut chunks = net.lock();
                net.gather_spikes(&mut chunks, source_cursor, n);
                let spikes = net.step_spikes.read().unwrap_or_else(|e| e.into_inner());
                for (p, spiked) in spikes.iter().enumerate() {
                    spike_counts[p] += spiked.len() as u64;
                    recorders.record_spikes(p, n, spiked);
                }
                drop(spikes);
                *synaptic_events += net.plastic_spikes(plastic, &mut chunks, n);
                *steps_done = n + 1;
                // Sampled first, so the traces hold the step that failed.
                net.sample(recorders, &mut chunks, n + 1);
                if let Some(e) = net.fault(&mut chunks, n + 1) {
                    *stopped = true;
                    outcome = Err(e);
                    break;
                }
                drop(chunks);
                let progress = Progress {
                    steps_done: n + 1,
                    steps,
                    t_ms: (n + 1) as f64 * compiled.dt_ms,
                    spikes: spike_counts.iter().sum(),
                };
                if !observe(&progress) {
                    *stopped = *steps_done < steps;
                    break;
                }
            }
            // The last step's spikes, counted as synaptic events.
            if *pending {
                team.run(command(*steps_done, true) | DELIVER_ONLY);
                *pending = false;
            }
            *synaptic_events += net.take_events();
            outcome
        })
    }
}

impl Net<'_, '_> {
    /// Every thread's chunks, for the serial part of a step.
    fn lock(&self) -> Chunks<'_> {
        Chunks {
            shares: self.shares.iter().map(|s| lock(&s.0)).collect(),
            bounds: &self.bounds,
        }
    }

    /// The parallel phase of member `k` for step `n = command >> 2`: send
    /// the spikes of step `n - 1` into its chunks (with `PROPAGATE`), then
    /// (unless `DELIVER_ONLY`) apply the events due at step `n` and update
    /// the neurons.
    fn parallel_phase(&self, k: usize, command: u64) {
        let mut share = lock(&self.shares[k].0);
        let n = command >> 2;
        if command & PROPAGATE != 0 {
            let spikes = self.step_spikes.read().unwrap_or_else(|e| e.into_inner());
            let apply = command & DELIVER_ONLY == 0;
            for (p, chunk) in share.iter_mut().enumerate() {
                chunk.events += self.propagate(k, p, chunk, &spikes, n - 1, apply);
            }
        }
        if command & DELIVER_ONLY != 0 {
            return;
        }
        let c = self.compiled;
        for (p, chunk) in share.iter_mut().enumerate() {
            let CompiledKind::Neuron {
                kernel: Some(kernel),
                ..
            } = &c.populations[p].kind
            else {
                continue;
            };
            chunk.deliver(n);
            chunk.spikes.clear();
            let ctx = StepContext {
                first_neuron: chunk.start as u32,
                ..context(c, p, n)
            };
            let finite = kernel.step(&ctx, &mut chunk.cols, 0, chunk.len, &mut chunk.spikes);
            for s in chunk.spikes.iter_mut() {
                *s += chunk.start as u32;
            }
            // The kernel checked what it wrote; the rest is checked here.
            chunk.check_finite(c, p, finite.then_some(&self.unwritten[p][..]));
            if let CompiledKind::Neuron { ir, verified, .. } = &c.populations[p].kind {
                chunk.renormalize(ir, verified, n + 1);
            }
        }
    }

    /// Takes the spikes of step `m` (`spikes`, per population) into the
    /// ring buffers of `chunk` of population `p`: from every projection
    /// into it (in network order), the synapses of each spiking neuron (in
    /// index order) that end in the chunk; from a Poisson generator, every
    /// synapse with its own count. `chunk` is thread `t`'s. Returns the
    /// number of events. Events due at once (step `m + 1`) into a framed
    /// state go straight into its column, unless `apply` is off (the end
    /// of a run, where they are only counted).
    fn propagate(
        &self,
        t: usize,
        p: usize,
        chunk: &mut Chunk,
        spikes: &[Vec<u32>],
        m: u64,
        apply: bool,
    ) -> u64 {
        let mut events = 0u64;
        // Scratch for a generator's counts, kept in the chunk between steps.
        let mut counts = std::mem::take(&mut chunk.counts);
        for &k in &self.incoming[p] {
            let proj = &self.projections[k];
            if !self.buffered[k] {
                continue;
            }
            // This chunk's part of row `local`: CSR index of its first
            // synapse, and its targets.
            let cuts = &self.cuts[k];
            let stride = self.shares.len() + 1;
            let part = |local: u32| -> (usize, &[u32]) {
                let row_start = proj.csr.row_start[local as usize] as usize;
                let row = proj.csr.row(local);
                if cuts.is_empty() {
                    (row_start, row)
                } else {
                    let at = local as usize * stride + t;
                    let (a, b) = (cuts[at] as usize, cuts[at + 1] as usize);
                    (row_start + a, &row[a..b])
                }
            };
            let trains = &self.trains[proj.source];
            if trains.is_empty() {
                for &i in &spikes[proj.source] {
                    let Some(local) = i
                        .checked_sub(proj.source_start)
                        .filter(|l| *l < proj.source_len)
                    else {
                        continue;
                    };
                    let (first, targets) = part(local);
                    let now = apply.then_some(m + 1);
                    events += deliver_row(chunk, proj, first, targets, None, now);
                }
            } else {
                for local in 0..proj.source_len {
                    let (first, targets) = part(local);
                    let train = &trains[(proj.source_start + local) as usize];
                    counts.clear();
                    let range = first..first + targets.len();
                    train.counts(self.compiled.seed, k as u32, range, m, &mut counts);
                    events += deliver_row(chunk, proj, first, targets, Some(&counts), None);
                }
            }
        }
        chunk.counts = counts;
        events
    }

    /// The events delivered in the last phase, all chunks, reset to zero.
    fn take_events(&self) -> u64 {
        let mut chunks = self.lock();
        let mut events = 0;
        for share in chunks.shares.iter_mut() {
            for chunk in share.iter_mut() {
                events += std::mem::take(&mut chunk.events);
            }
        }
        events
    }

    /// Collects the spikes of step `n` into `step_spikes`: the neurons'
    /// from their chunks, the spike sources' from their lists.
    fn gather_spikes(&self, chunks: &mut Chunks, source_cursor: &mut [usize], n: u64) {
        let mut step_spikes = self.step_spikes.write().unwrap_or_else(|e| e.into_inner());
        for (p, p_info) in self.compiled.populations.iter().enumerate() {
            let spiked = &mut step_spikes[p];
            spiked.clear();
            match &p_info.kind {
                CompiledKind::Neuron { .. } => {
                    for share in chunks.shares.iter() {
                        spiked.extend_from_slice(&share[p].spikes);
                    }
                }
                CompiledKind::Source { spikes } => {
                    let cursor = &mut source_cursor[p];
                    while let Some(&(step, neuron)) = spikes.get(*cursor) {
                        if step > n {
                            break;
                        }
                        if step == n {
                            spiked.push(neuron);
                        }
                        *cursor += 1;
                    }
                }
                // Each synapse draws its own train (see `propagate`).
                CompiledKind::Generator { .. } => {}
            }
        }
    }

    /// Continuous coupling (`output I = w * pre.r`): each target's input is
    /// set to the sum over its synapses of `w` times the presynaptic value
    /// at the start of the step.
    fn couple(&self, chunks: &mut Chunks, n: u64) {
        let compiled = self.compiled;
        let column = |p: usize, place: Place| -> Option<usize> {
            match &compiled.populations[p].kind {
                CompiledKind::Neuron { verified, .. } => verified.binding(place),
                CompiledKind::Source { .. } | CompiledKind::Generator { .. } => None,
            }
        };
        let mut cleared: Vec<(usize, usize)> = Vec::new();
        for proj in &self.projections {
            for out in &proj.continuous {
                let Some(input) = column(proj.target, Place::Input(out.input)) else {
                    continue;
                };
                if !cleared.contains(&(proj.target, input)) {
                    cleared.push((proj.target, input));
                    for share in chunks.shares.iter_mut() {
                        match &mut share[proj.target].cols[input] {
                            ColumnData::F64(v) => v.fill(0.0),
                            ColumnData::F32(v) => v.fill(0.0),
                            ColumnData::I32(v) => v.fill(0),
                        }
                    }
                }
                let Some(state) = column(proj.source, Place::State(out.pre_state)) else {
                    continue;
                };
                let scale = state_scale(compiled, proj.source, out.pre_state, n);
                let pre: Vec<f64> = (0..proj.source_len as usize)
                    .map(|l| {
                        let (chunk, local) = chunks.at(proj.source, proj.source_start as usize + l);
                        chunk.cols[state].get(local) * scale
                    })
                    .collect();
                for (l, x) in pre.iter().enumerate() {
                    let row_start = proj.csr.row_start[l] as usize;
                    for (s, &j) in proj.csr.row(l as u32).iter().enumerate() {
                        let w = match &out.weights {
                            Weights::Constant(w) => *w,
                            Weights::PerSynapse(ws) => f64::from(ws[row_start + s]),
                        };
                        let (chunk, local) =
                            chunks.at(proj.target, (proj.target_start + j) as usize);
                        let col = &mut chunk.cols[input];
                        let v = col.get(local);
                        col.set(local, v + w * x);
                    }
                }
            }
        }
    }

    /// Runs `on pre` of plastic synapses whose presynaptic spikes arrive at
    /// the start of step `n` (see [`super::plastic`]).
    fn plastic_arrivals(&self, plastic: &mut [Option<Plastic>], chunks: &mut Chunks, n: u64) {
        let compiled = self.compiled;
        let dt = compiled.dt_ms;
        for (k, proj) in self.projections.iter().enumerate() {
            let Some(plastic) = plastic[k].as_mut() else {
                continue;
            };
            let synapse = &compiled.network.projections[k].synapse;
            let Some(handler) = &synapse.on_pre else {
                plastic.queue.retain(|(step, _)| *step > n);
                continue;
            };
            while plastic.queue.front().is_some_and(|(step, _)| *step <= n) {
                let (_, sources) = plastic.queue.pop_front().expect("checked");
                for i in sources {
                    let start = proj.csr.row_start[i as usize] as usize;
                    for (off, &j) in proj.csr.row(i).iter().enumerate() {
                        let s = start + off;
                        plastic.advance_to(s, n, dt);
                        let ev = super::plastic::Event {
                            synapse,
                            s,
                            pre_pop: proj.source,
                            post_pop: proj.target,
                            pre: (proj.source_start + i) as usize,
                            post: (proj.target_start + j) as usize,
                            t: n as f64 * dt,
                            dt,
                        };
                        let mut neurons = ChunkNeurons {
                            compiled,
                            chunks,
                            steps: n,
                        };
                        plastic.run(&handler.body, &ev, &mut neurons);
                    }
                }
            }
        }
    }

    /// Queues this step's presynaptic spikes of plastic projections and runs
    /// `on post` for the synapses onto neurons that spiked (at `t_{n+1}`).
    /// Returns the synaptic events queued.
    fn plastic_spikes(&self, plastic: &mut [Option<Plastic>], chunks: &mut Chunks, n: u64) -> u64 {
        let compiled = self.compiled;
        let dt = compiled.dt_ms;
        let step_spikes = self.step_spikes.read().unwrap_or_else(|e| e.into_inner());
        let mut events = 0;
        for (k, proj) in self.projections.iter().enumerate() {
            let Some(plastic) = plastic[k].as_mut() else {
                continue;
            };
            let sources: Vec<u32> = step_spikes[proj.source]
                .iter()
                .filter_map(|&i| {
                    i.checked_sub(proj.source_start)
                        .filter(|l| *l < proj.source_len)
                })
                .collect();
            if !sources.is_empty() {
                events += sources
                    .iter()
                    .map(|&i| proj.csr.row(i).len() as u64)
                    .sum::<u64>();
                plastic
                    .queue
                    .push_back((n + 1 + u64::from(proj.delay_steps), sources));
            }
            let synapse = &compiled.network.projections[k].synapse;
            let Some(handler) = &synapse.on_post else {
                continue;
            };
            let with_synapses = plastic.by_target.len();
            let targets = step_spikes[proj.target].iter().filter_map(|&j| {
                j.checked_sub(proj.target_start)
                    .filter(|l| (*l as usize) < with_synapses)
            });
            for j in targets {
                // Indexed, not iterated: the handler borrows `plastic` mutably.
                for n_syn in 0..plastic.by_target[j as usize].len() {
                    let s = plastic.by_target[j as usize][n_syn] as usize;
                    plastic.advance_to(s, n + 1, dt);
                    let ev = super::plastic::Event {
                        synapse,
                        s,
                        pre_pop: proj.source,
                        post_pop: proj.target,
                        pre: (proj.source_start + plastic.source_of[s]) as usize,
                        post: (proj.target_start + j) as usize,
                        t: (n + 1) as f64 * dt,
                        dt,
                    };
                    let mut neurons = ChunkNeurons {
                        compiled,
                        chunks,
                        steps: n + 1,
                    };
                    plastic.run(&handler.body, &ev, &mut neurons);
                }
            }
        }
        events
    }

    /// Samples the traces due at the step boundary `boundary` (time
    /// `boundary · dt`).
    fn sample(&self, recorders: &mut Recorders, chunks: &mut Chunks, boundary: u64) {
        if !recorders
            .traces
            .iter()
            .any(|t| boundary.is_multiple_of(t.every_steps))
        {
            return;
        }
        let t = crate::output::grid_time(boundary, self.compiled.dt_ms);
        for trace in recorders.traces.iter_mut() {
            if !boundary.is_multiple_of(trace.every_steps) {
                continue;
            }
            let p = trace.population;
            let CompiledKind::Neuron { ir, verified, .. } = &self.compiled.populations[p].kind
            else {
                continue;
            };
            trace.times_ms.push(t);
            let scale = match trace.source {
                TraceSource::Column(b) => column_scale(self.compiled, p, b, boundary),
                TraceSource::Observable(_) => 1.0,
            };
            for &i in &trace.neurons {
                let (chunk, local) = chunks.at(p, i as usize);
                let value = match trace.source {
                    TraceSource::Column(b) => chunk.cols[b].get(local) * scale,
                    TraceSource::Observable(h) => {
                        let ctx = StepContext {
                            t,
                            first_neuron: chunk.start as u32,
                            ..context(self.compiled, p, boundary)
                        };
                        Interpreter::new(ir, verified).observe(h, &mut chunk.cols, local, &ctx)
                    }
                };
                trace.values.push(value / trace.unit_factor);
            }
        }
    }

    /// The first NaN or infinite state any chunk found, as the error that
    /// stops the run at the step boundary `boundary`.
    fn fault(&self, chunks: &mut Chunks, boundary: u64) -> Option<RunError> {
        for (p, p_info) in self.compiled.populations.iter().enumerate() {
            let CompiledKind::Neuron { verified, .. } = &p_info.kind else {
                continue;
            };
            for share in chunks.shares.iter() {
                let chunk = &share[p];
                let Some((k, i)) = chunk.fault else {
                    continue;
                };
                let b = verified.binding(Place::State(k))?;
                return Some(RunError::NonFinite(Box::new(NonFinite::new(
                    self.compiled,
                    p,
                    k,
                    (chunk.start + i) as u32,
                    chunk.cols[b].get(i) * state_scale(self.compiled, p, k, boundary),
                    boundary,
                ))));
            }
        }
        None
    }
}

/// For each row of `proj`, the offsets where it crosses into each chunk of
/// the target population (`bounds`: each chunk's first neuron, then the
/// size), and its length; see `Net::cuts`.
fn row_cuts(proj: &CompiledProjection, bounds: &[usize]) -> Vec<u32> {
    let start = proj.target_start as usize;
    let local: Vec<u32> = bounds[..bounds.len() - 1]
        .iter()
        .map(|&b| b.saturating_sub(start) as u32)
        .collect();
    let mut cuts = Vec::with_capacity(proj.source_len as usize * bounds.len());
    for r in 0..proj.source_len {
        let row = proj.csr.row(r);
        // Rows are sorted by target.
        cuts.extend(
            local
                .iter()
                .map(|&lo| row.partition_point(|&j| j < lo) as u32),
        );
        cuts.push(row.len() as u32);
    }
    cuts
}

/// Adds the effects of `proj`'s synapses `first..first + targets.len()`
/// (CSR indices; `targets` their target neurons, all in `chunk`) to the
/// chunk's ring buffers, each `counts[s]` times when given (a Poisson
/// generator's trains), else once. Returns the number of events.
///
/// Events due at the next step with no per-synapse delay, into a state in
/// a decay frame, skip the ring buffer: they are added to the column at
/// once (times `1 / scale` of step `now`), as the slot would be taken just
/// after; with `now` `None` such events are only counted.
fn deliver_row(
    chunk: &mut Chunk,
    proj: &CompiledProjection,
    first: usize,
    targets: &[u32],
    counts: Option<&[u32]>,
    now: Option<u64>,
) -> u64 {
    // Target neuron `j` of the projection is `j - offset` in the chunk.
    let offset = chunk.start as i64 - i64::from(proj.target_start);
    let at = |j: u32| (i64::from(j) - offset) as usize;
    let direct = counts.is_none() && proj.delays.is_none() && proj.delay_steps == 0;
    for effect in &proj.effects {
        let Some(inbox) = chunk.inbox.iter_mut().find(|x| x.target == effect.target) else {
            continue;
        };
        if let (true, Delivery::Column(c, r, Some(f))) = (direct, &inbox.delivery) {
            if let Some(n) = now {
                let cols = &mut chunk.cols;
                let bad = match &effect.weights {
                    Weights::Constant(w) => {
                        let events = targets.iter().map(|&j| (at(j), *w));
                        add_framed(cols, (*c, *r), f, n, events)
                    }
                    Weights::PerSynapse(ws) => {
                        let events = targets.iter().zip(&ws[first..]);
                        add_framed(
                            cols,
                            (*c, *r),
                            f,
                            n,
                            events.map(|(&j, &w)| (at(j), f64::from(w))),
                        )
                    }
                };
                if bad.is_some() && chunk.fault.is_none() {
                    chunk.fault = bad.map(|i| (f.state, i));
                }
            }
            continue;
        }
        let weight = |s: usize| match &effect.weights {
            Weights::Constant(w) => *w,
            Weights::PerSynapse(ws) => f64::from(ws[first + s]),
        };
        // A projection-wide delay: every event lands in one slot, whose
        // touched entries are noted while they are few.
        if proj.delays.is_none() {
            let (len, index) = (
                inbox.buffer.targets(),
                inbox.buffer.slot_index(proj.delay_steps as usize),
            );
            if let Some(marks) = inbox.marks.get_mut(index) {
                marks.note(len, targets.iter().map(|&j| at(j) as u32));
            }
        }
        match (counts, &proj.delays) {
            (None, None) => {
                let slot = inbox.buffer.slot_mut(proj.delay_steps as usize);
                match &effect.weights {
                    Weights::Constant(w) => {
                        for &j in targets {
                            slot[at(j)] += *w;
                        }
                    }
                    Weights::PerSynapse(ws) => {
                        for (&j, &w) in targets.iter().zip(&ws[first..]) {
                            slot[at(j)] += f64::from(w);
                        }
                    }
                }
            }
            (None, Some(delays)) => {
                for (s, &j) in targets.iter().enumerate() {
                    let slot = inbox.buffer.slot_mut(usize::from(delays[first + s]));
                    slot[at(j)] += weight(s);
                }
            }
            // Adding 0 for a count of 0 costs less than a branch.
            (Some(counts), None) => {
                let slot = inbox.buffer.slot_mut(proj.delay_steps as usize);
                match &effect.weights {
                    Weights::Constant(w) => {
                        for (&j, &c) in targets.iter().zip(counts) {
                            slot[at(j)] += f64::from(c) * *w;
                        }
                    }
                    Weights::PerSynapse(ws) => {
                        for ((&j, &c), &w) in targets.iter().zip(counts).zip(&ws[first..]) {
                            slot[at(j)] += f64::from(c) * f64::from(w);
                        }
                    }
                }
            }
            (Some(counts), Some(delays)) => {
                for (s, (&j, &c)) in targets.iter().zip(counts).enumerate() {
                    let slot = inbox.buffer.slot_mut(usize::from(delays[first + s]));
                    slot[at(j)] += f64::from(c) * weight(s);
                }
            }
        }
    }
    match counts {
        Some(counts) => counts.iter().map(|&c| u64::from(c)).sum(),
        None => targets.len() as u64,
    }
}

/// Adds events straight into the column `c` of a framed state (with the
/// refractory counter `r` when the state is clamped): each event `(i, w)`
/// adds `w / scale` of step `n` to neuron `i`. Returns the first neuron
/// whose value became NaN or infinite, if one did.
fn add_framed(
    cols: &mut [ColumnData],
    (c, r): (usize, Option<usize>),
    f: &Framed,
    n: u64,
    events: impl Iterator<Item = (usize, f64)>,
) -> Option<usize> {
    let inv = 1.0 / f.frame.scale(n);
    // A plain slice: its pointer and length stay in registers.
    let (column, counter) = framed_column(cols, c, r);
    // `x - x` is +0 for a finite `x` and NaN otherwise: OR-ing the bits
    // costs one integer OR per event, with no chain of float latencies.
    let mut bits = 0u64;
    for (i, w) in events {
        let w = match counter {
            Some(counter) => dense::open(w, counter[i]),
            None => w,
        };
        let x = column[i] + w * inv;
        #[allow(clippy::eq_op)]
        let zero = x - x;
        bits |= zero.to_bits();
        column[i] = x;
    }
    match bits {
        0 => None,
        _ => column.iter().position(|x| !x.is_finite()),
    }
}

/// All chunks, locked for the serial part of a step.
struct Chunks<'a> {
    /// Per thread, its chunk of every population.
    shares: Vec<MutexGuard<'a, Vec<Chunk>>>,
    bounds: &'a [Vec<usize>],
}

impl Chunks<'_> {
    /// Thread `k`'s chunk of population `p`.
    fn chunk(&mut self, p: usize, k: usize) -> &mut Chunk {
        &mut self.shares[k][p]
    }

    /// The chunk holding neuron `i` of population `p`, and `i` within it.
    fn at(&mut self, p: usize, i: usize) -> (&mut Chunk, usize) {
        let bounds = &self.bounds[p];
        // The first chunk that ends after `i` (empty chunks end where they start).
        let k = bounds[1..].partition_point(|&end| end <= i);
        let k = k.min(self.shares.len() - 1);
        (&mut self.shares[k][p], i - bounds[k])
    }
}

/// Locks `m`; a poisoned lock (a panicked worker) is carried on with, the
/// panic itself reaches the caller through the team.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The decay frame of state `k` of population `p`, if it has one.
fn frame_of<'c>(c: &'c CompiledNetwork, p: usize, k: u32) -> Option<&'c Frame> {
    match &c.populations[p].kind {
        CompiledKind::Neuron { ir, .. } => ir.frame_of(k),
        _ => None,
    }
}

/// The factor that turns the column of state `k` of population `p` into
/// its value after `steps` completed steps: its frame's scale, or 1.
fn state_scale(c: &CompiledNetwork, p: usize, k: u32, steps: u64) -> f64 {
    frame_of(c, p, k).map_or(1.0, |f| f.scale(steps))
}

/// [`state_scale`] of the state stored in column `b`, if a state is.
fn column_scale(c: &CompiledNetwork, p: usize, b: usize, steps: u64) -> f64 {
    match &c.populations[p].kind {
        CompiledKind::Neuron { ir, verified, .. } => ir
            .frames
            .iter()
            .find(|f| verified.binding(Place::State(f.state)) == Some(b))
            .map_or(1.0, |f| f.scale(steps)),
        _ => 1.0,
    }
}

/// The step context of population `p` at step `n` (also the moment after
/// `n` completed steps: the frames' scales are those).
fn context(c: &CompiledNetwork, p: usize, n: u64) -> StepContext {
    StepContext {
        t: n as f64 * c.dt_ms,
        dt: c.dt_ms,
        step: n,
        seed: c.seed,
        population: p as u32,
        first_neuron: 0,
        frames: match &c.populations[p].kind {
            CompiledKind::Neuron { ir, .. } => ir.frame_scales(n),
            _ => [1.0; nmlc_compiler::abi::MAX_FRAMES],
        },
    }
}

impl Chunk {
    /// Empties the ring buffers due at the start of step `n` into the state.
    fn deliver(&mut self, n: u64) {
        for Inbox {
            delivery,
            buffer,
            marks,
            ..
        } in self.inbox.iter_mut()
        {
            let marks = marks.get_mut(buffer.step_index(n));
            let listed = marks.as_ref().filter(|m| !m.full).map(|m| &m.touched[..]);
            let values = buffer.current_slot_mut(n);
            // Each slot is emptied as it is read: it is reused for the step
            // `slots` ahead.
            match delivery {
                Delivery::Column(c, r, Some(f)) => {
                    let (column, counter) = framed_column(&mut self.cols, *c, *r);
                    let scale = f.frame.scale(n);
                    if !dense::take_framed(column, values, listed, counter, scale)
                        && self.fault.is_none()
                    {
                        // The kernel does not write a framed state: it is
                        // checked here, where it changes.
                        let bad = column.iter().position(|x| !x.is_finite());
                        self.fault = bad.map(|i| (f.state, i));
                    }
                }
                Delivery::Column(c, r, None) => {
                    // Zero where refractory (with a counter), without a branch.
                    let (column, counter) = column_and_counter(&mut self.cols, *c, *r);
                    dense::add_slot(column, values, None, counter, listed, true);
                }
                Delivery::SpikeInput(targets) => {
                    for (k, (c, factor)) in targets.iter().enumerate() {
                        let last = k + 1 == targets.len();
                        dense::add_slot(&mut self.cols[*c], values, Some(factor), None, None, last);
                    }
                    if targets.is_empty() {
                        values.fill(0.0);
                    }
                }
            }
            if let Some(marks) = marks {
                marks.reset();
            }
        }
    }

    /// Brings the framed states of population `p` back to scale 1 where a
    /// period ends with `steps` completed steps.
    fn renormalize(&mut self, ir: &NeuronIr, verified: &Verified, steps: u64) {
        for frame in &ir.frames {
            let Some(factor) = frame.renormalization(steps) else {
                continue;
            };
            let Some(b) = verified.binding(Place::State(frame.state)) else {
                continue;
            };
            if let ColumnData::F64(column) = &mut self.cols[b] {
                column.iter_mut().for_each(|x| *x *= factor);
            }
        }
    }

    /// Records in `fault` the first state of population `p` that is NaN or
    /// infinite, if any. `only`: the states to look at, where the others
    /// are known to be finite (the step kernel checked those it wrote);
    /// `None`: all.
    fn check_finite(&mut self, c: &CompiledNetwork, p: usize, only: Option<&[u32]>) {
        let CompiledKind::Neuron { ir, verified, .. } = &c.populations[p].kind else {
            return;
        };
        for k in 0..ir.states.len() as u32 {
            if only.is_some_and(|only| !only.contains(&k)) {
                continue;
            }
            let Some(b) = verified.binding(Place::State(k)) else {
                continue;
            };
            // A vectorised pass first, the search only when something is wrong.
            let bad = match &self.cols[b] {
                ColumnData::F64(v) if !dense::all_finite(v) => {
                    v.iter().position(|x| !x.is_finite())
                }
                ColumnData::F32(v) if !dense::all_finite_f32(v) => {
                    v.iter().position(|x| !x.is_finite())
                }
                _ => None,
            };
            if let Some(i) = bad {
                self.fault = Some((k, i));
                return;
            }
        }
    }
}

/// Column `c` for writing and, if given, the refractory counter in column
/// `r` (another one) for reading.
fn column_and_counter(
    cols: &mut [ColumnData],
    c: usize,
    r: Option<usize>,
) -> (&mut ColumnData, Option<&[i32]>) {
    let Some(r) = r else {
        return (&mut cols[c], None);
    };
    assert_ne!(c, r, "a delivery column is not its own refractory counter");
    let (column, counter) = if c < r {
        let (low, high) = cols.split_at_mut(r);
        (&mut low[c], &high[0])
    } else {
        let (low, high) = cols.split_at_mut(c);
        (&mut high[0], &low[r])
    };
    let counter = match counter {
        ColumnData::I32(k) => Some(&k[..]),
        _ => None,
    };
    (column, counter)
}

/// [`column_and_counter`] for a framed state, whose column is `f64`.
fn framed_column(
    cols: &mut [ColumnData],
    c: usize,
    r: Option<usize>,
) -> (&mut [f64], Option<&[i32]>) {
    match column_and_counter(cols, c, r) {
        (ColumnData::F64(column), counter) => (column, counter),
        _ => unreachable!("frames are of f64 states"),
    }
}

/// Splits a population's columns and inboxes into `parts` chunks of
/// (nearly) equal size; some are empty when there are fewer neurons than
/// parts.
fn split(cols: Vec<ColumnData>, inbox: Vec<Inbox>, size: usize, parts: usize) -> Vec<Chunk> {
    let mut chunks = Vec::with_capacity(parts);
    for k in 0..parts {
        let start = size * k / parts;
        let end = size * (k + 1) / parts;
        let slice = |c: &ColumnData| match c {
            ColumnData::F64(v) => ColumnData::F64(Aligned::from_slice(&v[start..end])),
            ColumnData::F32(v) => ColumnData::F32(Aligned::from_slice(&v[start..end])),
            ColumnData::I32(v) => ColumnData::I32(Aligned::from_slice(&v[start..end])),
        };
        let inbox = inbox
            .iter()
            .map(|x| Inbox {
                target: x.target,
                delivery: match &x.delivery {
                    Delivery::Column(c, r, f) => Delivery::Column(*c, *r, f.clone()),
                    Delivery::SpikeInput(t) => Delivery::SpikeInput(
                        t.iter()
                            .map(|(c, f)| (*c, f[start..end].to_vec()))
                            .collect(),
                    ),
                },
                buffer: RingBuffer::new(x.buffer.max_delay_steps(), end - start),
                marks: vec![Marks::default(); x.marks.len()],
            })
            .collect();
        chunks.push(Chunk {
            start,
            len: end - start,
            cols: cols.iter().map(slice).collect(),
            inbox,
            spikes: Vec::new(),
            events: 0,
            counts: Vec::new(),
            fault: None,
        });
    }
    chunks
}

/// One inbox per (target population, target variable) that some projection
/// feeds, sized for the longest delay into it.
fn inboxes(
    c: &CompiledNetwork,
    projections: &[CompiledProjection],
    columns: &mut [Vec<ColumnData>],
) -> Result<Vec<Vec<Inbox>>, RunError> {
    // Per inbox: the longest delay, and whether a projection into it has
    // per-synapse delays (its events land in many slots at once: the
    // slots' entries are then not listed, see `Marks`).
    let mut longest: Vec<((usize, EffectTarget), u32, bool)> = Vec::new();
    for p in projections {
        for e in &p.effects {
            let key = (p.target, e.target);
            let spread = p.delays.is_some();
            match longest.iter_mut().find(|(k, _, _)| *k == key) {
                Some((_, d, any)) => {
                    *d = (*d).max(p.delay_steps);
                    *any |= spread;
                }
                None => longest.push((key, p.delay_steps, spread)),
            }
        }
    }
    let mut out: Vec<Vec<Inbox>> = (0..c.populations.len()).map(|_| Vec::new()).collect();
    for ((pop, target), delay, spread) in longest {
        let CompiledKind::Neuron {
            ir,
            verified,
            model,
            ..
        } = &c.populations[pop].kind
        else {
            continue;
        };
        let size = c.populations[pop].size as usize;
        let column = |k: u32| {
            verified
                .binding(Place::State(k))
                .expect("every state has a column")
        };
        let delivery = match target {
            // Resolved to a state when the projection was built.
            EffectTarget::State(k) | EffectTarget::PostState(k) => {
                let refractory = &c.program.neurons[*model as usize].refractory;
                let clamped = refractory.as_ref().is_some_and(|r| r.clamp.contains(&k));
                let counter = verified
                    .binding(Place::Refractory)
                    .filter(|&b| clamped && ir.columns()[b].ty == nmlc_compiler::ir::Type::I32);
                let framed = ir.frame_of(k).map(|frame| {
                    Box::new(Framed {
                        state: k,
                        frame: frame.clone(),
                    })
                });
                Delivery::Column(column(k), counter, framed)
            }
            EffectTarget::SpikeInput(k) => {
                let name = &c.program.neurons[*model as usize].inputs[k as usize].name;
                let ctx = context(c, pop, 0);
                let interp = Interpreter::new(ir, verified);
                let mut targets = Vec::new();
                if let Some(input) = ir.spike_inputs.iter().find(|s| s.name == *name) {
                    for (state, factor) in &input.targets {
                        let factors = (0..size)
                            .map(|j| interp.eval_for(*factor, &mut columns[pop], j, &ctx))
                            .collect();
                        targets.push((column(*state), factors));
                    }
                }
                Delivery::SpikeInput(targets)
            }
        };
        // Listing pays where a slot goes into one double-precision state.
        let listed = !spread
            && matches!(delivery, Delivery::Column(k, ..)
                if matches!(columns[pop][k], ColumnData::F64(_)));
        let marks = if listed { delay as usize + 1 } else { 0 };
        out[pop].push(Inbox {
            target,
            delivery,
            buffer: RingBuffer::new(delay as usize, size),
            marks: vec![Marks::default(); marks],
        });
    }
    Ok(out)
}

/// The neurons as plastic-synapse handlers see them.
struct ChunkNeurons<'a, 'b, 'p> {
    compiled: &'a CompiledNetwork<'p>,
    chunks: &'a mut Chunks<'b>,
    /// The steps completed when the handlers run (for decay frames).
    steps: u64,
}

impl ChunkNeurons<'_, '_, '_> {
    fn binding(&self, p: usize, place: Place) -> Option<usize> {
        match &self.compiled.populations[p].kind {
            CompiledKind::Neuron { verified, .. } => verified.binding(place),
            CompiledKind::Source { .. } | CompiledKind::Generator { .. } => None,
        }
    }
}

impl super::plastic::Neurons for ChunkNeurons<'_, '_, '_> {
    fn read(&mut self, p: usize, var: nmlc_compiler::model::NeuronVar, i: usize) -> f64 {
        use nmlc_compiler::model::NeuronVar;
        let place = match var {
            NeuronVar::State(k) => Place::State(k),
            NeuronVar::Input(k) => Place::Input(k),
            NeuronVar::Param(k) => {
                if let CompiledKind::Neuron { params, .. } = &self.compiled.populations[p].kind
                    && let Some(ParamPlan::Constant(v)) = params.get(k as usize)
                {
                    return *v;
                }
                Place::Param(k)
            }
            _ => return 0.0,
        };
        let Some(b) = self.binding(p, place) else {
            return 0.0;
        };
        let scale = match place {
            Place::State(k) => state_scale(self.compiled, p, k, self.steps),
            _ => 1.0,
        };
        let (chunk, local) = self.chunks.at(p, i);
        chunk.cols[b].get(local) * scale
    }

    fn write_state(&mut self, p: usize, k: u32, i: usize, v: f64) {
        let Some(b) = self.binding(p, Place::State(k)) else {
            return;
        };
        let scale = frame_of(self.compiled, p, k).map(|f| f.scale(self.steps));
        let (chunk, local) = self.chunks.at(p, i);
        chunk.cols[b].set(local, v / scale.unwrap_or(1.0));
        // The kernel checks the states it writes, not a framed one.
        if scale.is_some() && !v.is_finite() && chunk.fault.is_none() {
            chunk.fault = Some((k, local));
        }
    }
}

/// The train of each generator of a `PoissonGenerator` population of `size`
/// with rate expression `rate` (an expression of `i`).
fn generator_trains(
    c: &CompiledNetwork,
    size: u32,
    rate: &nmlc_compiler::model::Expr,
) -> Result<Vec<Train>, RunError> {
    (0..size)
        .map(|i| {
            let scope = ValueScope {
                network_params: &c.network_params,
                index: i,
                target_index: None,
                size,
                model_params: &[],
                positions: None,
            };
            let stream = Stream::new(c.seed, StreamKind::Initialisation, 0, i);
            let v = evaluate(rate, &scope, &mut stream.draws(0))
                .map_err(|e| RunError::from_value(e, "the rate of a Poisson generator"))?;
            if !(v.is_finite() && v >= 0.0) {
                return Err(RunError::model(
                    Diagnostic::error(
                        "nml::invalid_value",
                        format!("the rate of a Poisson generator must be finite and not negative, not {} Hz", v * 1000.0),
                    )
                    .at(rate.span, "this rate"),
                ));
            }
            Ok(Train::new(v * c.dt_ms))
        })
        .collect()
}
