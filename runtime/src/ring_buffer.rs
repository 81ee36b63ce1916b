//! Ring buffers for delayed spike delivery, one accumulator per target and step.
//!
//! A spike that crosses a synapse with a delay must reach its target a fixed number
//! of steps later. As in NEST, every target owns a short circular array of input
//! accumulators indexed by arrival step modulo the number of slots; delivering a
//! spike adds its weight to one accumulator, and each step the target reads and
//! clears the accumulator of that step. Nothing is sorted and nothing allocates
//! during the simulation.
//!
//! # Timing convention
//!
//! A step `t` runs: [`RingBuffer::take_current`]`(t)` hands the inputs due at `t`
//! to the state update; the update and threshold run; spikes emitted in step `t`
//! are delivered with [`RingBuffer::add`]. A spike emitted in step `t` occurs at the
//! end of that step, time `(t + 1) dt`, so an event added with `delay_steps = d`
//! after `take_current(t)` arrives `d dt` later, at the start of step `t + 1 + d`,
//! and is returned by `take_current(t + 1 + d)`. Delay 0 is allowed: the target sees
//! the input in the very next update, as in Brian2's zero-delay synapses.
//!
//! Arrival steps then range over `t + 1 ..= t + 1 + max_delay_steps`, which is
//! `max_delay_steps + 1` distinct steps: hence `slots = max_delay_steps + 1`. The
//! slot that `take_current(t)` reads is cleared at once, because it is the slot that
//! an add with the maximum delay fills next.
//!
//! Before the first `take_current`, adds count from step 0: delay `d` arrives at
//! step `d`.
//!
//! # Layout
//!
//! Slot-major: the accumulators of one slot for all targets are contiguous, so the
//! per-step read is one slice copy, and `add` touches a single element.

use std::ops::AddAssign;

/// Per-target circular accumulators of delayed input; see the module docs.
#[derive(Debug, Clone)]
pub struct RingBuffer<T> {
    /// `slots * targets` accumulators; slot `s` is `values[s * targets..][..targets]`.
    values: Vec<T>,
    /// The inputs of the step last taken, handed out by `take_current`.
    current: Vec<T>,
    targets: usize,
    max_delay_steps: usize,
    /// The step that an add with delay 0 arrives at: one after the step last taken.
    next_step: u64,
}

/// Why an event could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingBufferError {
    /// The delay exceeds the `max_delay_steps` the buffer was built for.
    DelayTooLong {
        /// The delay asked for, in steps.
        delay_steps: usize,
        /// The longest delay the buffer holds, in steps.
        max_delay_steps: usize,
    },
    /// The target index is not below the number of targets.
    NoSuchTarget {
        /// The target index asked for.
        target: usize,
        /// The number of targets of the buffer.
        targets: usize,
    },
}

impl std::fmt::Display for RingBufferError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RingBufferError::DelayTooLong {
                delay_steps,
                max_delay_steps,
            } => write!(
                f,
                "a delay of {delay_steps} steps exceeds the longest delay of {max_delay_steps} steps"
            ),
            RingBufferError::NoSuchTarget { target, targets } => {
                write!(
                    f,
                    "target {target} does not exist; there are {targets} targets"
                )
            }
        }
    }
}

impl std::error::Error for RingBufferError {}

impl<T: Copy + Default + AddAssign> RingBuffer<T> {
    /// A buffer for `targets` targets and delays of `0..=max_delay_steps` steps,
    /// all accumulators zero (`T::default()`).
    pub fn new(max_delay_steps: usize, targets: usize) -> Self {
        let slots = max_delay_steps + 1;
        RingBuffer {
            values: vec![T::default(); slots * targets],
            current: vec![T::default(); targets],
            targets,
            max_delay_steps,
            next_step: 0,
        }
    }

    /// The number of slots, `max_delay_steps + 1`.
    pub fn slots(&self) -> usize {
        self.max_delay_steps + 1
    }

    /// The number of targets.
    pub fn targets(&self) -> usize {
        self.targets
    }

    /// The longest delay the buffer holds, in steps.
    pub fn max_delay_steps(&self) -> usize {
        self.max_delay_steps
    }

    /// Adds `value` to the input of `target` that arrives `delay_steps` after the
    /// step last taken (see the module docs for the exact step).
    pub fn add(
        &mut self,
        delay_steps: usize,
        target: usize,
        value: T,
    ) -> Result<(), RingBufferError> {
        if delay_steps > self.max_delay_steps {
            return Err(RingBufferError::DelayTooLong {
                delay_steps,
                max_delay_steps: self.max_delay_steps,
            });
        }
        if target >= self.targets {
            return Err(RingBufferError::NoSuchTarget {
                target,
                targets: self.targets,
            });
        }
        let slot = self.slot_of(self.next_step + delay_steps as u64);
        self.values[slot * self.targets + target] += value;
        Ok(())
    }

    /// The accumulators of every target for the inputs that arrive
    /// `delay_steps` after the step last taken: `add(d, j, x)` is
    /// `slot_mut(d)[j] += x`, without the checks per event.
    ///
    /// # Panics
    /// If `delay_steps` exceeds `max_delay_steps`.
    pub fn slot_mut(&mut self, delay_steps: usize) -> &mut [T] {
        assert!(
            delay_steps <= self.max_delay_steps,
            "a delay of {delay_steps} steps exceeds the buffer's {}",
            self.max_delay_steps
        );
        let slot = self.slot_of(self.next_step + delay_steps as u64);
        &mut self.values[slot * self.targets..(slot + 1) * self.targets]
    }

    /// The inputs of every target that arrive at `step`, cleared in the buffer as
    /// they are read: each event is handed out exactly once.
    ///
    /// Call it once per step with consecutive steps; later adds count their delay
    /// from `step`. The returned slice stays valid until the next call, and the
    /// caller may consume it in place (for example with `std::mem::take`).
    pub fn take_current(&mut self, step: u64) -> &mut [T] {
        debug_assert!(
            step == self.next_step,
            "ring buffer steps must be consecutive: expected {}, got {step}",
            self.next_step
        );
        let slot = self.slot_of(step);
        let range = slot * self.targets..(slot + 1) * self.targets;
        self.current.copy_from_slice(&self.values[range.clone()]);
        self.values[range].fill(T::default());
        self.next_step = step + 1;
        &mut self.current
    }

    /// The inputs of every target that arrive at `step`, in place: the
    /// caller consumes each value and must leave the slot zeroed (as
    /// [`RingBuffer::take_current`] does, without the copy).
    pub fn current_slot_mut(&mut self, step: u64) -> &mut [T] {
        debug_assert!(
            step == self.next_step,
            "ring buffer steps must be consecutive: expected {}, got {step}",
            self.next_step
        );
        let slot = self.slot_of(step);
        self.next_step = step + 1;
        &mut self.values[slot * self.targets..(slot + 1) * self.targets]
    }

    /// The index (in `0..slots()`) of the slot [`RingBuffer::slot_mut`]
    /// hands out for `delay_steps`.
    pub fn slot_index(&self, delay_steps: usize) -> usize {
        self.slot_of(self.next_step + delay_steps as u64)
    }

    /// The index of the slot [`RingBuffer::current_slot_mut`] hands out for
    /// `step`.
    pub fn step_index(&self, step: u64) -> usize {
        self.slot_of(step)
    }

    fn slot_of(&self, step: u64) -> usize {
        // The remainder is below `slots`, a usize, so the cast cannot truncate.
        (step % self.slots() as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_zero_arrives_at_the_next_step() {
        let mut buffer = RingBuffer::<f64>::new(3, 2);
        assert_eq!(buffer.take_current(0), &[0.0, 0.0]);
        buffer.add(0, 1, 2.5).unwrap();
        assert_eq!(buffer.take_current(1), &[0.0, 2.5]);
        assert_eq!(
            buffer.take_current(2),
            &[0.0, 0.0],
            "read once, then cleared"
        );
    }

    #[test]
    fn before_the_first_step_delays_count_from_step_zero() {
        let mut buffer = RingBuffer::<f64>::new(2, 1);
        buffer.add(0, 0, 1.0).unwrap();
        buffer.add(2, 0, 3.0).unwrap();
        let arrived: Vec<f64> = (0..4).map(|step| buffer.take_current(step)[0]).collect();
        assert_eq!(arrived, [1.0, 0.0, 3.0, 0.0]);
    }

    #[test]
    fn delay_one_and_max_delay_arrive_at_their_steps_and_accumulate() {
        let max_delay = 4;
        let mut buffer = RingBuffer::<f32>::new(max_delay, 3);
        assert_eq!(buffer.slots(), 5);
        buffer.take_current(0);
        buffer.add(1, 0, 1.0).unwrap();
        buffer.add(1, 0, 0.5).unwrap();
        buffer.add(max_delay, 2, -2.0).unwrap();
        let mut arrivals = Vec::new();
        for step in 1..=7 {
            let inputs = buffer.take_current(step).to_vec();
            arrivals.push((step, inputs));
        }
        assert_eq!(arrivals[1], (2, vec![1.5, 0.0, 0.0]));
        assert_eq!(arrivals[4], (5, vec![0.0, 0.0, -2.0]));
        let quiet = arrivals
            .iter()
            .filter(|(_, inputs)| inputs.iter().all(|&x| x == 0.0));
        assert_eq!(quiet.count(), 5);
    }

    /// Adds every step with every delay for many rotations of the ring and checks
    /// each arrival against a plain list of (arrival step, target, value).
    #[test]
    fn wrap_around_delivers_every_event_once_at_its_step() {
        let (max_delay, targets, steps) = (3usize, 2usize, 40u64);
        let mut buffer = RingBuffer::<i64>::new(max_delay, targets);
        let mut expected = vec![vec![0i64; targets]; steps as usize + max_delay + 2];
        for step in 0..steps {
            let inputs = buffer.take_current(step).to_vec();
            assert_eq!(inputs, expected[step as usize], "step {step}");
            for delay in 0..=max_delay {
                let target = (step as usize + delay) % targets;
                let value = (step as i64) * 10 + delay as i64 + 1;
                buffer.add(delay, target, value).unwrap();
                expected[step as usize + 1 + delay][target] += value;
            }
        }
    }

    #[test]
    fn out_of_range_delays_and_targets_are_errors_not_panics() {
        let mut buffer = RingBuffer::<f64>::new(2, 2);
        assert_eq!(
            buffer.add(3, 0, 1.0),
            Err(RingBufferError::DelayTooLong {
                delay_steps: 3,
                max_delay_steps: 2
            })
        );
        assert_eq!(
            buffer.add(0, 2, 1.0),
            Err(RingBufferError::NoSuchTarget {
                target: 2,
                targets: 2
            })
        );
        assert!(buffer.take_current(0).iter().all(|&x| x == 0.0));
    }

    #[test]
    fn consuming_the_current_slice_in_place_is_allowed() {
        let mut buffer = RingBuffer::<f64>::new(1, 1);
        buffer.add(0, 0, 4.0).unwrap();
        let inputs = buffer.take_current(0);
        assert_eq!(std::mem::take(&mut inputs[0]), 4.0);
        assert_eq!(buffer.take_current(1), &[0.0]);
    }
}
