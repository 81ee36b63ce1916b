//! Which synapses exist: connection rules turned into compressed sparse rows.
//!
//! A projection's synapses are stored by presynaptic neuron (CSR): the
//! targets of neuron `i` are `targets[row_start[i]..row_start[i + 1]]`,
//! sorted ascending (so delivery can split a row between threads by target
//! range with a binary search). Indices are relative to the source and
//! target selections.
//!
//! Every random choice comes from the counter-based stream
//! `(seed, StreamKind::Connectivity, projection, element)`, where the
//! element is the presynaptic neuron for row-wise rules, the postsynaptic
//! neuron for `fixed_indegree`, and a chunk number for `fixed_total`. Rows
//! are generated in parallel (rayon) and the result is the same for every
//! thread count.
//!
//! Autapses (a neuron connected to itself) are possible only when the source
//! and target selections overlap; `autapse_offset` says how: source `i` is
//! the same neuron as target `i + offset`.

use crate::rng::{Stream, StreamKind};
use rayon::prelude::*;
use std::collections::HashSet;

/// How synapses are chosen.
#[derive(Clone, Copy)]
pub enum Rule<'f> {
    /// Every pair.
    AllToAll,
    /// `i → i`; the selections must have the same size.
    OneToOne,
    /// Each pair independently with probability `p`.
    FixedProbability(f64),
    /// Each target receives exactly `k` synapses.
    FixedIndegree(u64),
    /// Each source makes exactly `k` synapses.
    FixedOutdegree(u64),
    /// Exactly `n` synapses, pairs drawn uniformly.
    FixedTotal(u64),
    /// Each pair with the probability this function gives (clipped to [0, 1]).
    Probability(&'f (dyn Fn(u32, u32) -> f64 + Sync)),
    /// Given pairs (from a file).
    Pairs(&'f [(u32, u32)]),
}

/// Options of a rule.
#[derive(Clone, Copy, Debug)]
pub struct RuleOptions {
    /// Whether a neuron may connect to itself.
    pub autapses: bool,
    /// Whether a pair may be connected more than once (the count rules).
    pub multapses: bool,
    /// Source `i` is target `i + offset`, if the selections overlap.
    pub autapse_offset: Option<i64>,
}

/// Synapses of one projection, by presynaptic neuron.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Csr {
    /// Number of presynaptic neurons.
    pub n_pre: u32,
    /// Number of postsynaptic neurons.
    pub n_post: u32,
    /// `row_start[i]..row_start[i+1]` are neuron `i`'s synapses.
    pub row_start: Vec<u64>,
    /// Target of each synapse, ascending within a row.
    pub targets: Vec<u32>,
}

impl Csr {
    /// Number of synapses.
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// The targets of presynaptic neuron `i`.
    pub fn row(&self, i: u32) -> &[u32] {
        let (a, b) = (self.row_start[i as usize], self.row_start[i as usize + 1]);
        &self.targets[a as usize..b as usize]
    }

    fn from_rows(n_pre: u32, n_post: u32, rows: Vec<Vec<u32>>) -> Csr {
        let mut row_start = Vec::with_capacity(rows.len() + 1);
        row_start.push(0u64);
        let total: usize = rows.iter().map(Vec::len).sum();
        let mut targets = Vec::with_capacity(total);
        for r in rows {
            targets.extend_from_slice(&r);
            row_start.push(targets.len() as u64);
        }
        Csr {
            n_pre,
            n_post,
            row_start,
            targets,
        }
    }
}

/// Why a rule cannot be applied.
#[derive(Clone, Debug, PartialEq)]
pub enum ConnectError {
    /// `one_to_one` between selections of different sizes.
    SizeMismatch {
        /// Sources.
        n_pre: u32,
        /// Targets.
        n_post: u32,
    },
    /// A count rule without multapses asks for more distinct partners than exist.
    TooMany {
        /// Requested per neuron.
        requested: u64,
        /// Available per neuron.
        available: u64,
    },
    /// A probability outside [0, 1].
    Probability(f64),
    /// A pair from a file names a neuron outside the selections.
    PairOutOfRange {
        /// Source.
        pre: u32,
        /// Target.
        post: u32,
    },
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectError::SizeMismatch { n_pre, n_post } => {
                write!(
                    f,
                    "one_to_one needs equal sizes, but the source has {n_pre} neurons and the target {n_post}"
                )
            }
            ConnectError::TooMany {
                requested,
                available,
            } => write!(
                f,
                "{requested} distinct partners per neuron are requested but only {available} exist (allow multapses or lower the count)"
            ),
            ConnectError::Probability(p) => {
                write!(f, "the connection probability {p} is not between 0 and 1")
            }
            ConnectError::PairOutOfRange { pre, post } => {
                write!(
                    f,
                    "the pair ({pre}, {post}) lies outside the source or target population"
                )
            }
        }
    }
}

fn is_autapse(opts: &RuleOptions, i: u32, j: u32) -> bool {
    opts.autapse_offset
        .is_some_and(|o| i64::from(i) + o == i64::from(j))
}

/// Builds the synapses of a projection.
pub fn connect(
    rule: Rule,
    n_pre: u32,
    n_post: u32,
    opts: RuleOptions,
    seed: u64,
    projection: u32,
) -> Result<Csr, ConnectError> {
    let stream = |element: u32| Stream::new(seed, StreamKind::Connectivity, projection, element);
    let keep = |i: u32, j: u32| opts.autapses || !is_autapse(&opts, i, j);
    match rule {
        Rule::AllToAll => {
            let rows = (0..n_pre)
                .into_par_iter()
                .map(|i| (0..n_post).filter(|&j| keep(i, j)).collect())
                .collect();
            Ok(Csr::from_rows(n_pre, n_post, rows))
        }
        Rule::OneToOne => {
            if n_pre != n_post {
                return Err(ConnectError::SizeMismatch { n_pre, n_post });
            }
            let rows = (0..n_pre)
                .map(|i| if keep(i, i) { vec![i] } else { Vec::new() })
                .collect();
            Ok(Csr::from_rows(n_pre, n_post, rows))
        }
        Rule::FixedProbability(p) => {
            if !(0.0..=1.0).contains(&p) {
                return Err(ConnectError::Probability(p));
            }
            let rows = (0..n_pre)
                .into_par_iter()
                .map(|i| {
                    // Geometric skipping: the gap to the next connected
                    // target, so the cost is proportional to the synapses.
                    let mut draws = stream(i).draws(0);
                    let mut row = Vec::new();
                    if p <= 0.0 {
                        return row;
                    }
                    let mut j = 0u64;
                    loop {
                        j += draws.geometric_failures(p);
                        if j >= u64::from(n_post) {
                            break;
                        }
                        let t = j as u32;
                        if keep(i, t) {
                            row.push(t);
                        }
                        j += 1;
                    }
                    row
                })
                .collect();
            Ok(Csr::from_rows(n_pre, n_post, rows))
        }
        Rule::Probability(f) => {
            let rows = (0..n_pre)
                .into_par_iter()
                .map(|i| {
                    let mut draws = stream(i).draws(0);
                    (0..n_post)
                        .filter(|&j| {
                            let p = f(i, j).clamp(0.0, 1.0);
                            draws.uniform_f64() < p && keep(i, j)
                        })
                        .collect()
                })
                .collect();
            Ok(Csr::from_rows(n_pre, n_post, rows))
        }
        Rule::FixedOutdegree(k) => {
            let rows: Result<Vec<Vec<u32>>, ConnectError> = (0..n_pre)
                .into_par_iter()
                .map(|i| {
                    let exclude = (!opts.autapses)
                        .then(|| opts.autapse_offset.map(|o| i64::from(i) + o))
                        .flatten()
                        .filter(|&x| x >= 0 && x < i64::from(n_post))
                        .map(|x| x as u32);
                    choose(&mut stream(i).draws(0), n_post, k, opts.multapses, exclude)
                })
                .collect();
            Ok(Csr::from_rows(n_pre, n_post, rows?))
        }
        Rule::FixedIndegree(k) => {
            let columns: Result<Vec<Vec<u32>>, ConnectError> = (0..n_post)
                .into_par_iter()
                .map(|j| {
                    let exclude = (!opts.autapses)
                        .then(|| opts.autapse_offset.map(|o| i64::from(j) - o))
                        .flatten()
                        .filter(|&x| x >= 0 && x < i64::from(n_pre))
                        .map(|x| x as u32);
                    choose(&mut stream(j).draws(0), n_pre, k, opts.multapses, exclude)
                })
                .collect();
            Ok(transpose(n_pre, n_post, &columns?))
        }
        Rule::FixedTotal(n) => {
            if !opts.multapses && n > u64::from(n_pre) * u64::from(n_post) {
                return Err(ConnectError::TooMany {
                    requested: n,
                    available: u64::from(n_pre) * u64::from(n_post),
                });
            }
            // Draw pairs in fixed chunks, each from its own stream, then
            // drop duplicates (without multapses) and redraw deterministically.
            const CHUNK: u64 = 1 << 16;
            let mut pairs: Vec<(u32, u32)> = Vec::with_capacity(n as usize);
            let mut seen: HashSet<(u32, u32)> = HashSet::new();
            let mut chunk = 0u64;
            while (pairs.len() as u64) < n && n_pre > 0 && n_post > 0 {
                let mut draws = stream(0).draws(chunk);
                for _ in 0..CHUNK {
                    if pairs.len() as u64 >= n {
                        break;
                    }
                    let i = (draws.uniform_f64() * f64::from(n_pre)) as u32;
                    let j = (draws.uniform_f64() * f64::from(n_post)) as u32;
                    if !keep(i, j) || (!opts.multapses && !seen.insert((i, j))) {
                        continue;
                    }
                    pairs.push((i, j));
                }
                chunk += 1;
            }
            Ok(from_pairs(n_pre, n_post, &pairs))
        }
        Rule::Pairs(pairs) => {
            if let Some(&(pre, post)) = pairs.iter().find(|(i, j)| *i >= n_pre || *j >= n_post) {
                return Err(ConnectError::PairOutOfRange { pre, post });
            }
            Ok(from_pairs(n_pre, n_post, pairs))
        }
    }
}

/// `k` indices from `0..n` (without `exclude`), sorted; distinct unless
/// `multapses`.
fn choose(
    draws: &mut crate::rng::Draws,
    n: u32,
    k: u64,
    multapses: bool,
    exclude: Option<u32>,
) -> Result<Vec<u32>, ConnectError> {
    let available = u64::from(n) - u64::from(exclude.is_some());
    let map = |x: u32| match exclude {
        Some(e) if x >= e => x + 1,
        _ => x,
    };
    if available == 0 {
        return if k == 0 {
            Ok(Vec::new())
        } else {
            Err(ConnectError::TooMany {
                requested: k,
                available,
            })
        };
    }
    let mut out = Vec::with_capacity(k as usize);
    if multapses {
        for _ in 0..k {
            out.push(map((draws.uniform_f64() * available as f64) as u32));
        }
    } else {
        if k > available {
            return Err(ConnectError::TooMany {
                requested: k,
                available,
            });
        }
        // Floyd's algorithm: k distinct values with k draws. The set of
        // values taken is a bitmap when that is small (it usually is: one
        // bit per candidate), else a hash set; both take the same picks.
        let picks = (available - k..available).map(|j| {
            let t = (draws.uniform_f64() * (j + 1) as f64) as u64;
            (t, j)
        });
        if available <= (1 << 24) || available <= 64 * k {
            let mut taken = vec![0u64; available.div_ceil(64) as usize];
            for (t, j) in picks {
                let pick = if taken[(t / 64) as usize] & (1 << (t % 64)) != 0 {
                    j
                } else {
                    t
                };
                taken[(pick / 64) as usize] |= 1 << (pick % 64);
                out.push(map(pick as u32));
            }
        } else {
            let mut chosen: HashSet<u64> = HashSet::with_capacity(k as usize);
            for (t, j) in picks {
                let pick = if chosen.contains(&t) { j } else { t };
                chosen.insert(pick);
                out.push(map(pick as u32));
            }
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Rows from per-target source lists (each target's sources in order).
fn transpose(n_pre: u32, n_post: u32, columns: &[Vec<u32>]) -> Csr {
    let mut counts = vec![0u64; n_pre as usize + 1];
    for col in columns {
        for &i in col {
            counts[i as usize + 1] += 1;
        }
    }
    for k in 1..counts.len() {
        counts[k] += counts[k - 1];
    }
    let mut fill = counts.clone();
    let mut targets = vec![0u32; counts[n_pre as usize] as usize];
    // Targets are visited in increasing order, so rows come out sorted.
    for (j, col) in columns.iter().enumerate() {
        for &i in col {
            targets[fill[i as usize] as usize] = j as u32;
            fill[i as usize] += 1;
        }
    }
    Csr {
        n_pre,
        n_post,
        row_start: counts,
        targets,
    }
}

fn from_pairs(n_pre: u32, n_post: u32, pairs: &[(u32, u32)]) -> Csr {
    let mut rows: Vec<Vec<u32>> = vec![Vec::new(); n_pre as usize];
    for &(i, j) in pairs {
        rows[i as usize].push(j);
    }
    for r in rows.iter_mut() {
        r.sort_unstable();
    }
    Csr::from_rows(n_pre, n_post, rows)
}

#[cfg(test)]
mod tests;
