//! Building the populations' storage and running the time steps.

use nmlc_compiler::abi::rng::{Stream, StreamKind};
use nmlc_compiler::abi::{ColumnData, StepContext};
use nmlc_compiler::ir::Place;
use nmlc_compiler::ir::interp::Interpreter;

use super::compile::{CompiledKind, CompiledNetwork, ParamPlan};
use super::error::RunError;
use super::projection::{CompiledProjection, EffectTarget, Weights, build_projection};
use super::record::{Recorders, TraceSource};
use super::values::{ValueScope, evaluate};
use crate::ring_buffer::RingBuffer;
use rayon::prelude::*;

/// The `step` slot of the initialisation stream used for the initial value
/// of state variable `k` is `STATE_SLOT + k`; parameter `k` uses slot `k`.
pub const STATE_SLOT: u64 = 1 << 32;

/// A built network: storage of every population, recorders, and how far
/// the run has come.
pub struct Simulation<'c, 'p> {
    pub(crate) compiled: &'c CompiledNetwork<'p>,
    /// Per population, its storage in chunks (one per thread; none for
    /// spike sources).
    chunks: Vec<Vec<Chunk>>,
    pub(crate) recorders: Recorders,
    /// Per population, all spikes emitted.
    pub(crate) spike_counts: Vec<u64>,
    /// Steps completed.
    pub(crate) steps_done: u64,
    /// Whether the run stopped before its end.
    pub(crate) stopped: bool,
    /// The projections, in network order.
    pub(crate) projections: Vec<CompiledProjection>,
    /// Per population, the projections that target it, in network order.
    incoming: Vec<Vec<usize>>,
    /// Spike deliveries across synapses so far.
    pub(crate) synaptic_events: u64,
    /// Worker threads (absent when running on one thread).
    pool: Option<rayon::ThreadPool>,
    /// Per population, the neurons that spiked in the current step
    /// (population indices, increasing).
    step_spikes: Vec<Vec<u32>>,
}

/// One thread's share of a population: neurons `start..start + len`.
///
/// A population is split into as many chunks as there are threads; each
/// chunk owns its columns and the ring buffers of its neurons, so a thread
/// updating or delivering to its chunk never writes anything another thread
/// touches, and no atomics are needed. Results do not depend on the split:
/// neurons are independent within a step, random numbers are keyed by the
/// population index of a neuron, and each target receives its inputs in the
/// same order (projection order, then spike order) whatever the chunks.
struct Chunk {
    start: usize,
    len: usize,
    cols: Vec<ColumnData>,
    inbox: Vec<Inbox>,
    spikes: Vec<u32>,
}

/// Spikes on their way to one variable of a population.
struct Inbox {
    /// What the spikes change.
    target: EffectTarget,
    /// How the buffer's contents are applied.
    delivery: Delivery,
    /// The inputs per target neuron and future step.
    buffer: RingBuffer<f64>,
}

/// Where the contents of a ring buffer go at the start of a step.
#[derive(Clone)]
enum Delivery {
    /// Added to one column (a state variable).
    Column(usize),
    /// A spike input: added to each of these columns times a per-neuron factor.
    SpikeInput(Vec<(usize, Vec<f64>)>),
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
        let recorders = Recorders::new(compiled)?;
        let projections: Vec<CompiledProjection> = (0..compiled.network.projections.len())
            .map(|k| build_projection(compiled, k))
            .collect::<Result<_, _>>()?;
        let mut incoming = vec![Vec::new(); compiled.populations.len()];
        for (k, p) in projections.iter().enumerate() {
            incoming[p.target].push(k);
        }
        let inboxes = inboxes(compiled, &projections, &mut columns)?;
        let threads = compiled.threads.max(1);
        let chunks = columns
            .into_iter()
            .zip(inboxes)
            .zip(&compiled.populations)
            .map(|((cols, inbox), p)| match p.kind {
                CompiledKind::Neuron { .. } => split(cols, inbox, p.size as usize, threads),
                CompiledKind::Source { .. } => Vec::new(),
            })
            .collect();
        let pool = if threads > 1 {
            Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .map_err(|e| RunError::BadSetting {
                        setting: "--threads".into(),
                        problem: format!("cannot start {threads} threads: {e}"),
                    })?,
            )
        } else {
            None
        };
        let mut sim = Simulation {
            compiled,
            chunks,
            recorders,
            spike_counts: vec![0; compiled.populations.len()],
            steps_done: 0,
            stopped: false,
            projections,
            incoming,
            synaptic_events: 0,
            pool,
            step_spikes: vec![Vec::new(); compiled.populations.len()],
        };
        sim.sample(0);
        sim.check_finite(0)?;
        Ok(sim)
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

    /// The model time reached (ms).
    pub fn t_reached_ms(&self) -> f64 {
        self.steps_done as f64 * self.compiled.dt_ms
    }

    /// Runs every step. Step `n` advances from `t_n = n·dt` to `t_{n+1}`:
    /// spike events due at the step are applied, every population is
    /// updated (chunks in parallel), spikes are stamped `t_{n+1}` and sent
    /// along the projections (each target chunk in parallel); recorders
    /// sample after the step. A NaN or infinite state stops the run with
    /// [`RunError::NonFinite`]; what was recorded until then is kept.
    pub fn run(&mut self) -> Result<(), RunError> {
        let steps = self.compiled.steps();
        let mut source_cursor = vec![0usize; self.compiled.populations.len()];
        while self.steps_done < steps {
            let n = self.steps_done;
            self.couple();
            self.plastic_arrivals(n);
            self.update(n);
            for (p_index, p) in self.compiled.populations.iter().enumerate() {
                let spiked = &mut self.step_spikes[p_index];
                spiked.clear();
                match &p.kind {
                    CompiledKind::Neuron { .. } => {
                        for chunk in &self.chunks[p_index] {
                            spiked.extend_from_slice(&chunk.spikes);
                        }
                    }
                    CompiledKind::Source { spikes } => {
                        let cursor = &mut source_cursor[p_index];
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
                }
            }
            for p_index in 0..self.compiled.populations.len() {
                let spiked = std::mem::take(&mut self.step_spikes[p_index]);
                self.record_spikes(p_index, n, &spiked);
                self.step_spikes[p_index] = spiked;
            }
            self.propagate();
            self.plastic_spikes(n);
            self.steps_done = n + 1;
            self.sample(n + 1);
            if let Err(e) = self.check_finite(n + 1) {
                self.stopped = true;
                return Err(e);
            }
        }
        Ok(())
    }

    /// Continuous coupling (`output I = w * pre.r`): each target's input is
    /// set to the sum over its synapses of `w` times the presynaptic value
    /// at the start of the step.
    fn couple(&mut self) {
        let compiled = self.compiled;
        let column = |p: usize, place: Place| -> Option<usize> {
            match &compiled.populations[p].kind {
                CompiledKind::Neuron { verified, .. } => verified.binding(place),
                CompiledKind::Source { .. } => None,
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
                    for chunk in self.chunks[proj.target].iter_mut() {
                        match &mut chunk.cols[input] {
                            ColumnData::F64(v) => v.fill(0.0),
                            ColumnData::F32(v) => v.fill(0.0),
                            ColumnData::I32(v) => v.fill(0),
                        }
                    }
                }
                let Some(state) = column(proj.source, Place::State(out.pre_state)) else {
                    continue;
                };
                let pre: Vec<f64> = (0..proj.source_len as usize)
                    .map(|l| {
                        let (k, local) = self.locate(proj.source, proj.source_start as usize + l);
                        self.chunks[proj.source][k].cols[state].get(local)
                    })
                    .collect();
                for (l, x) in pre.iter().enumerate() {
                    let row_start = proj.csr.row_start[l] as usize;
                    for (s, &j) in proj.csr.row(l as u32).iter().enumerate() {
                        let w = match &out.weights {
                            Weights::Constant(w) => *w,
                            Weights::PerSynapse(ws) => f64::from(ws[row_start + s]),
                        };
                        let (k, local) = self.locate(proj.target, (proj.target_start + j) as usize);
                        let col = &mut self.chunks[proj.target][k].cols[input];
                        let v = col.get(local);
                        col.set(local, v + w * x);
                    }
                }
            }
        }
    }

    /// Runs `on pre` of plastic synapses whose presynaptic spikes arrive at
    /// the start of step `n` (see [`super::plastic`]).
    fn plastic_arrivals(&mut self, n: u64) {
        let compiled = self.compiled;
        let dt = compiled.dt_ms;
        for k in 0..self.projections.len() {
            let proj = &mut self.projections[k];
            let Some(plastic) = proj.plastic.as_mut() else {
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
                            chunks: &mut self.chunks,
                        };
                        plastic.run(&handler.body, &ev, &mut neurons);
                    }
                }
            }
        }
    }

    /// Queues this step's presynaptic spikes of plastic projections and runs
    /// `on post` for the synapses onto neurons that spiked (at `t_{n+1}`).
    fn plastic_spikes(&mut self, n: u64) {
        let compiled = self.compiled;
        let dt = compiled.dt_ms;
        for k in 0..self.projections.len() {
            let proj = &mut self.projections[k];
            let Some(plastic) = proj.plastic.as_mut() else {
                continue;
            };
            let sources: Vec<u32> = self.step_spikes[proj.source]
                .iter()
                .filter_map(|&i| {
                    i.checked_sub(proj.source_start)
                        .filter(|l| *l < proj.source_len)
                })
                .collect();
            if !sources.is_empty() {
                self.synaptic_events += sources
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
            let targets: Vec<u32> = self.step_spikes[proj.target]
                .iter()
                .filter_map(|&j| {
                    j.checked_sub(proj.target_start)
                        .filter(|l| (*l as usize) < plastic.by_target.len())
                })
                .collect();
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
                        chunks: &mut self.chunks,
                    };
                    plastic.run(&handler.body, &ev, &mut neurons);
                }
            }
        }
    }

    /// Delivers the events due at step `n` and advances every neuron.
    fn update(&mut self, n: u64) {
        let compiled = self.compiled;
        let work = |p_index: usize, chunk: &mut Chunk| {
            chunk.deliver(n);
            chunk.spikes.clear();
            if let CompiledKind::Neuron {
                kernel: Some(kernel),
                ..
            } = &compiled.populations[p_index].kind
            {
                let ctx = StepContext {
                    first_neuron: chunk.start as u32,
                    ..context(compiled, p_index, n)
                };
                kernel.step(&ctx, &mut chunk.cols, 0, chunk.len, &mut chunk.spikes);
                for s in chunk.spikes.iter_mut() {
                    *s += chunk.start as u32;
                }
            }
        };
        match &self.pool {
            None => {
                for (p_index, chunks) in self.chunks.iter_mut().enumerate() {
                    for chunk in chunks.iter_mut() {
                        work(p_index, chunk);
                    }
                }
            }
            Some(pool) => {
                let mut all: Vec<(usize, &mut Chunk)> = self
                    .chunks
                    .iter_mut()
                    .enumerate()
                    .flat_map(|(p, cs)| cs.iter_mut().map(move |c| (p, c)))
                    .collect();
                pool.install(|| all.par_iter_mut().for_each(|(p, c)| work(*p, c)));
            }
        }
    }

    /// Sends this step's spikes along the projections: each target chunk
    /// takes, from every projection into its population (in network order),
    /// the synapses of each spiking neuron (in index order) that end in it.
    fn propagate(&mut self) {
        let projections = &self.projections;
        let incoming = &self.incoming;
        let step_spikes = &self.step_spikes;
        let work = |p_index: usize, chunk: &mut Chunk| -> u64 {
            let mut events = 0u64;
            for &k in &incoming[p_index] {
                let proj = &projections[k];
                if proj.plastic.is_some() {
                    // Delivered synapse by synapse (`plastic_arrivals`).
                    continue;
                }
                // The chunk's neurons in the projection's target coordinates.
                let lo = (chunk.start as i64 - i64::from(proj.target_start)).max(0) as u32;
                let hi =
                    ((chunk.start + chunk.len) as i64 - i64::from(proj.target_start)).max(0) as u32;
                if lo >= hi {
                    continue;
                }
                for &i in &step_spikes[proj.source] {
                    let Some(local) = i
                        .checked_sub(proj.source_start)
                        .filter(|l| *l < proj.source_len)
                    else {
                        continue;
                    };
                    let row_start = proj.csr.row_start[local as usize] as usize;
                    let row = proj.csr.row(local);
                    // Rows are sorted by target: this chunk's part is a range.
                    let a = row.partition_point(|&j| j < lo);
                    let b = row.partition_point(|&j| j < hi);
                    events += (b - a) as u64;
                    for effect in &proj.effects {
                        let Some(inbox) =
                            chunk.inbox.iter_mut().find(|x| x.target == effect.target)
                        else {
                            continue;
                        };
                        for (s, &j) in row[a..b].iter().enumerate() {
                            let w = match &effect.weights {
                                Weights::Constant(w) => *w,
                                Weights::PerSynapse(ws) => f64::from(ws[row_start + a + s]),
                            };
                            let target = (proj.target_start + j) as usize - chunk.start;
                            let delay = match &proj.delays {
                                Some(d) => usize::from(d[row_start + a + s]),
                                None => proj.delay_steps as usize,
                            };
                            // Sizes and delays were checked when the buffer was made.
                            let _ = inbox.buffer.add(delay, target, w);
                        }
                    }
                }
            }
            events
        };
        let events: u64 = match &self.pool {
            None => self
                .chunks
                .iter_mut()
                .enumerate()
                .map(|(p, cs)| cs.iter_mut().map(|c| work(p, c)).sum::<u64>())
                .sum(),
            Some(pool) => {
                let mut all: Vec<(usize, &mut Chunk)> = self
                    .chunks
                    .iter_mut()
                    .enumerate()
                    .flat_map(|(p, cs)| cs.iter_mut().map(move |c| (p, c)))
                    .collect();
                pool.install(|| all.par_iter_mut().map(|(p, c)| work(*p, c)).sum())
            }
        };
        self.synaptic_events += events;
    }

    fn record_spikes(&mut self, population: usize, step: u64, spiked: &[u32]) {
        self.spike_counts[population] += spiked.len() as u64;
        let r = &mut self.recorders;
        if let Some(mask) = &r.spike_mask[population] {
            for &j in spiked {
                if mask.get(j as usize).copied().unwrap_or(false) {
                    // Stamped at the end of the step.
                    r.spikes[population].push((step + 1, j));
                }
            }
        }
        for rate in r.rates.iter_mut().filter(|x| x.population == population) {
            let count = spiked
                .iter()
                .filter(|j| (rate.start..rate.end).contains(j))
                .count() as u64;
            if let Some(bin) = rate.counts.get_mut((step / rate.every_steps) as usize) {
                *bin += count;
            }
        }
    }

    /// The chunk holding neuron `i` of population `p`, and `i` within it.
    fn locate(&self, p: usize, i: usize) -> (usize, usize) {
        locate(&self.chunks[p], i)
    }

    /// Samples the traces due at the step boundary `boundary` (time
    /// `boundary · dt`).
    fn sample(&mut self, boundary: u64) {
        let t = crate::output::grid_time(boundary, self.compiled.dt_ms);
        for trace_index in 0..self.recorders.traces.len() {
            let trace = &self.recorders.traces[trace_index];
            if !boundary.is_multiple_of(trace.every_steps) {
                continue;
            }
            let p = trace.population;
            let mut values = Vec::with_capacity(trace.neurons.len());
            for &i in &trace.neurons {
                let (k, local) = self.locate(p, i as usize);
                let value = match trace.source {
                    TraceSource::Column(b) => self.chunks[p][k].cols[b].get(local),
                    TraceSource::Observable(h) => {
                        let CompiledKind::Neuron { ir, verified, .. } =
                            &self.compiled.populations[p].kind
                        else {
                            continue;
                        };
                        let ctx = StepContext {
                            t,
                            first_neuron: self.chunks[p][k].start as u32,
                            ..context(self.compiled, p, boundary)
                        };
                        let interp = Interpreter::new(ir, verified);
                        interp.observe(h, &mut self.chunks[p][k].cols, local, &ctx)
                    }
                };
                values.push(value / trace.unit_factor);
            }
            let trace = &mut self.recorders.traces[trace_index];
            trace.times_ms.push(t);
            trace.values.extend(values);
        }
    }

    fn check_finite(&self, boundary: u64) -> Result<(), RunError> {
        for (p_index, p) in self.compiled.populations.iter().enumerate() {
            let CompiledKind::Neuron { ir, verified, .. } = &p.kind else {
                continue;
            };
            for (k, state) in ir.states.iter().enumerate() {
                let Some(b) = verified.binding(Place::State(k as u32)) else {
                    continue;
                };
                for chunk in &self.chunks[p_index] {
                    // A branch-free pass first (it vectorises), the search
                    // only when something is wrong.
                    let bad = match &chunk.cols[b] {
                        ColumnData::F64(v) if !v.iter().fold(true, |ok, x| ok & x.is_finite()) => {
                            v.iter().position(|x| !x.is_finite())
                        }
                        ColumnData::F32(v) if !v.iter().fold(true, |ok, x| ok & x.is_finite()) => {
                            v.iter().position(|x| !x.is_finite())
                        }
                        _ => None,
                    };
                    if let Some(i) = bad {
                        return Err(RunError::NonFinite {
                            population: p.name.clone(),
                            neuron: (chunk.start + i) as u32,
                            variable: state.name.clone(),
                            value: chunk.cols[b].get(i),
                            time_ms: crate::output::grid_time(boundary, self.compiled.dt_ms),
                        });
                    }
                }
            }
        }
        Ok(())
    }
}

/// The step context of population `p` at step `n`.
fn context(c: &CompiledNetwork, p: usize, n: u64) -> StepContext {
    StepContext {
        t: n as f64 * c.dt_ms,
        dt: c.dt_ms,
        step: n,
        seed: c.seed,
        population: p as u32,
        first_neuron: 0,
    }
}

impl Chunk {
    /// Empties the ring buffers due at the start of step `n` into the state.
    fn deliver(&mut self, n: u64) {
        for Inbox {
            delivery, buffer, ..
        } in self.inbox.iter_mut()
        {
            let values = buffer.current_slot_mut(n);
            match delivery {
                Delivery::Column(c) => add_into(&mut self.cols[*c], values, None),
                Delivery::SpikeInput(targets) => {
                    for (c, factor) in targets.iter() {
                        add_into(&mut self.cols[*c], values, Some(factor));
                    }
                }
            }
            // Consumed: the slot is reused for the step `slots` ahead.
            values.fill(0.0);
        }
    }
}

/// Splits a population's columns and inboxes into `parts` chunks of
/// (nearly) equal size.
fn split(cols: Vec<ColumnData>, inbox: Vec<Inbox>, size: usize, parts: usize) -> Vec<Chunk> {
    let parts = parts.clamp(1, size.max(1));
    let mut chunks = Vec::with_capacity(parts);
    for k in 0..parts {
        let start = size * k / parts;
        let end = size * (k + 1) / parts;
        let slice = |c: &ColumnData| match c {
            ColumnData::F64(v) => ColumnData::F64(v[start..end].to_vec()),
            ColumnData::F32(v) => ColumnData::F32(v[start..end].to_vec()),
            ColumnData::I32(v) => ColumnData::I32(v[start..end].to_vec()),
        };
        let inbox = inbox
            .iter()
            .map(|x| Inbox {
                target: x.target,
                delivery: match &x.delivery {
                    Delivery::Column(c) => Delivery::Column(*c),
                    Delivery::SpikeInput(t) => Delivery::SpikeInput(
                        t.iter()
                            .map(|(c, f)| (*c, f[start..end].to_vec()))
                            .collect(),
                    ),
                },
                buffer: RingBuffer::new(x.buffer.max_delay_steps(), end - start),
            })
            .collect();
        chunks.push(Chunk {
            start,
            len: end - start,
            cols: cols.iter().map(slice).collect(),
            inbox,
            spikes: Vec::new(),
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
    let mut longest: Vec<((usize, EffectTarget), u32)> = Vec::new();
    for p in projections {
        for e in &p.effects {
            let key = (p.target, e.target);
            match longest.iter_mut().find(|(k, _)| *k == key) {
                Some((_, d)) => *d = (*d).max(p.delay_steps),
                None => longest.push((key, p.delay_steps)),
            }
        }
    }
    let mut out: Vec<Vec<Inbox>> = (0..c.populations.len()).map(|_| Vec::new()).collect();
    for ((pop, target), delay) in longest {
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
            EffectTarget::State(k) | EffectTarget::PostState(k) => Delivery::Column(column(k)),
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
        out[pop].push(Inbox {
            target,
            delivery,
            buffer: RingBuffer::new(delay as usize, size),
        });
    }
    Ok(out)
}

/// `column[j] += values[j] · factor[j]` for every neuron.
fn add_into(column: &mut ColumnData, values: &[f64], factor: Option<&Vec<f64>>) {
    match column {
        ColumnData::F64(c) => {
            for (j, v) in values.iter().enumerate() {
                if *v != 0.0 {
                    c[j] += v * factor.map_or(1.0, |f| f[j]);
                }
            }
        }
        ColumnData::F32(c) => {
            for (j, v) in values.iter().enumerate() {
                if *v != 0.0 {
                    c[j] += (v * factor.map_or(1.0, |f| f[j])) as f32;
                }
            }
        }
        ColumnData::I32(_) => {}
    }
}

/// The neurons as plastic-synapse handlers see them.
struct ChunkNeurons<'a, 'p> {
    compiled: &'a CompiledNetwork<'p>,
    chunks: &'a mut Vec<Vec<Chunk>>,
}

impl ChunkNeurons<'_, '_> {
    fn at(&self, p: usize, i: usize) -> (usize, usize) {
        locate(&self.chunks[p], i)
    }

    fn binding(&self, p: usize, place: Place) -> Option<usize> {
        match &self.compiled.populations[p].kind {
            CompiledKind::Neuron { verified, .. } => verified.binding(place),
            CompiledKind::Source { .. } => None,
        }
    }
}

impl super::plastic::Neurons for ChunkNeurons<'_, '_> {
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
        if self.chunks[p].is_empty() {
            return 0.0;
        }
        let (k, local) = self.at(p, i);
        self.chunks[p][k].cols[b].get(local)
    }

    fn write_state(&mut self, p: usize, k: u32, i: usize, v: f64) {
        let Some(b) = self.binding(p, Place::State(k)) else {
            return;
        };
        if self.chunks[p].is_empty() {
            return;
        }
        let (c, local) = self.at(p, i);
        self.chunks[p][c].cols[b].set(local, v);
    }
}

/// The chunk of `chunks` holding neuron `i`, and `i` within it.
fn locate(chunks: &[Chunk], i: usize) -> (usize, usize) {
    let k = chunks
        .partition_point(|c| c.start + c.len <= i)
        .min(chunks.len().saturating_sub(1));
    (k, i - chunks[k].start)
}
