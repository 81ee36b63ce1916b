//! Mutation fuzzing of the whole front end: loader, parser and checker.
//!
//! Every example and standard-library file is cut into tokens and mutated
//! thousands of times at the token level: names swapped for other names,
//! units or keywords, tokens deleted or inserted, numbers and units changed,
//! lines duplicated, operators swapped. Each mutant goes through
//! [`compile_text`]; the checker must neither panic nor point a diagnostic
//! outside its file or into the middle of a UTF-8 character. Most mutants
//! still parse, so unlike the parser's fuzzer these reach deep into name
//! resolution, unit inference, `extends`, kernels and networks.
//!
//! The generator is a fixed-seed xorshift64*, so every run checks the same
//! mutants and a failure names the seed, the case and the mutated text.

use nmlc_compiler::loader::DiskReader;
use nmlc_compiler::{Compilation, compile_text};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Mutants per corpus file.
const MUTANTS_PER_FILE: usize = 160;

/// The whole run stops starting new mutants after this long, so that a slow
/// machine still finishes in reasonable time (each file gets a fair share).
const TIME_BUDGET: Duration = Duration::from_secs(40);

/// The checker recurses over expressions; give it the room the CLI gives.
const STACK_SIZE: usize = 256 << 20;

mod common;
use common::Rng;

/// What a piece of source text is, for choosing mutations.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Name,
    Number,
    Operator,
    Space,
    Comment,
    Other,
}

#[derive(Clone, Debug)]
struct Token {
    kind: Kind,
    text: String,
}

/// Splits text into tokens whose concatenation is the text again.
fn tokenize(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let start = i;
        let c = chars[i];
        let kind = if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            Kind::Comment
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            i = (i + 2).min(chars.len());
            Kind::Comment
        } else if c.is_whitespace() {
            while i < chars.len() && chars[i].is_whitespace() {
                i += 1;
            }
            Kind::Space
        } else if c.is_alphabetic() || c == '_' {
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            Kind::Name
        } else if c.is_ascii_digit() {
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric()
                    || chars[i] == '.'
                    || ((chars[i] == '-' || chars[i] == '+') && matches!(chars[i - 1], 'e' | 'E')))
            {
                // Stop before a unit written right after the number.
                if chars[i].is_alphabetic() && !matches!(chars[i], 'e' | 'E') {
                    break;
                }
                i += 1;
            }
            Kind::Number
        } else if "+-*/^<>=!&|%".contains(c) {
            while i < chars.len() && "+-*/^<>=!&|%".contains(chars[i]) && i - start < 2 {
                i += 1;
            }
            Kind::Operator
        } else {
            i += 1;
            Kind::Other
        };
        tokens.push(Token {
            kind,
            text: chars[start..i].iter().collect(),
        });
    }
    tokens
}

const KEYWORDS: &[&str] = &[
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
    "rule",
    "delay",
    "synapse",
];

/// Units and built-in names a mutation can drop in.
const UNITS_AND_BUILTINS: &[&str] = &[
    "mV",
    "ms",
    "s",
    "Hz",
    "pA",
    "nA",
    "pF",
    "nS",
    "uS",
    "GOhm",
    "Ohm",
    "mM",
    "um",
    "mm",
    "kHz",
    "V",
    "A",
    "S",
    "F",
    "m",
    "K",
    "mol",
    "t",
    "dt",
    "xi",
    "pi",
    "e",
    "i",
    "N",
    "exp",
    "log",
    "sqrt",
    "rand",
    "randn",
    "uniform",
    "normal",
    "convolve",
    "all_to_all",
    "one_to_one",
    "fixed_probability",
    "dist",
    "x",
    "w",
    "SpikeSource",
    "LIF",
    "PoissonSource",
];

const NUMBERS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "0.5",
    "1e308",
    "1e999",
    "1e-320",
    "4294967296",
    "18446744073709551617",
    "3.7",
    "0.0",
    "100000000",
    "1.5",
];

const OPERATORS: &[&str] = &[
    "+", "-", "*", "/", "^", "**", "<", "<=", ">", ">=", "==", "!=", "=", "+=", "-=", "*=", "/=",
    "&&", "||", "%", "!",
];

const PUNCTUATION: &[&str] = &[
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    ",",
    ";",
    ":",
    "'",
    "''",
    ".",
    "->",
    "\"x.csv\"",
];

/// Applies one random mutation to `tokens`.
fn mutate(rng: &mut Rng, tokens: &mut Vec<Token>, names: &[&str]) {
    let mutable: Vec<usize> = (0..tokens.len())
        .filter(|&k| !matches!(tokens[k].kind, Kind::Space | Kind::Comment))
        .collect();
    if mutable.is_empty() {
        return;
    }
    let at = mutable[rng.below(mutable.len())];
    let token = |text: &str, kind: Kind| Token {
        kind,
        text: text.to_string(),
    };
    // Mostly mutations that keep the syntax, so that the checker sees them.
    match rng.below(14) {
        // Another name: from the same corpus, a unit/built-in or a keyword.
        0..=4 => {
            let replacement = match rng.below(3) {
                0 => rng.pick(names),
                1 => rng.pick(UNITS_AND_BUILTINS),
                _ => rng.pick(KEYWORDS),
            };
            let named: Vec<usize> = mutable
                .iter()
                .copied()
                .filter(|&k| tokens[k].kind == Kind::Name)
                .collect();
            let target = if named.is_empty() {
                at
            } else {
                named[rng.below(named.len())]
            };
            tokens[target] = token(replacement, Kind::Name);
        }
        // Delete a token.
        5 => {
            tokens.remove(at);
        }
        // Another number, possibly with a unit written after it.
        6 | 7 => {
            let mut text = rng.pick(NUMBERS).to_string();
            if rng.below(2) == 0 {
                text.push(' ');
                text.push_str(rng.pick(UNITS_AND_BUILTINS));
            }
            let target = mutable
                .iter()
                .copied()
                .find(|&k| k >= at && tokens[k].kind == Kind::Number)
                .unwrap_or(at);
            tokens[target] = token(&text, Kind::Number);
        }
        // Another operator.
        8 => {
            let target = mutable
                .iter()
                .copied()
                .find(|&k| k >= at && tokens[k].kind == Kind::Operator)
                .unwrap_or(at);
            tokens[target] = token(rng.pick(OPERATORS), Kind::Operator);
        }
        // Duplicate the line the token is on.
        9 => {
            let line_start = (0..=at)
                .rev()
                .find(|&k| tokens[k].kind == Kind::Space && tokens[k].text.contains('\n'))
                .map_or(0, |k| k + 1);
            let line_end = (at..tokens.len())
                .find(|&k| tokens[k].kind == Kind::Space && tokens[k].text.contains('\n'))
                .unwrap_or(tokens.len());
            let line: Vec<Token> = tokens[line_start..line_end].to_vec();
            let mut copy = vec![token("\n", Kind::Space)];
            copy.extend(line);
            tokens.splice(line_end..line_end, copy);
        }
        // Swap two neighbouring tokens.
        10 => {
            if let Some(&next) = mutable.iter().find(|&&k| k > at) {
                tokens.swap(at, next);
            }
        }
        // Insert a random token.
        11 => {
            let (text, kind) = match rng.below(4) {
                0 => (rng.pick(PUNCTUATION), Kind::Other),
                1 => (rng.pick(OPERATORS), Kind::Operator),
                2 => (rng.pick(UNITS_AND_BUILTINS), Kind::Name),
                _ => (rng.pick(KEYWORDS), Kind::Name),
            };
            tokens.insert(at, token(" ", Kind::Space));
            tokens.insert(at + 1, token(text, kind));
            tokens.insert(at + 2, token(" ", Kind::Space));
        }
        // A unit right after a number changes.
        12 => {
            let target = mutable
                .iter()
                .copied()
                .find(|&k| k >= at && tokens[k].kind == Kind::Number)
                .unwrap_or(at);
            if let Some(unit) = (target + 1..tokens.len())
                .find(|&k| tokens[k].kind != Kind::Space)
                .filter(|&k| tokens[k].kind == Kind::Name)
            {
                tokens[unit] = token(rng.pick(UNITS_AND_BUILTINS), Kind::Name);
            }
        }
        // Replace a punctuation mark.
        _ => tokens[at] = token(rng.pick(PUNCTUATION), Kind::Other),
    }
}

/// Every example and standard-library file: path and text.
fn corpus() -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    let mut pending = vec![root.join("examples"), root.join("stdlib")];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "nml") {
                let text = std::fs::read_to_string(&path).expect("corpus files are UTF-8");
                files.push((path, text));
            }
        }
    }
    files.sort();
    assert!(
        files.len() >= 20,
        "the corpus has only {} files",
        files.len()
    );
    files
}

/// Checks that every label of every diagnostic lies inside its file and on
/// character boundaries; returns what is wrong.
fn span_problems(c: &Compilation) -> Vec<String> {
    let mut problems = Vec::new();
    for d in &c.diagnostics {
        let labels = d.primary.iter().chain(&d.secondary);
        for (k, label) in labels.enumerate() {
            let text = &c.loaded.sources.get(label.span.file).text;
            let (start, end) = (label.span.start as usize, label.span.end as usize);
            let ok = start <= end
                && end <= text.len()
                && text.is_char_boundary(start)
                && text.is_char_boundary(end);
            if !ok {
                problems.push(format!(
                    "{} (label {k}): span {start}..{end} is not a character range of a {}-byte file",
                    d.code,
                    text.len()
                ));
            }
        }
        if d.primary.is_none() {
            problems.push(format!("{}: diagnostic without a location", d.code));
        }
    }
    problems
}

fn run_mutants() -> Vec<String> {
    let files = corpus();
    let names_text: String = files.iter().map(|(_, t)| t.as_str()).collect();
    let names_tokens = tokenize(&names_text);
    let mut names: Vec<&str> = names_tokens
        .iter()
        .filter(|t| t.kind == Kind::Name)
        .map(|t| t.text.as_str())
        .collect();
    names.sort_unstable();
    names.dedup();

    let seed = 0x5eed_c0de;
    let mut rng = Rng::new(seed);
    let started = Instant::now();
    let per_file_budget = TIME_BUDGET / files.len() as u32;
    let mut failures = Vec::new();
    let mut checked = 0usize;
    // Mutants without a syntax error, which the checker sees.
    let mut reached_checker = 0usize;
    for (path, text) in &files {
        let file_started = Instant::now();
        let tokens = tokenize(text);
        let joined: String = tokens.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(&joined, text, "tokenize loses text of {}", path.display());
        let name = path.file_name().expect("a file name").to_string_lossy();
        let dir = path.parent();
        for case in 0..MUTANTS_PER_FILE {
            if file_started.elapsed() > per_file_budget {
                break;
            }
            let mut mutant = tokens.clone();
            for _ in 0..1 + rng.below(2) {
                mutate(&mut rng, &mut mutant, &names);
            }
            let mutant: String = mutant.iter().map(|t| t.text.as_str()).collect();
            let result = catch_unwind(AssertUnwindSafe(|| {
                let c = compile_text(&name, &mutant, dir, &DiskReader);
                let parsed = !c.diagnostics.iter().any(|d| d.code == "nml::syntax");
                (span_problems(&c), parsed)
            }));
            let problems = match result {
                Ok((problems, parsed)) => {
                    reached_checker += usize::from(parsed);
                    problems
                }
                Err(panic) => vec![format!(
                    "panicked: {}",
                    panic
                        .downcast_ref::<String>()
                        .map(String::as_str)
                        .or_else(|| panic.downcast_ref::<&str>().copied())
                        .unwrap_or("(no message)")
                )],
            };
            checked += 1;
            if !problems.is_empty() && failures.len() < 10 {
                failures.push(format!(
                    "seed {seed:#x}, {} case {case}:\n  {}\n----- mutant\n{mutant}\n-----",
                    path.display(),
                    problems.join("\n  ")
                ));
            }
        }
    }
    eprintln!(
        "fuzz_checker: {checked} mutants of {} files in {:.1} s, {reached_checker} without a syntax error",
        files.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(checked >= files.len() * 20, "only {checked} mutants ran");
    // Token mutations that only ever broke the syntax would test the
    // parser, not the checker.
    assert!(
        reached_checker * 4 >= checked,
        "only {reached_checker} of {checked} mutants reached the checker"
    );
    failures
}

#[test]
fn mutated_corpus_never_panics_and_spans_stay_in_the_file() {
    let worker = std::thread::Builder::new()
        .stack_size(STACK_SIZE)
        .spawn(run_mutants)
        .expect("spawn the fuzzing thread");
    let failures = worker.join().expect("the fuzzing thread returns");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn tokenize_keeps_every_character() {
    let text = "neuron A { V' = -V/10 ms + 1.5e-3 mV/ms // c\n /* b */ x''=2 }";
    let tokens = tokenize(text);
    let joined: String = tokens.iter().map(|t| t.text.as_str()).collect();
    assert_eq!(joined, text);
    let numbers: Vec<&str> = tokens
        .iter()
        .filter(|t| t.kind == Kind::Number)
        .map(|t| t.text.as_str())
        .collect();
    assert_eq!(numbers, ["10", "1.5e-3", "2"]);
}
