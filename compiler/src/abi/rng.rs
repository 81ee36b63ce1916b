//! Counter-based random numbers that every backend can reproduce bit for bit.
//!
//! A simulation needs random numbers in many places at once: initial states,
//! connectivity, per-step noise, Poisson inputs. A sequential generator would tie
//! the numbers to the order in which threads or GPU work items run. A
//! *counter-based* generator does not: the random block is a pure function
//! `block = Philox(counter, key)`, so a neuron's noise at a step is the same on one
//! CPU thread, many threads, or a GPU.
//!
//! # Philox4x32-10
//!
//! [`philox4x32_10`] is the generator of Salmon, Moraes, Dror and Shaw (2011),
//! "Parallel random numbers: as easy as 1, 2, 3", SC'11, DOI 10.1145/2063384.2063405,
//! exactly as Random123 implements it: a 128-bit counter (four `u32` words), a 64-bit
//! key (two words), ten rounds of two 32×32→64-bit multiplications with the key
//! bumped by the Weyl constants between rounds. It is checked against Random123's
//! published known-answer vectors.
//!
//! # How nmlc lays out the counter
//!
//! The key is the user's `seed`. The counter names *what* the numbers are for:
//!
//! | word | bits | meaning |
//! |---|---|---|
//! | 0 | 0..32 | `step`, low 32 bits |
//! | 1 | 0..8 | `step`, bits 32..40 |
//! | 1 | 8..32 | `k`, the block index within one (neuron, step), 24 bits |
//! | 2 | 0..32 | `neuron` index |
//! | 3 | 0..24 | `population` (or projection) index, 24 bits |
//! | 3 | 24..32 | [`StreamKind`], 8 bits |
//!
//! So `step` may reach 2^40 (about 1.1e12 steps: 3.5 years of model time at
//! dt = 0.1 ms), `k` 2^24 blocks (2^26 words) per neuron and step, `population`
//! 2^24. Larger values wrap silently; the compiler never produces them. For draws
//! that belong to no time step (initial values, connectivity) the `step` slot is
//! free for a second index, such as a target neuron or a chunk of candidates.
//!
//! This layout is part of the kernel ABI: a GPU kernel computes the same words.
//!
//! # Streams and draws
//!
//! [`Stream::new`]`(seed, kind, population, neuron)` fixes everything but the step;
//! [`Stream::draw`]`(step, k)` is the raw block. Most code uses
//! [`Stream::draws`]`(step)`, a [`Draws`] cursor that hands out the words of blocks
//! `k = 0, 1, 2, …` in order and turns them into uniform, normal, exponential,
//! Poisson and binomial variates. The cursor's only state is its position, so the
//! `i`-th number of (stream, step) is fixed; a backend reproduces it by consuming
//! words in the same order.
//!
//! # What is bit-identical across backends
//!
//! Raw words, [`uniform_f64`] and [`uniform_f32`] are exact integer arithmetic and
//! agree everywhere. Normal and exponential variates use `ln`, `sqrt`, `sin`, `cos`;
//! they agree to the last bit only where the backends use the same math routines,
//! otherwise to a few ulp. Poisson and binomial counts are integers and agree unless
//! such an ulp difference lands exactly on a decision boundary.

mod distributions;

pub use distributions::log_factorial;

/// First multiplier of the Philox4x32 round function (Random123's `PHILOX_M4x32_0`).
const PHILOX_M0: u32 = 0xD251_1F53;
/// Second multiplier of the Philox4x32 round function (`PHILOX_M4x32_1`).
const PHILOX_M1: u32 = 0xCD9E_8D57;
/// Weyl increment of the first key word: the golden ratio in 32 bits.
const PHILOX_W0: u32 = 0x9E37_79B9;
/// Weyl increment of the second key word: sqrt(3) - 1 in 32 bits.
const PHILOX_W1: u32 = 0xBB67_AE85;

/// Philox4x32 with 10 rounds: the random block for `counter` under `key`.
///
/// A pure function; equal inputs give equal outputs on every platform.
pub fn philox4x32_10(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let mut ctr = counter;
    let mut key = key;
    for round in 0..10 {
        if round > 0 {
            key[0] = key[0].wrapping_add(PHILOX_W0);
            key[1] = key[1].wrapping_add(PHILOX_W1);
        }
        ctr = philox_round(ctr, key);
    }
    ctr
}

/// One Philox4x32 round: two wide multiplications whose high halves are mixed
/// with the other words and the key (the S-box of the Threefish-like design).
fn philox_round(ctr: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let product0 = u64::from(PHILOX_M0) * u64::from(ctr[0]);
    let product1 = u64::from(PHILOX_M1) * u64::from(ctr[2]);
    let (hi0, lo0) = ((product0 >> 32) as u32, product0 as u32);
    let (hi1, lo1) = ((product1 >> 32) as u32, product1 as u32);
    [hi1 ^ ctr[1] ^ key[0], lo1, hi0 ^ ctr[3] ^ key[1], lo0]
}

/// How many Philox blocks [`philox4x32_10_lanes`] computes at once.
pub const PHILOX_LANES: usize = 8;

/// [`philox4x32_10`] of eight counters under one key, as eight calls would
/// give it. The words are kept word-major (`ctr[w][lane]`), so each round
/// is the same few operations on eight lanes, which the compiler turns
/// into vector multiplies; where the CPU has AVX2 or AVX-512 (checked at
/// run time) a copy compiled for it runs.
pub fn philox4x32_10_lanes(
    counters: [[u32; 4]; PHILOX_LANES],
    key: [u32; 2],
) -> [[u32; 4]; PHILOX_LANES] {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F, checked just now.
            return unsafe { philox_lanes_avx512(counters, key) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just now.
            return unsafe { philox_lanes_avx2(counters, key) };
        }
    }
    philox_lanes_body(counters, key)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn philox_lanes_avx512(c: [[u32; 4]; PHILOX_LANES], key: [u32; 2]) -> [[u32; 4]; PHILOX_LANES] {
    philox_lanes_body(c, key)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn philox_lanes_avx2(c: [[u32; 4]; PHILOX_LANES], key: [u32; 2]) -> [[u32; 4]; PHILOX_LANES] {
    philox_lanes_body(c, key)
}

#[inline(always)]
fn philox_lanes_body(
    counters: [[u32; 4]; PHILOX_LANES],
    key: [u32; 2],
) -> [[u32; 4]; PHILOX_LANES] {
    // Each 32-bit word sits in a 64-bit lane, so the 32 × 32 → 64-bit
    // products and their halves need no packing between rounds.
    let mut ctr = [[0u64; PHILOX_LANES]; 4];
    for (lane, c) in counters.iter().enumerate() {
        for w in 0..4 {
            ctr[w][lane] = u64::from(c[w]);
        }
    }
    const LOW: u64 = 0xFFFF_FFFF;
    let mut key = key;
    for round in 0..10 {
        if round > 0 {
            key[0] = key[0].wrapping_add(PHILOX_W0);
            key[1] = key[1].wrapping_add(PHILOX_W1);
        }
        let (k0, k1) = (u64::from(key[0]), u64::from(key[1]));
        let mut next = [[0u64; PHILOX_LANES]; 4];
        for lane in 0..PHILOX_LANES {
            let product0 = u64::from(PHILOX_M0) * ctr[0][lane];
            let product1 = u64::from(PHILOX_M1) * ctr[2][lane];
            next[0][lane] = (product1 >> 32) ^ ctr[1][lane] ^ k0;
            next[1][lane] = product1 & LOW;
            next[2][lane] = (product0 >> 32) ^ ctr[3][lane] ^ k1;
            next[3][lane] = product0 & LOW;
        }
        ctr = next;
    }
    let mut out = [[0u32; 4]; PHILOX_LANES];
    for (lane, o) in out.iter_mut().enumerate() {
        for w in 0..4 {
            o[w] = ctr[w][lane] as u32;
        }
    }
    out
}

/// A uniform `f64` in [0, 1) from the top 53 bits of `bits`.
///
/// Every value is a multiple of 2^-53, so all 2^53 outcomes are equally likely
/// and 1.0 is never returned.
pub fn uniform_f64(bits: u64) -> f64 {
    const SCALE: f64 = 1.0 / (1u64 << 53) as f64;
    (bits >> 11) as f64 * SCALE
}

/// A uniform `f32` in [0, 1) from the top 24 bits of `bits`.
///
/// The f32 mantissa holds 24 bits, so this is exact and never returns 1.0.
pub fn uniform_f32(bits: u32) -> f32 {
    const SCALE: f32 = 1.0 / (1u32 << 24) as f32;
    (bits >> 8) as f32 * SCALE
}

/// What a random stream is used for; the tag keeps streams of different purposes
/// apart even when population, neuron and step coincide.
///
/// The numeric values are part of the kernel ABI and must not change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum StreamKind {
    /// Initial values of state variables and per-neuron parameters.
    Initialisation = 0,
    /// Which synapses exist (fixed_probability, fixed_number, …).
    Connectivity = 1,
    /// Per-synapse values drawn at build time: weights, delays.
    SynapseValues = 2,
    /// Noise in the dynamics, drawn every step (stochastic differential equations).
    Noise = 3,
    /// Spike sources such as Poisson generators, drawn every step.
    Input = 4,
}

/// Population indices use 24 bits of the counter (see the module docs).
const POPULATION_MASK: u32 = 0x00FF_FFFF;
/// Block indices within one (neuron, step) use 24 bits of the counter.
const BLOCK_MASK: u32 = 0x00FF_FFFF;
/// The step uses 40 bits of the counter.
const STEP_HIGH_MASK: u64 = 0xFF;

/// The random numbers of one neuron (or other element) of one population for one
/// purpose, under one seed: everything of the counter but the step and the block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Stream {
    key: [u32; 2],
    neuron: u32,
    kind_and_population: u32,
}

impl Stream {
    /// The stream of `neuron` in `population` for `kind` under `seed`.
    ///
    /// `population` keeps its low 24 bits (see the module docs).
    pub fn new(seed: u64, kind: StreamKind, population: u32, neuron: u32) -> Self {
        Stream {
            key: [seed as u32, (seed >> 32) as u32],
            neuron,
            kind_and_population: (u32::from(kind as u8) << 24) | (population & POPULATION_MASK),
        }
    }

    /// The Philox counter of block `k` at `step` (layout in the module docs).
    pub fn counter(&self, step: u64, k: u32) -> [u32; 4] {
        [
            step as u32,
            ((step >> 32) & STEP_HIGH_MASK) as u32 | ((k & BLOCK_MASK) << 8),
            self.neuron,
            self.kind_and_population,
        ]
    }

    /// Block `k` of four random words at `step`.
    pub fn draw(&self, step: u64, k: u32) -> [u32; 4] {
        philox4x32_10(self.counter(step, k), self.key)
    }

    /// Block `k` at `step` of this stream and of the streams of the next
    /// [`PHILOX_LANES`]` - 1` neurons (the neuron index wraps at 2^32):
    /// element `j` is `Stream { neuron: neuron + j, ..self }.draw(step, k)`.
    pub fn draw_lanes(&self, step: u64, k: u32) -> [[u32; 4]; PHILOX_LANES] {
        let first = self.counter(step, k);
        let counters = std::array::from_fn(|j| {
            let mut c = first;
            c[2] = c[2].wrapping_add(j as u32);
            c
        });
        philox4x32_10_lanes(counters, self.key)
    }

    /// A cursor over all random words of this stream at `step`, starting at block 0.
    pub fn draws(&self, step: u64) -> Draws {
        Draws {
            stream: *self,
            step,
            next_block: 0,
            words: [0; 4],
            next_word: 4,
        }
    }
}

/// The random words of one (stream, step), handed out in a fixed order: the four
/// words of block 0, then of block 1, and so on.
///
/// Each variate method documents how many words it consumes, so another backend
/// can stay in step with this one.
#[derive(Debug, Clone)]
pub struct Draws {
    stream: Stream,
    step: u64,
    next_block: u32,
    words: [u32; 4],
    /// Index of the next unused word of `words`; 4 means the block is used up.
    next_word: usize,
}

impl Draws {
    /// The next random word.
    pub fn next_u32(&mut self) -> u32 {
        if self.next_word == 4 {
            self.words = self.stream.draw(self.step, self.next_block);
            self.next_block = self.next_block.wrapping_add(1);
            self.next_word = 0;
        }
        let word = self.words[self.next_word];
        self.next_word += 1;
        word
    }

    /// The next two words as one `u64`, the first word in the high half.
    pub fn next_u64(&mut self) -> u64 {
        let high = u64::from(self.next_u32());
        let low = u64::from(self.next_u32());
        (high << 32) | low
    }

    /// A uniform `f64` in [0, 1) with 53 random bits; consumes two words.
    pub fn uniform_f64(&mut self) -> f64 {
        uniform_f64(self.next_u64())
    }

    /// A uniform `f32` in [0, 1) with 24 random bits; consumes one word.
    pub fn uniform_f32(&mut self) -> f32 {
        uniform_f32(self.next_u32())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Random123's `kat_vectors` for Philox4x32-10: counter, key, expected block.
    /// The third is the hexadecimal digits of pi.
    const KNOWN_ANSWERS: [([u32; 4], [u32; 2], [u32; 4]); 3] = [
        (
            [0; 4],
            [0; 2],
            [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8],
        ),
        (
            [u32::MAX; 4],
            [u32::MAX; 2],
            [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd],
        ),
        (
            [0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344],
            [0xa409_3822, 0x299f_31d0],
            [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1],
        ),
    ];

    #[test]
    fn philox_matches_random123_known_answers() {
        for (counter, key, expected) in KNOWN_ANSWERS {
            assert_eq!(
                philox4x32_10(counter, key),
                expected,
                "counter {counter:08x?}"
            );
        }
    }

    #[test]
    fn eight_lanes_give_what_eight_calls_give() {
        let mut counters = [[0u32; 4]; PHILOX_LANES];
        for (j, c) in counters.iter_mut().enumerate() {
            *c = KNOWN_ANSWERS[j % 3].0;
            c[j % 4] ^= (j as u32).wrapping_mul(0x9E37_79B9);
        }
        let key = [0xA409_3822, 0x299F_31D0];
        // The version this CPU runs, and every version it can run.
        let mut versions = vec![
            philox4x32_10_lanes(counters, key),
            philox_lanes_body(counters, key),
        ];
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2.
                versions.push(unsafe { philox_lanes_avx2(counters, key) });
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has AVX-512F.
                versions.push(unsafe { philox_lanes_avx512(counters, key) });
            }
        }
        for lanes in versions {
            for j in 0..PHILOX_LANES {
                assert_eq!(lanes[j], philox4x32_10(counters[j], key), "lane {j}");
            }
        }
        let stream = Stream::new(7, StreamKind::Input, 3, u32::MAX - 2);
        let drawn = stream.draw_lanes(11, 2);
        for (j, block) in drawn.iter().enumerate() {
            let neuron = (u32::MAX - 2).wrapping_add(j as u32);
            assert_eq!(
                *block,
                Stream::new(7, StreamKind::Input, 3, neuron).draw(11, 2)
            );
        }
    }

    #[test]
    fn uniform_conversions_cover_zero_to_just_below_one() {
        assert_eq!(uniform_f64(0), 0.0);
        assert_eq!(uniform_f64(u64::MAX), 1.0 - f64::EPSILON / 2.0);
        assert_eq!(uniform_f32(0), 0.0);
        assert_eq!(uniform_f32(u32::MAX), 1.0 - f32::EPSILON / 2.0);
    }

    #[test]
    fn counter_layout_matches_the_documented_table() {
        let stream = Stream::new(0x0123_4567_89ab_cdef, StreamKind::Noise, 0x12_3456, 77);
        let counter = stream.counter(0xAB_1234_5678, 0x65_4321);
        assert_eq!(counter, [0x1234_5678, 0x6543_21AB, 77, 0x0312_3456]);
        assert_eq!(stream.key, [0x89ab_cdef, 0x0123_4567]);
    }

    #[test]
    fn streams_differ_by_every_coordinate() {
        let base = Stream::new(1, StreamKind::Noise, 2, 3).draw(4, 0);
        let others = [
            Stream::new(9, StreamKind::Noise, 2, 3).draw(4, 0),
            Stream::new(1, StreamKind::Input, 2, 3).draw(4, 0),
            Stream::new(1, StreamKind::Noise, 9, 3).draw(4, 0),
            Stream::new(1, StreamKind::Noise, 2, 9).draw(4, 0),
            Stream::new(1, StreamKind::Noise, 2, 3).draw(9, 0),
            Stream::new(1, StreamKind::Noise, 2, 3).draw(4, 9),
        ];
        for other in others {
            assert_ne!(base, other);
        }
    }

    #[test]
    fn draws_walk_through_blocks_in_order() {
        let stream = Stream::new(42, StreamKind::Input, 0, 5);
        let mut draws = stream.draws(10);
        let words: Vec<u32> = (0..8).map(|_| draws.next_u32()).collect();
        let mut expected = stream.draw(10, 0).to_vec();
        expected.extend(stream.draw(10, 1));
        assert_eq!(words, expected);
        // The cursor carries no hidden state: a fresh cursor repeats the numbers.
        assert_eq!(
            stream.draws(10).uniform_f64(),
            stream.draws(10).uniform_f64()
        );
    }

    /// Mean and variance of U(0,1) over 1e6 draws. The standard error of the mean
    /// is sqrt(1/12 / n) ≈ 2.9e-4 and of the sample variance
    /// sqrt((1/80 - 1/144) / n) ≈ 7.5e-5; we allow 5 of each.
    #[test]
    fn uniform_mean_and_variance_are_within_five_sigma() {
        let n = 1_000_000;
        let mut draws = Stream::new(2011, StreamKind::Noise, 0, 0).draws(0);
        let samples: Vec<f64> = (0..n).map(|_| draws.uniform_f64()).collect();
        let (mean, variance) = mean_and_variance(&samples);
        assert!((mean - 0.5).abs() < 5.0 * 2.9e-4, "mean {mean}");
        assert!(
            (variance - 1.0 / 12.0).abs() < 5.0 * 7.5e-5,
            "variance {variance}"
        );

        let samples: Vec<f64> = (0..n).map(|_| f64::from(draws.uniform_f32())).collect();
        let (mean, variance) = mean_and_variance(&samples);
        assert!((mean - 0.5).abs() < 5.0 * 2.9e-4, "f32 mean {mean}");
        assert!(
            (variance - 1.0 / 12.0).abs() < 5.0 * 7.5e-5,
            "f32 variance {variance}"
        );
    }

    /// Sample mean and (population) variance, for the statistical tests here and in
    /// `distributions`.
    pub(super) fn mean_and_variance(samples: &[f64]) -> (f64, f64) {
        let n = samples.len() as f64;
        let mean = samples.iter().sum::<f64>() / n;
        let variance = samples.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
        (mean, variance)
    }
}
