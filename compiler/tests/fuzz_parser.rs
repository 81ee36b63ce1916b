//! Fuzz-style robustness tests of the parser and the pretty-printer.
//!
//! A user's mistake must never crash nmlc, so whatever text comes in,
//! `parse_file` has to return a tree and diagnostics: no panic, no stack
//! overflow, no hang. These tests feed it random token soups, mutated
//! fixtures and pathological inputs (megabytes of brackets, 100 000 prefix
//! operators, …), each case on its own thread with an 8 MiB stack (the size
//! of the main thread's) and a generous time limit that only a hang exceeds.
//! Whenever a random input parses without diagnostics, the printed form must
//! parse back to the same printed form.
//!
//! The generator is a fixed-seed xorshift64* so that a failure reproduces;
//! the failure message names the seed and case and carries the input
//! (minimised for panics).

use nmlc_compiler::source::FileId;
use nmlc_compiler::syntax::{parse_file, print::print_file};
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The stack of each parsing thread: what `main` gets on Linux.
const STACK_SIZE: usize = 8 << 20;

/// A case that runs longer than this is taken for a hang. Debug builds are
/// slow, so this is far above any real parse time.
const HANG_LIMIT: Duration = Duration::from_secs(60);

mod common;
use common::Rng;

/// What happened to one parse.
enum Outcome {
    /// It returned; `clean` if without diagnostics, with the printed tree.
    Parsed { clean: bool, printed: String },
    /// It panicked, with the panic message.
    Panicked(String),
}

/// Parses and prints `text` on a fresh 8 MiB thread, failing the test if it
/// takes longer than [`HANG_LIMIT`]. A stack overflow aborts the test
/// process, which fails the test as well.
fn parse_on_thread(label: &str, text: String) -> Outcome {
    parse_within(label, text, HANG_LIMIT)
}

/// [`parse_on_thread`] with another time limit.
fn parse_within(label: &str, text: String, limit: Duration) -> Outcome {
    let (done, wait) = mpsc::channel();
    let worker = std::thread::Builder::new()
        .name(format!("parse {label}"))
        .stack_size(STACK_SIZE)
        .spawn(move || {
            let (file, diagnostics) = parse_file(FileId(0), &text);
            let printed = print_file(&file);
            let _ = done.send(());
            (diagnostics.is_empty(), printed)
        })
        .expect("spawn parsing thread");
    let start = Instant::now();
    if wait.recv_timeout(limit).is_err() && start.elapsed() >= limit {
        panic!("{label}: parsing did not finish within {limit:?}");
    }
    match worker.join() {
        Ok((clean, printed)) => Outcome::Parsed { clean, printed },
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "a panic without a message".to_string());
            Outcome::Panicked(message)
        }
    }
}

/// Checks one input: no panic, no hang, and a clean parse round-trips
/// through the printer.
fn check(label: &str, text: String) {
    let outcome = parse_on_thread(label, text.clone());
    match outcome {
        Outcome::Panicked(message) => {
            let small = minimise(&text);
            panic!(
                "{label}: the parser panicked ({message}) on {} bytes; minimised input:\n{small:?}",
                text.len()
            );
        }
        Outcome::Parsed {
            clean: true,
            printed,
        } => match parse_on_thread(label, printed.clone()) {
            Outcome::Parsed {
                clean: true,
                printed: again,
            } => assert_eq!(
                again, printed,
                "{label}: printing is not stable for input {text:?}"
            ),
            _ => panic!("{label}: the printed form of {text:?} does not parse:\n{printed}"),
        },
        Outcome::Parsed { clean: false, .. } => {}
    }
}

/// Greedily removes chunks of a panicking input while it still panics.
fn minimise(text: &str) -> String {
    let panics = |t: &str| {
        matches!(
            parse_on_thread("minimise", t.to_string()),
            Outcome::Panicked(_)
        )
    };
    let mut chars: Vec<char> = text.chars().collect();
    let mut chunk = chars.len() / 2;
    let mut tries = 0;
    while chunk > 0 && tries < 2000 {
        let mut start = 0;
        while start < chars.len() && tries < 2000 {
            tries += 1;
            let end = (start + chunk).min(chars.len());
            let candidate: String = chars[..start].iter().chain(&chars[end..]).collect();
            if panics(&candidate) {
                chars = candidate.chars().collect();
            } else {
                start += chunk;
            }
        }
        chunk /= 2;
    }
    chars.into_iter().collect()
}

// ---------------------------------------------------------------- token soups

/// Pieces of NML: keywords, names, numbers, units, operators, brackets,
/// comments, strings and some characters that do not belong.
const VOCABULARY: &[&str] = &[
    "neuron",
    "synapse",
    "network",
    "import",
    "function",
    "extends",
    "parameters",
    "state",
    "inputs",
    "equations",
    "kernel",
    "spike",
    "when",
    "on",
    "refractory",
    "clamp",
    "output",
    "connect",
    "record",
    "every",
    "of",
    "as",
    "if",
    "then",
    "else",
    "let",
    "true",
    "false",
    "and",
    "or",
    "not",
    "solver",
    "pre",
    "post",
    "spikes",
    "rate",
    "synapse =",
    "V_m",
    "x",
    "tau",
    "w",
    "P",
    "E",
    "LIF",
    "i",
    "t",
    "g_ex",
    "letter",
    "xi",
    "0",
    "1",
    "1.5",
    "1e-3",
    ".5",
    "2e999",
    "007",
    "20 ms",
    "mV",
    "ms",
    "nS/ms",
    "µm",
    "GΩ",
    "mV^2",
    "ms^-1",
    "ms^(1/2)",
    "(mV*ms)^-1",
    "+",
    "-",
    "*",
    "/",
    "%",
    "^",
    "**",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "&&",
    "||",
    "!",
    "=",
    "+=",
    "-=",
    "*=",
    "/=",
    "->",
    ":",
    ",",
    ";",
    ".",
    "'",
    "''",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "// comment\n",
    "/* block */",
    "/*",
    "*/",
    "/// doc\n",
    "\"file.nml\"",
    "\"",
    "\n",
    "é",
    "\0",
    "\u{feff}",
    "\t",
];

/// Random tokens, sometimes inside a model or network body so that the
/// soup reaches deeper rules.
fn token_soup(rng: &mut Rng) -> String {
    let mut text = String::new();
    let count = 1 + rng.below(60);
    for _ in 0..count {
        text.push_str(rng.pick(VOCABULARY));
        text.push_str(rng.pick(&[" ", " ", "", "\n", "  "]));
    }
    match rng.below(5) {
        0 => format!("neuron N {{ {text} }}"),
        1 => format!("network N {{ {text} }}"),
        2 => format!("neuron N {{ equations {{ {text} }} }}"),
        3 => format!("synapse S {{ on pre {{ {text} }} }}"),
        _ => text,
    }
}

#[test]
fn random_token_soups_never_crash() {
    let mut rng = Rng::new(0x5eed_0001);
    for case in 0..2500 {
        let text = token_soup(&mut rng);
        check(&format!("soup seed 0x5eed_0001 case {case}"), text);
    }
}

// ---------------------------------------------------------------- mutations

/// Every fixture of the snapshot tests, valid and invalid.
fn fixture_texts() -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/parse");
    let mut texts = Vec::new();
    for dir in [root.clone(), root.join("errors")] {
        let mut paths: Vec<_> = std::fs::read_dir(&dir)
            .expect("fixture directory")
            .map(|entry| entry.expect("directory entry").path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "nml"))
            .collect();
        paths.sort();
        for path in paths {
            let bytes = std::fs::read(&path).expect("read fixture");
            texts.push((path.display().to_string(), bytes));
        }
    }
    assert!(texts.len() >= 40, "expected the parse fixtures");
    texts
}

/// One random edit of the bytes: delete, duplicate, swap or insert.
fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>) {
    let len = bytes.len();
    let range = |rng: &mut Rng| {
        let start = rng.below(len + 1);
        let end = (start + rng.below(16) + 1).min(len);
        (start, end.max(start))
    };
    match rng.below(7) {
        0 if len > 0 => {
            let (start, end) = range(rng);
            bytes.drain(start..end);
        }
        1 if len > 0 => {
            let (start, end) = range(rng);
            let copy = bytes[start..end].to_vec();
            let at = rng.below(len + 1);
            bytes.splice(at..at, copy);
        }
        2 if len > 1 => {
            let a = rng.below(len);
            let b = rng.below(len);
            bytes.swap(a, b);
        }
        3 => {
            let at = rng.below(len + 1);
            let token = rng.pick(VOCABULARY).as_bytes().to_vec();
            bytes.splice(at..at, token);
        }
        4 => {
            let at = rng.below(len + 1);
            let c = rng.pick(&[
                'µ', 'Ω', '\u{0}', '\u{202e}', '🧠', 'ß', '\u{fffd}', '"', '\'',
            ]);
            let mut buf = [0; 4];
            bytes.splice(at..at, c.encode_utf8(&mut buf).bytes());
        }
        5 => {
            let at = rng.below(len + 1);
            let bad: &[u8] = rng.pick(&[&[0xffu8][..], &[0xc3], &[0xe2, 0x82], &[0x80, 0x80]]);
            bytes.splice(at..at, bad.iter().copied());
        }
        _ if len > 0 => {
            // Token-level: delete from one space to the next.
            let at = rng.below(len);
            let end = bytes[at..]
                .iter()
                .position(|b| b.is_ascii_whitespace())
                .map_or(len, |p| at + p);
            bytes.drain(at..end);
        }
        _ => bytes.push(b'}'),
    }
}

#[test]
fn mutated_fixtures_never_crash() {
    let mut rng = Rng::new(0x5eed_0002);
    for (path, original) in fixture_texts() {
        for case in 0..60 {
            let mut bytes = original.clone();
            for _ in 0..1 + rng.below(4) {
                mutate(&mut rng, &mut bytes);
            }
            let text = String::from_utf8_lossy(&bytes).into_owned();
            check(
                &format!("mutation seed 0x5eed_0002 of {path} case {case}"),
                text,
            );
        }
    }
}

// ---------------------------------------------------------------- pathological inputs

/// Parses one large input (no round-trip check: the point is that it ends).
fn check_large(label: &str, text: String) {
    let start = Instant::now();
    // A 10 MB file takes about 30 s in a debug build on a busy machine.
    if let Outcome::Panicked(message) = parse_within(label, text, 4 * HANG_LIMIT) {
        panic!("{label}: the parser panicked: {message}");
    }
    eprintln!("{label}: {:?}", start.elapsed());
}

#[test]
fn pathological_nesting_and_operator_chains() {
    check_large("10 MB of (", "(".repeat(10 << 20));
    check_large(
        "10 MB of ( in a network",
        format!("network N {{ x = {} }}", "(".repeat(10 << 20)),
    );
    let n = 100_000;
    // (what, repeated piece, final operand) inside `network N { x = … }`.
    let chains = [
        ("100k prefix minus", "- ", "1"),
        ("100k prefix not", "not ", "a"),
        ("100k right-associative powers", "a^", "a"),
        ("100k-term sum", "1 + ", "1"),
        ("100k if-then", "if a then ", "1"),
    ];
    for (what, piece, last) in chains {
        check_large(
            what,
            format!("network N {{ x = {}{last} }}", piece.repeat(n)),
        );
    }
    // Chains that the bracket pre-scan does not bound: pest's own stack
    // guard stops the longest ones, so the lengths just below its limit are
    // the ones that test the tree builder, the printer and `Drop`.
    for chain in [300, 1000, 3000, 10_000, 30_000, n] {
        check_large(
            &format!("{chain} if-then-else chained over lines"),
            format!(
                "network N {{ x = {}1 }}",
                "if a then 1 else\n".repeat(chain)
            ),
        );
        check_large(
            &format!("{chain} else-if statements"),
            format!(
                "neuron A {{ on true {{ if a {{}}{} }} }}",
                " else if a {}".repeat(chain)
            ),
        );
    }
    check_large(
        "100k nested if-then-else on one line",
        format!(
            "network N {{ x = {}1{} }}",
            "if a then 1 else ".repeat(n),
            ""
        ),
    );
}

#[test]
fn pathological_sizes_and_bytes() {
    let model = "neuron LIF {\n    parameters { tau_m: ms = 20 ms  E_L: mV = -70 mV }\n    \
                 state { V_m: mV = E_L }\n    equations { V_m' = (E_L - V_m) / tau_m }\n    \
                 spike when V_m >= -50 mV { V_m = E_L }\n}\n";
    let copies = (10 << 20) / model.len();
    check_large("10 MB of valid models", model.repeat(copies));

    let mut rng = Rng::new(0x5eed_0003);
    let bytes: Vec<u8> = (0..1 << 20).map(|_| rng.next() as u8).collect();
    check_large(
        "1 MB of random bytes",
        String::from_utf8_lossy(&bytes).into_owned(),
    );
    let ascii: String = (0..1 << 20)
        .map(|_| (b' ' + (rng.next() % 95) as u8) as char)
        .collect();
    check_large("1 MB of random printable ASCII", ascii);

    check("empty", String::new());
    check("only whitespace", " \n\t\r\n".repeat(1000));
    check("only comments", "// a\n/* b */\n/// c\n".repeat(10_000));
    check("NUL bytes", "\0".repeat(10_000));
    check(
        "NUL in a model",
        "neuron A {\0 state { x = 1\0 } }".to_string(),
    );
    check("one brace", "{".to_string());
    check("BOM", "\u{feff}neuron A {}".to_string());
    check_large(
        "100k statements in one block",
        format!("neuron A {{ on true {{ {} }} }}", "x += 1 ".repeat(100_000)),
    );
    check_large(
        "one 100k-character name",
        format!("neuron {} {{}}", "a".repeat(100_000)),
    );
}
