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
//!
//! When the team has as many members as the process may use CPUs (as with
//! the default `--threads`, or `--threads 2` on two cores), each member is
//! bound to one of them for the team's life (Linux; the caller's own
//! binding is restored afterwards). Left to the scheduler, two spinning
//! members sometimes share a core for a while, and a 4000-neuron step
//! (a few microseconds) then waits for the next time slice: CUBA with 2
//! threads took 0.025–0.052 s from run to run unbound, 0.026–0.033 s
//! bound. A team smaller than the CPU set is not bound, so that several
//! runs side by side do not pile onto the same cores.

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
    let cpus = binding::cpus_for(threads);
    std::thread::scope(|scope| {
        for k in 1..threads {
            let gate = &gate;
            let cpu = cpus.as_ref().map(|c| c[k]);
            scope.spawn(move || {
                if let Some(cpu) = cpu {
                    binding::bind(cpu);
                }
                worker(gate, work, k)
            });
        }
        // Stops the workers however `body` ends, a panic included, so the
        // scope can join them.
        let _stop = Stop(&gate);
        // Restores the caller's CPU set however `body` ends.
        let _bound = cpus.as_ref().and_then(|c| binding::Bound::caller(c[0]));
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

/// Binding team members to CPUs (Linux; elsewhere nothing is bound).
#[cfg(target_os = "linux")]
mod binding {
    /// The CPUs the calling thread may run on.
    fn allowed() -> Option<libc::cpu_set_t> {
        // SAFETY: `cpu_set_t` is plain data (all zeros is the empty set),
        // and `sched_getaffinity` writes at most `size_of` bytes into it.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            let size = std::mem::size_of::<libc::cpu_set_t>();
            (libc::sched_getaffinity(0, size, &mut set) == 0).then_some(set)
        }
    }

    fn set(cpus: &libc::cpu_set_t) -> bool {
        let size = std::mem::size_of::<libc::cpu_set_t>();
        // SAFETY: `cpus` is a valid set of `size` bytes; 0 is this thread.
        unsafe { libc::sched_setaffinity(0, size, cpus) == 0 }
    }

    /// The numbers of the CPUs the calling thread may run on.
    pub(super) fn allowed_cpus() -> Option<Vec<usize>> {
        let allowed = allowed()?;
        let setsize = 8 * std::mem::size_of::<libc::cpu_set_t>();
        // SAFETY: `CPU_ISSET` reads bit `cpu` of the set, `cpu` < its size.
        Some(
            (0..setsize)
                .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &allowed) })
                .collect(),
        )
    }

    /// One CPU per member when the team uses every CPU the process may
    /// use, in the order of their numbers; otherwise `None`.
    pub(super) fn cpus_for(threads: usize) -> Option<Vec<usize>> {
        if threads < 2 {
            return None;
        }
        allowed_cpus().filter(|cpus| cpus.len() == threads)
    }

    /// Binds the calling thread to `cpu` (a failure leaves it unbound).
    pub(super) fn bind(cpu: usize) {
        // SAFETY: as in `allowed`; `CPU_SET` writes bit `cpu` < the size.
        let one = unsafe {
            let mut one: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut one);
            one
        };
        set(&one);
    }

    /// The caller bound to a CPU, its former set restored when dropped.
    pub(super) struct Bound(libc::cpu_set_t);

    impl Bound {
        pub(super) fn caller(cpu: usize) -> Option<Bound> {
            let before = allowed()?;
            bind(cpu);
            Some(Bound(before))
        }
    }

    impl Drop for Bound {
        fn drop(&mut self) {
            set(&self.0);
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod binding {
    pub(super) fn cpus_for(_threads: usize) -> Option<Vec<usize>> {
        None
    }

    pub(super) fn bind(_cpu: usize) {}

    pub(super) struct Bound;

    impl Bound {
        pub(super) fn caller(_cpu: usize) -> Option<Bound> {
            None
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

    #[cfg(target_os = "linux")]
    #[test]
    fn a_team_of_every_cpu_binds_each_member_and_restores_the_caller() {
        let before = binding::allowed_cpus().expect("the CPU set");
        let threads = before.len();
        let seen: Vec<Mutex<Option<Vec<usize>>>> = (0..threads).map(|_| Mutex::new(None)).collect();
        let work = |k: usize, _| *seen[k].lock().unwrap() = binding::allowed_cpus();
        with_team(threads, &work, |team| team.run(0));
        for (k, s) in seen.iter().enumerate() {
            let cpus = s.lock().unwrap().clone().expect("the member's CPU set");
            if threads > 1 {
                assert_eq!(cpus, [before[k]], "member {k}");
            } else {
                assert_eq!(cpus, before);
            }
        }
        assert_eq!(binding::allowed_cpus().expect("the CPU set"), before);
        // A smaller team is not bound.
        if threads > 2 {
            let work = |k: usize, _| *seen[k].lock().unwrap() = binding::allowed_cpus();
            with_team(2, &work, |team| team.run(0));
            assert_eq!(seen[1].lock().unwrap().clone().unwrap(), before);
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
