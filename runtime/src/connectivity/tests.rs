use super::*;

fn opts(autapses: bool, multapses: bool, offset: Option<i64>) -> RuleOptions {
    RuleOptions {
        autapses,
        multapses,
        autapse_offset: offset,
    }
}

fn rows_sorted(c: &Csr) -> bool {
    (0..c.n_pre).all(|i| c.row(i).windows(2).all(|w| w[0] <= w[1]))
}

#[test]
fn all_to_all_without_autapses() {
    let c = connect(Rule::AllToAll, 5, 5, opts(false, false, Some(0)), 1, 0).unwrap();
    assert_eq!(c.len(), 20);
    for i in 0..5 {
        assert!(!c.row(i).contains(&i));
    }
}

#[test]
fn one_to_one_needs_equal_sizes() {
    assert!(matches!(
        connect(Rule::OneToOne, 3, 4, opts(true, false, None), 1, 0),
        Err(ConnectError::SizeMismatch { .. })
    ));
    let c = connect(Rule::OneToOne, 4, 4, opts(true, false, None), 1, 0).unwrap();
    assert_eq!(c.targets, vec![0, 1, 2, 3]);
}

#[test]
fn fixed_probability_has_the_expected_count() {
    let (n, p) = (2000u32, 0.02);
    let c = connect(
        Rule::FixedProbability(p),
        n,
        n,
        opts(true, false, None),
        7,
        3,
    )
    .unwrap();
    let expected = f64::from(n) * f64::from(n) * p;
    let sd = (expected * (1.0 - p)).sqrt();
    // Binomial count: within 5 standard deviations.
    assert!(
        (c.len() as f64 - expected).abs() < 5.0 * sd,
        "{} vs {expected}",
        c.len()
    );
    assert!(rows_sorted(&c));
    assert!(c.targets.iter().all(|&t| t < n));
}

#[test]
fn fixed_indegree_gives_every_target_k_distinct_sources() {
    let c = connect(
        Rule::FixedIndegree(50),
        400,
        300,
        opts(false, false, Some(0)),
        9,
        1,
    )
    .unwrap();
    let mut indegree = vec![0u32; 300];
    for i in 0..400 {
        for &j in c.row(i) {
            indegree[j as usize] += 1;
            assert_ne!(i, j, "autapse");
        }
        assert!(
            c.row(i).windows(2).all(|w| w[0] < w[1]),
            "multapse or unsorted row"
        );
    }
    assert!(indegree.iter().all(|&d| d == 50));
}

#[test]
fn fixed_outdegree_with_multapses() {
    let c = connect(
        Rule::FixedOutdegree(30),
        100,
        10,
        opts(true, true, None),
        2,
        0,
    )
    .unwrap();
    assert_eq!(c.len(), 3000);
    assert!(rows_sorted(&c));
    assert!(matches!(
        connect(
            Rule::FixedOutdegree(30),
            100,
            10,
            opts(true, false, None),
            2,
            0
        ),
        Err(ConnectError::TooMany { .. })
    ));
}

#[test]
fn fixed_total_is_exact() {
    let c = connect(
        Rule::FixedTotal(12345),
        300,
        200,
        opts(true, false, None),
        5,
        2,
    )
    .unwrap();
    assert_eq!(c.len(), 12345);
    assert!(rows_sorted(&c));
}

#[test]
fn probability_function_of_indices() {
    let f = |i: u32, j: u32| {
        if (i as i64 - j as i64).abs() <= 1 {
            1.0
        } else {
            0.0
        }
    };
    let c = connect(
        Rule::Probability(&f),
        10,
        10,
        opts(false, false, Some(0)),
        1,
        0,
    )
    .unwrap();
    assert_eq!(c.len(), 18);
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let build = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                connect(
                    Rule::FixedProbability(0.05),
                    3000,
                    2000,
                    opts(false, false, Some(0)),
                    11,
                    4,
                )
                .unwrap()
            })
    };
    assert_eq!(build(1), build(2));
    let indegree = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                connect(
                    Rule::FixedIndegree(20),
                    500,
                    500,
                    opts(false, false, Some(0)),
                    3,
                    0,
                )
                .unwrap()
            })
    };
    assert_eq!(indegree(1), indegree(3));
}

#[test]
fn pairs_out_of_range_are_reported() {
    let pairs = [(0, 1), (5, 0)];
    assert!(matches!(
        connect(Rule::Pairs(&pairs), 3, 3, opts(true, true, None), 0, 0),
        Err(ConnectError::PairOutOfRange { pre: 5, post: 0 })
    ));
}
