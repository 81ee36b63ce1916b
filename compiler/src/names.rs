//! Spelling suggestions for unknown names.

/// The Levenshtein distance between two strings, in characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

/// ` (did you mean `a`, `b`?)` for an unknown `name` among `known`, or
/// nothing: for a message that goes on to list the choices.
pub fn did_you_mean_note<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    let found = did_you_mean(name, known);
    if found.is_empty() {
        return String::new();
    }
    let names: Vec<String> = found.iter().map(|f| format!("`{f}`")).collect();
    format!(" (did you mean {}?)", names.join(", "))
}

/// The names among `known` close enough to `name` to be what was meant,
/// best first (at most three).
pub fn did_you_mean<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let limit = match name.chars().count() {
        0..=2 => 1,
        3..=5 => 2,
        _ => 3,
    };
    let lower = name.to_lowercase();
    let mut found: Vec<(usize, String)> = known
        .into_iter()
        .filter(|k| *k != name)
        .filter_map(|k| {
            let d = edit_distance(&lower, &k.to_lowercase());
            (d <= limit).then(|| (d, k.to_string()))
        })
        .collect();
    found.sort();
    found.dedup();
    // Only the closest names: a one-letter slip should not also suggest
    // names two edits away.
    let best = found.first().map(|(d, _)| *d).unwrap_or(0);
    found
        .into_iter()
        .filter(|(d, _)| *d == best)
        .take(3)
        .map(|(_, k)| k)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("tau_m", "tau_m"), 0);
        assert_eq!(edit_distance("tau_n", "tau_m"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn suggestions_prefer_the_closest() {
        let known = ["tau_m", "tau_syn", "C_m", "V_th"];
        assert_eq!(did_you_mean("tau_n", known), vec!["tau_m"]);
        assert_eq!(did_you_mean("Vth", known), vec!["V_th"]);
        assert!(did_you_mean("zzzzzz", known).is_empty());
    }
}
