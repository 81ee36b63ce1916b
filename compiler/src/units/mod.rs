//! Physical units and dimensional analysis.
//!
//! A [`Dim`] is a vector of exponents over the seven SI base dimensions. A
//! [`Unit`] is a dimension with a factor to SI (`mV` is voltage × 1e-3).
//!
//! # Internal scale
//!
//! nmlc converts every quantity to one internal scale exactly once, when the
//! checker reads a literal or a unit name: the *internal value* of a quantity
//! is its SI value divided by [`Dim::internal_scale`]. The scale is chosen so
//! that the units neuroscientists use are 1: time in ms, voltage in mV,
//! current in pA, capacitance in pF, conductance in nS, resistance in GΩ,
//! length in µm, concentration in mM (= mol/m³), frequency in kHz (1/ms). The
//! set is coherent: pA/pF = mV/ms and nS·mV = pA, so equations need no
//! conversion factors at run time.

mod parse;

pub use parse::{UnitError, lookup_unit};

use serde::Serialize;
use std::fmt;

/// Number of SI base dimensions.
pub const BASE_COUNT: usize = 7;

/// SI symbols of the base dimensions, in the order of [`Dim`]'s exponents.
pub const BASE_SYMBOLS: [&str; BASE_COUNT] = ["s", "m", "kg", "A", "K", "mol", "cd"];

/// SI value of one internal unit of each base dimension: ms, µm, 1e-12 kg
/// (which makes mV, pF and nS coherent), pA, K, 1e-18 mol (which makes mM
/// one), cd.
const INTERNAL_BASE_SCALE: [f64; BASE_COUNT] = [1e-3, 1e-6, 1e-12, 1e-12, 1.0, 1e-18, 1.0];

/// A physical dimension: exponents of s, m, kg, A, K, mol, cd.
///
/// Exponents are stored doubled so that square roots (`sqrt(mV^2)`, and the
/// white-noise term `xi` with dimension s^-1/2) stay exact.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Dim {
    twice: [i16; BASE_COUNT],
}

impl Dim {
    /// The dimension of pure numbers.
    pub const ONE: Dim = Dim {
        twice: [0; BASE_COUNT],
    };
    /// Time.
    pub const TIME: Dim = Dim::base(0);
    /// Length.
    pub const LENGTH: Dim = Dim::base(1);
    /// Mass.
    pub const MASS: Dim = Dim::base(2);
    /// Electric current.
    pub const CURRENT: Dim = Dim::base(3);
    /// Temperature.
    pub const TEMPERATURE: Dim = Dim::base(4);
    /// Amount of substance.
    pub const AMOUNT: Dim = Dim::base(5);
    /// Luminous intensity.
    pub const LUMINOSITY: Dim = Dim::base(6);

    const fn base(i: usize) -> Dim {
        let mut twice = [0; BASE_COUNT];
        twice[i] = 2;
        Dim { twice }
    }

    /// Builds a dimension from integer exponents of s, m, kg, A, K, mol, cd.
    pub const fn from_exponents(e: [i16; BASE_COUNT]) -> Dim {
        let mut twice = [0; BASE_COUNT];
        let mut i = 0;
        while i < BASE_COUNT {
            twice[i] = e[i] * 2;
            i += 1;
        }
        Dim { twice }
    }

    /// Voltage (kg m² s⁻³ A⁻¹).
    pub const VOLTAGE: Dim = Dim::from_exponents([-3, 2, 1, -1, 0, 0, 0]);
    /// Frequency (s⁻¹).
    pub const FREQUENCY: Dim = Dim::from_exponents([-1, 0, 0, 0, 0, 0, 0]);

    /// Whether this is the dimension of pure numbers.
    pub fn is_dimensionless(&self) -> bool {
        *self == Dim::ONE
    }

    /// The product of two dimensions.
    #[allow(clippy::should_implement_trait)]
    pub fn mul(self, other: Dim) -> Dim {
        let mut twice = self.twice;
        for (a, b) in twice.iter_mut().zip(other.twice) {
            *a = a.saturating_add(b);
        }
        Dim { twice }
    }

    /// The quotient of two dimensions.
    #[allow(clippy::should_implement_trait)]
    pub fn div(self, other: Dim) -> Dim {
        self.mul(other.recip())
    }

    /// The reciprocal dimension.
    pub fn recip(self) -> Dim {
        let mut twice = self.twice;
        for a in twice.iter_mut() {
            *a = a.saturating_neg();
        }
        Dim { twice }
    }

    /// This dimension raised to `num/den`, if every exponent stays a multiple
    /// of one half.
    pub fn pow(self, num: i32, den: i32) -> Option<Dim> {
        if den == 0 {
            return None;
        }
        let mut twice = [0i16; BASE_COUNT];
        for (out, &a) in twice.iter_mut().zip(&self.twice) {
            let scaled = a as i64 * num as i64;
            if scaled % den as i64 != 0 {
                return None;
            }
            let v = scaled / den as i64;
            *out = i16::try_from(v).ok()?;
        }
        Some(Dim { twice })
    }

    /// The square root, if every exponent stays a multiple of one half.
    pub fn sqrt(self) -> Option<Dim> {
        self.pow(1, 2)
    }

    /// Exponents as `(numerator, denominator)` with denominator 1 or 2.
    pub fn exponents(&self) -> [(i16, i16); BASE_COUNT] {
        self.twice
            .map(|t| if t % 2 == 0 { (t / 2, 1) } else { (t, 2) })
    }

    /// SI value of one internal unit of this dimension: a quantity's internal
    /// value is its SI value divided by this.
    pub fn internal_scale(&self) -> f64 {
        let mut scale = 1.0;
        for (i, &t) in self.twice.iter().enumerate() {
            if t != 0 {
                scale *= INTERNAL_BASE_SCALE[i].powf(t as f64 / 2.0);
            }
        }
        scale
    }

    /// A word for the dimension when there is one ("voltage", "time").
    pub fn quantity_name(&self) -> Option<&'static str> {
        NAMED_DIMENSIONS
            .iter()
            .find(|(_, d, _)| d == self)
            .map(|(n, _, _)| *n)
    }

    /// The unit nmlc shows values of this dimension in (the internal unit):
    /// `mV`, `ms`, `pA/ms`.
    pub fn internal_unit_name(&self) -> String {
        if let Some((_, _, u)) = NAMED_DIMENSIONS.iter().find(|(_, d, _)| d == self) {
            return (*u).to_string();
        }
        // Try a named dimension divided by time or by a squared named one.
        for (_, d, u) in NAMED_DIMENSIONS {
            if d.div(Dim::TIME) == *self && !u.contains('/') {
                return format!("{u}/ms");
            }
        }
        format_exponents(self, &["ms", "um", "(1e-12 kg)", "pA", "K", "amol", "cd"])
    }
}

/// Dimensions with a name, the way a neuroscientist would say them, and the
/// internal unit they are shown in.
const NAMED_DIMENSIONS: &[(&str, Dim, &str)] = &[
    ("dimensionless", Dim::ONE, "1"),
    ("time", Dim::TIME, "ms"),
    ("frequency", Dim::FREQUENCY, "kHz"),
    ("voltage", Dim::VOLTAGE, "mV"),
    ("current", Dim::CURRENT, "pA"),
    (
        "conductance",
        Dim::from_exponents([3, -2, -1, 2, 0, 0, 0]),
        "nS",
    ),
    (
        "resistance",
        Dim::from_exponents([-3, 2, 1, -2, 0, 0, 0]),
        "GOhm",
    ),
    (
        "capacitance",
        Dim::from_exponents([4, -2, -1, 2, 0, 0, 0]),
        "pF",
    ),
    ("charge", Dim::from_exponents([1, 0, 0, 1, 0, 0, 0]), "fC"),
    ("length", Dim::LENGTH, "um"),
    ("area", Dim::from_exponents([0, 2, 0, 0, 0, 0, 0]), "um^2"),
    ("volume", Dim::from_exponents([0, 3, 0, 0, 0, 0, 0]), "um^3"),
    (
        "concentration",
        Dim::from_exponents([0, -3, 0, 0, 0, 1, 0]),
        "mM",
    ),
    ("amount of substance", Dim::AMOUNT, "amol"),
    ("temperature", Dim::TEMPERATURE, "K"),
    ("mass", Dim::MASS, "(1e-12 kg)"),
    (
        "voltage per time",
        Dim::from_exponents([-4, 2, 1, -1, 0, 0, 0]),
        "mV/ms",
    ),
    (
        "current per time",
        Dim::from_exponents([-1, 0, 0, 1, 0, 0, 0]),
        "pA/ms",
    ),
    (
        "conductance per time",
        Dim::from_exponents([2, -2, -1, 2, 0, 0, 0]),
        "nS/ms",
    ),
    (
        "specific capacitance",
        Dim::from_exponents([4, -4, -1, 2, 0, 0, 0]),
        "pF/um^2",
    ),
    (
        "specific conductance",
        Dim::from_exponents([3, -4, -1, 2, 0, 0, 0]),
        "nS/um^2",
    ),
    (
        "current density",
        Dim::from_exponents([0, -2, 0, 1, 0, 0, 0]),
        "pA/um^2",
    ),
    ("energy", Dim::from_exponents([-2, 2, 1, 0, 0, 0, 0]), "aJ"),
    ("power", Dim::from_exponents([-3, 2, 1, 0, 0, 0, 0]), "fW"),
    (
        "squared voltage",
        Dim::from_exponents([-6, 4, 2, -2, 0, 0, 0]),
        "mV^2",
    ),
    (
        "noise intensity",
        Dim {
            twice: [-1, 0, 0, 0, 0, 0, 0],
        },
        "ms^-1/2",
    ),
];

/// Writes a dimension as a product of powers of the given base symbols.
fn format_exponents(dim: &Dim, symbols: &[&str; BASE_COUNT]) -> String {
    if dim.is_dimensionless() {
        return "1".to_string();
    }
    let mut parts = Vec::new();
    for (i, (num, den)) in dim.exponents().iter().enumerate() {
        match (num, den) {
            (0, _) => {}
            (1, 1) => parts.push(symbols[i].to_string()),
            (n, 1) => parts.push(format!("{}^{}", symbols[i], n)),
            (n, d) => parts.push(format!("{}^({}/{})", symbols[i], n, d)),
        }
    }
    parts.join(" ")
}

impl fmt::Display for Dim {
    /// SI form, using a derived unit where one matches exactly
    /// (`V`, `A/s`, `kg m^2`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(sym) = SI_DERIVED.iter().find(|(_, d)| d == self).map(|(s, _)| s) {
            return f.write_str(sym);
        }
        for (sym, d) in SI_DERIVED {
            if d.div(Dim::TIME) == *self && *sym != "1" {
                return write!(f, "{sym}/s");
            }
        }
        f.write_str(&format_exponents(self, &BASE_SYMBOLS))
    }
}

impl fmt::Debug for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{self}]")
    }
}

impl Serialize for Dim {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// SI derived units used to print dimensions.
const SI_DERIVED: &[(&str, Dim)] = &[
    ("1", Dim::ONE),
    ("s", Dim::TIME),
    ("Hz", Dim::FREQUENCY),
    ("V", Dim::VOLTAGE),
    ("A", Dim::CURRENT),
    ("S", Dim::from_exponents([3, -2, -1, 2, 0, 0, 0])),
    ("ohm", Dim::from_exponents([-3, 2, 1, -2, 0, 0, 0])),
    ("F", Dim::from_exponents([4, -2, -1, 2, 0, 0, 0])),
    ("C", Dim::from_exponents([1, 0, 0, 1, 0, 0, 0])),
    ("m", Dim::LENGTH),
    ("m^2", Dim::from_exponents([0, 2, 0, 0, 0, 0, 0])),
    ("M", Dim::from_exponents([0, -3, 0, 0, 0, 1, 0])),
    ("J", Dim::from_exponents([-2, 2, 1, 0, 0, 0, 0])),
    ("W", Dim::from_exponents([-3, 2, 1, 0, 0, 0, 0])),
    ("V^2", Dim::from_exponents([-6, 4, 2, -2, 0, 0, 0])),
    ("F/m^2", Dim::from_exponents([4, -4, -1, 2, 0, 0, 0])),
    ("S/m^2", Dim::from_exponents([3, -4, -1, 2, 0, 0, 0])),
    ("A/m^2", Dim::from_exponents([0, -2, 0, 1, 0, 0, 0])),
    (
        "s^(-1/2)",
        Dim {
            twice: [-1, 0, 0, 0, 0, 0, 0],
        },
    ),
];

/// A unit: a dimension and the SI value of one of it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Unit {
    /// Its dimension.
    pub dim: Dim,
    /// SI value of one of this unit (`mV` → 1e-3).
    pub si_factor: f64,
}

impl Unit {
    /// The dimensionless unit 1.
    pub const ONE: Unit = Unit {
        dim: Dim::ONE,
        si_factor: 1.0,
    };

    /// Internal value of one of this unit: `mV` → 1, `V` → 1000, `Hz` → 0.001.
    ///
    /// The ratio of two powers of ten computed in floating point is off by an
    /// ulp or two (`pF` would come out as 0.9999999999999999); true factors
    /// are short decimals, so the ratio is snapped to 15 significant digits,
    /// which makes `250 pF` exactly 250 internally.
    pub fn internal_factor(&self) -> f64 {
        snap(self.si_factor / self.dim.internal_scale())
    }

    /// Product of two units.
    #[allow(clippy::should_implement_trait)]
    pub fn mul(self, other: Unit) -> Unit {
        Unit {
            dim: self.dim.mul(other.dim),
            si_factor: self.si_factor * other.si_factor,
        }
    }

    /// Quotient of two units.
    #[allow(clippy::should_implement_trait)]
    pub fn div(self, other: Unit) -> Unit {
        Unit {
            dim: self.dim.div(other.dim),
            si_factor: self.si_factor / other.si_factor,
        }
    }

    /// This unit raised to `num/den`.
    pub fn pow(self, num: i32, den: i32) -> Option<Unit> {
        Some(Unit {
            dim: self.dim.pow(num, den)?,
            si_factor: self.si_factor.powf(num as f64 / den as f64),
        })
    }
}

/// Rounds to 15 significant decimal digits (see [`Unit::internal_factor`]).
fn snap(x: f64) -> f64 {
    if !x.is_finite() || x == 0.0 {
        return x;
    }
    format!("{x:.14e}").parse().unwrap_or(x)
}

/// A dimension written the way a neuroscientist would write a unit of it:
/// `mV`, `mV/ms`, `nS`, `pA/ms`, falling back to SI base units for
/// dimensions without such a form.
pub fn unit_text(dim: Dim) -> String {
    let internal = dim.internal_unit_name();
    if internal.contains("kg") || internal.contains("amol") {
        dim.to_string()
    } else {
        internal
    }
}

/// A name for the dimension suitable for a sentence:
/// "a voltage (V)", "a quantity in A/s", "a dimensionless number".
pub fn describe(dim: Dim) -> String {
    match dim.quantity_name() {
        Some("dimensionless") => "a dimensionless number".to_string(),
        Some(name) => {
            let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
                "an"
            } else {
                "a"
            };
            format!("{article} {name} ({})", unit_text(dim))
        }
        None => format!("a quantity in {}", unit_text(dim)),
    }
}

#[cfg(test)]
mod tests;
