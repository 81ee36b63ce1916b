use super::*;

fn unit(name: &str) -> Unit {
    lookup_unit(name).unwrap_or_else(|_| panic!("unit {name} should exist"))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
}

#[test]
fn neuroscience_units_are_one_internally() {
    for name in ["ms", "mV", "pA", "pF", "nS", "um", "mM", "GOhm"] {
        assert!(close(unit(name).internal_factor(), 1.0), "{name}");
    }
}

#[test]
fn internal_scale_is_coherent() {
    // pA / pF is mV / ms and nS * mV is pA: no hidden factors.
    let i_over_c = unit("pA").div(unit("pF"));
    let v_over_t = unit("mV").div(unit("ms"));
    assert_eq!(i_over_c.dim, v_over_t.dim);
    assert!(close(
        i_over_c.internal_factor(),
        v_over_t.internal_factor()
    ));
    let g_times_v = unit("nS").mul(unit("mV"));
    assert_eq!(g_times_v.dim, Dim::CURRENT);
    assert!(close(g_times_v.internal_factor(), 1.0));
    // MOhm * pA = 1e6 * 1e-12 V = 1e-6 V = 1e-3 mV.
    assert!(close(unit("MOhm").mul(unit("pA")).internal_factor(), 1e-3));
}

#[test]
fn prefixes_and_exact_names() {
    assert!(close(unit("Hz").internal_factor(), 1e-3));
    assert!(close(unit("kHz").internal_factor(), 1.0));
    assert!(close(unit("s").internal_factor(), 1e3));
    assert!(close(unit("µm").internal_factor(), 1.0));
    assert!(close(unit("μm").internal_factor(), 1.0));
    assert!(close(unit("M").si_factor, 1e3));
    assert!(close(unit("MOhm").si_factor, 1e6));
    assert!(close(unit("millivolt").si_factor, 1e-3));
    assert_eq!(unit("min").dim, Dim::TIME);
    assert!(lookup_unit("tau").is_err());
    assert!(lookup_unit("mmin").is_err());
}

#[test]
fn misspelled_units_get_candidates() {
    let err = lookup_unit("mv").unwrap_err();
    assert!(err.candidates.contains(&"mV".to_string()), "{err:?}");
}

#[test]
fn dimensions_print_in_si() {
    assert_eq!(Dim::VOLTAGE.to_string(), "V");
    assert_eq!(unit("nS").dim.to_string(), "S");
    assert_eq!(Dim::VOLTAGE.div(Dim::TIME).to_string(), "V/s");
    assert_eq!(Dim::TIME.sqrt(), None::<Dim>.or(Dim::TIME.sqrt()));
    assert_eq!(
        Dim::TIME.recip().sqrt().map(|d| d.to_string()).as_deref(),
        Some("s^(-1/2)")
    );
    assert_eq!(describe(Dim::VOLTAGE), "a voltage (mV)");
    assert_eq!(unit_text(Dim::VOLTAGE.div(Dim::TIME)), "mV/ms");
    assert_eq!(Dim::VOLTAGE.internal_unit_name(), "mV");
    assert_eq!(Dim::CURRENT.div(Dim::TIME).internal_unit_name(), "pA/ms");
}

#[test]
fn powers_keep_half_exponents_exact() {
    let v2 = Dim::VOLTAGE.pow(2, 1).unwrap();
    assert_eq!(v2.sqrt(), Some(Dim::VOLTAGE));
    assert_eq!(Dim::VOLTAGE.pow(1, 3), None);
    let noise = Dim::TIME.pow(-1, 2).unwrap();
    assert_eq!(noise.mul(noise), Dim::FREQUENCY);
    assert!(close(noise.internal_scale(), (1e-3f64).powf(-0.5)));
}

#[test]
fn common_units_convert_exactly() {
    assert_eq!(unit("pF").internal_factor(), 1.0);
    assert_eq!(unit("mV").internal_factor() * -70.0, -70.0);
    assert_eq!(unit("V").internal_factor(), 1000.0);
    assert_eq!(unit("Hz").internal_factor(), 0.001);
    assert_eq!(unit("uF").internal_factor(), 1e6);
    assert_eq!(unit("s").internal_factor(), 1000.0);
}
