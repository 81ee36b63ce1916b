//! A team of persistent worker threads for the per-step parallel phase.
//!
//! A network step has one parallel phase (spike delivery into each thread's
//! own neurons, then their update) between short serial parts (gathering
//! spikes, recording, plasticity). A step of a 4000-neuron network takes a
//! few microseconds, about what waking a sleeping thread pool costs, so the
//! workers here never sleep during a run: they spin on a shared counter, and
//! the caller releases them by bumping it. The caller works as member 0, so
//! `threads` members use `threads - 1` extra threads, and one thread uses
//! none.
//!
//! Members wait by spinning, then yielding the core, so an oversubscribed
//! machine still makes progress. A panic in a member is carried to the
//! caller: the phase ends, the caller panics, and the scope joins everyone.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

/// What the caller and the workers share.
struct Gate {
    /// Bumped to start a phase (or, with `quit` set, to stop).
    epoch: AtomicU64,
    /// The phase's command, written before `epoch` is bumped.
    command: AtomicU64,
    /// Workers that finished the current phase.
    done: AtomicUsize,
    quit: AtomicBool,
    /// A worker panicked.
    failed: AtomicBool,
}

/// The handle the caller uses to run parallel phases.
pub struct Team<'g, W> {
    gate: &'g Gate,
    work: &'g W,
    threads: usize,
}

impl<W: Fn(usize, u64) + Sync> Team<'_, W> {
    /// Runs `work(k, command)` for every member `k` in `0..threads` at once
    /// (member 0 on the calling thread) and returns when all have finished.
    pub fn run(&mut self, command: u64) {
        if self.threads == 1 {
            (self.work)(0, command);
            return;
        }
        self.gate.command.store(command, Ordering::Relaxed);
        self.gate.done.store(0, Ordering::Relaxed);
        // Release: the command and the caller's serial writes are visible
        // to a worker that sees the new epoch.
        self.gate.epoch.fetch_add(1, Ordering::Release);
        (self.work)(0, command);
        let others = self.threads - 1;
        wait_until(|| self.gate.done.load(Ordering::Acquire) == others);
        assert!(
            !self.gate.failed.load(Ordering::Acquire),
            "a simulation worker thread panicked"
        );
    }
}

/// Runs `body` with a team of `threads` members (at least 1) that execute
/// `work` in each phase `body` asks for.
pub fn with_team<W, R>(threads: usize, work: &W, body: impl FnOnce(&mut Team<'_, W>) -> R) -> R
where
    W: Fn(usize, u64) + Sync,
{
    let threads = threads.max(1);
    let gate = Gate {
        epoch: AtomicU64::new(0),
        command: AtomicU64::new(0),
        done: AtomicUsize::new(0),
        quit: AtomicBool::new(false),
        failed: AtomicBool::new(false),
    };
    std::thread::scope(|scope| {
        for k in 1..threads {
            let gate = &gate;
            scope.spawn(move || worker(gate, work, k));
        }
        // Stops the workers however `body` ends, a panic included, so the
        // scope can join them.
        let _stop = Stop(&gate);
        let mut team = Team {
            gate: &gate,
            work,
            threads,
        };
        body(&mut team)
    })
}

fn worker<W: Fn(usize, u64) + Sync>(gate: &Gate, work: &W, k: usize) {
    let mut seen = 0;
    loop {
        wait_until(|| gate.epoch.load(Ordering::Acquire) != seen);
        seen = gate.epoch.load(Ordering::Acquire);
        if gate.quit.load(Ordering::Acquire) {
            return;
        }
        let command = gate.command.load(Ordering::Relaxed);
        let _finish = Finish(gate);
        work(k, command);
    }
}

/// Counts a worker's phase as done when dropped, also when it panics.
struct Finish<'g>(&'g Gate);

impl Drop for Finish<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.failed.store(true, Ordering::Release);
        }
        self.0.done.fetch_add(1, Ordering::Release);
    }
}

/// Tells the workers to return when dropped.
struct Stop<'g>(&'g Gate);

impl Drop for Stop<'_> {
    fn drop(&mut self) {
        self.0.quit.store(true, Ordering::Release);
        self.0.epoch.fetch_add(1, Ordering::Release);
    }
}

/// Spins until `ready()`, then yields the core between tries, and after a
/// long wait sleeps briefly between tries.
fn wait_until(ready: impl Fn() -> bool) {
    let mut tries: u32 = 0;
    while !ready() {
        tries = tries.saturating_add(1);
        if tries < 1 << 10 {
            std::hint::spin_loop();
        } else if tries < 1 << 16 {
            std::thread::yield_now();
        } else {
            std::thread::sleep(std::time::Duration::from_micros(50));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn every_member_runs_every_phase_once() {
        for threads in 1..=4 {
            let counts: Vec<Mutex<Vec<u64>>> =
                (0..threads).map(|_| Mutex::new(Vec::new())).collect();
            let work = |k: usize, command: u64| counts[k].lock().unwrap().push(command);
            with_team(threads, &work, |team| {
                for command in 0..1000 {
                    team.run(command);
                }
            });
            for c in &counts {
                assert_eq!(*c.lock().unwrap(), (0..1000).collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn a_worker_panic_reaches_the_caller() {
        let work = |k: usize, _| assert!(k != 1, "member 1 fails");
        let outcome = std::panic::catch_unwind(|| {
            with_team(2, &work, |team| team.run(0));
        });
        assert!(outcome.is_err());
    }
}
