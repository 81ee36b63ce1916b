//! Unit names: the table of SI and derived units and the SI prefixes.

use super::{Dim, Unit};

/// Why a unit name was not understood.
#[derive(Clone, Debug, PartialEq)]
pub struct UnitError {
    /// Known unit names close to the one written.
    pub candidates: Vec<String>,
}

/// Units by symbol and long name. Symbols are matched exactly first, so `M`
/// is molar, `mM` millimolar, `MOhm` megaohm and `min` a minute.
const UNITS: &[(&str, Dim, f64)] = &[
    ("s", Dim::TIME, 1.0),
    ("second", Dim::TIME, 1.0),
    ("min", Dim::TIME, 60.0),
    ("Hz", Dim::FREQUENCY, 1.0),
    ("hertz", Dim::FREQUENCY, 1.0),
    ("V", Dim::VOLTAGE, 1.0),
    ("volt", Dim::VOLTAGE, 1.0),
    ("A", Dim::CURRENT, 1.0),
    ("amp", Dim::CURRENT, 1.0),
    ("ampere", Dim::CURRENT, 1.0),
    ("ohm", Dim::from_exponents([-3, 2, 1, -2, 0, 0, 0]), 1.0),
    ("Ohm", Dim::from_exponents([-3, 2, 1, -2, 0, 0, 0]), 1.0),
    ("Ω", Dim::from_exponents([-3, 2, 1, -2, 0, 0, 0]), 1.0),
    ("S", Dim::from_exponents([3, -2, -1, 2, 0, 0, 0]), 1.0),
    ("siemens", Dim::from_exponents([3, -2, -1, 2, 0, 0, 0]), 1.0),
    ("F", Dim::from_exponents([4, -2, -1, 2, 0, 0, 0]), 1.0),
    ("farad", Dim::from_exponents([4, -2, -1, 2, 0, 0, 0]), 1.0),
    ("C", Dim::from_exponents([1, 0, 0, 1, 0, 0, 0]), 1.0),
    ("coulomb", Dim::from_exponents([1, 0, 0, 1, 0, 0, 0]), 1.0),
    ("J", Dim::from_exponents([-2, 2, 1, 0, 0, 0, 0]), 1.0),
    ("joule", Dim::from_exponents([-2, 2, 1, 0, 0, 0, 0]), 1.0),
    ("W", Dim::from_exponents([-3, 2, 1, 0, 0, 0, 0]), 1.0),
    ("watt", Dim::from_exponents([-3, 2, 1, 0, 0, 0, 0]), 1.0),
    ("N", Dim::from_exponents([-2, 1, 1, 0, 0, 0, 0]), 1.0),
    ("newton", Dim::from_exponents([-2, 1, 1, 0, 0, 0, 0]), 1.0),
    ("m", Dim::LENGTH, 1.0),
    ("metre", Dim::LENGTH, 1.0),
    ("meter", Dim::LENGTH, 1.0),
    ("g", Dim::MASS, 1e-3),
    ("gram", Dim::MASS, 1e-3),
    ("l", Dim::from_exponents([0, 3, 0, 0, 0, 0, 0]), 1e-3),
    ("L", Dim::from_exponents([0, 3, 0, 0, 0, 0, 0]), 1e-3),
    ("liter", Dim::from_exponents([0, 3, 0, 0, 0, 0, 0]), 1e-3),
    ("litre", Dim::from_exponents([0, 3, 0, 0, 0, 0, 0]), 1e-3),
    ("mol", Dim::AMOUNT, 1.0),
    ("mole", Dim::AMOUNT, 1.0),
    ("M", Dim::from_exponents([0, -3, 0, 0, 0, 1, 0]), 1e3),
    ("molar", Dim::from_exponents([0, -3, 0, 0, 0, 1, 0]), 1e3),
    ("K", Dim::TEMPERATURE, 1.0),
    ("kelvin", Dim::TEMPERATURE, 1.0),
    ("cd", Dim::LUMINOSITY, 1.0),
    ("candela", Dim::LUMINOSITY, 1.0),
];

/// SI prefixes. `u`, `µ` (micro sign) and `μ` (Greek mu) all mean 1e-6.
const PREFIXES: &[(&str, f64)] = &[
    ("y", 1e-24),
    ("z", 1e-21),
    ("a", 1e-18),
    ("f", 1e-15),
    ("p", 1e-12),
    ("n", 1e-9),
    ("u", 1e-6),
    ("µ", 1e-6),
    ("μ", 1e-6),
    ("m", 1e-3),
    ("c", 1e-2),
    ("d", 1e-1),
    ("da", 1e1),
    ("h", 1e2),
    ("k", 1e3),
    ("M", 1e6),
    ("G", 1e9),
    ("T", 1e12),
];

/// Looks up a unit name such as `mV`, `nS`, `kHz`, `µm` or `MOhm`.
pub fn lookup_unit(name: &str) -> Result<Unit, UnitError> {
    if let Some(&(_, dim, si_factor)) = UNITS.iter().find(|(n, _, _)| *n == name) {
        return Ok(Unit { dim, si_factor });
    }
    for (prefix, factor) in PREFIXES {
        if let Some(rest) = name.strip_prefix(prefix) {
            // Prefixes apply to symbols and to long names (`millivolt`), but
            // never to `min` or to another prefix.
            if let Some(&(base, dim, si_factor)) = UNITS.iter().find(|(n, _, _)| *n == rest)
                && base != "min"
            {
                return Ok(Unit {
                    dim,
                    si_factor: si_factor * factor,
                });
            }
        }
    }
    for (long, factor) in LONG_PREFIXES {
        if let Some(rest) = name.strip_prefix(long)
            && let Some(&(_, dim, si_factor)) =
                UNITS.iter().find(|(n, _, _)| *n == rest && n.len() > 2)
        {
            return Ok(Unit {
                dim,
                si_factor: si_factor * factor,
            });
        }
    }
    Err(UnitError {
        candidates: close_unit_names(name),
    })
}

/// Long-form prefixes for long unit names (`millivolt`, `nanosiemens`).
const LONG_PREFIXES: &[(&str, f64)] = &[
    ("pico", 1e-12),
    ("nano", 1e-9),
    ("micro", 1e-6),
    ("milli", 1e-3),
    ("centi", 1e-2),
    ("kilo", 1e3),
    ("mega", 1e6),
    ("giga", 1e9),
];

/// Common prefixed units that a misspelling is likely to have meant.
const COMMON: &[&str] = &[
    "s", "ms", "us", "Hz", "kHz", "V", "mV", "uV", "A", "mA", "uA", "nA", "pA", "S", "mS", "uS",
    "nS", "pS", "F", "uF", "nF", "pF", "ohm", "kOhm", "MOhm", "GOhm", "m", "cm", "mm", "um", "M",
    "mM", "uM", "mol", "K", "C",
];

fn close_unit_names(name: &str) -> Vec<String> {
    let lower = name.to_lowercase();
    let mut found: Vec<(usize, &str)> = COMMON
        .iter()
        .map(|c| (crate::names::edit_distance(&lower, &c.to_lowercase()), *c))
        .filter(|(d, c)| *d == 0 || (*d <= 1 && c.len() > 1) || (*d <= 2 && c.len() > 3))
        .collect();
    found.sort();
    found
        .into_iter()
        .take(3)
        .map(|(_, c)| c.to_string())
        .collect()
}
