//! Helpers shared by the differential tests of kernels (differential.rs, rows.rs).

#![allow(dead_code)]

use gradc_graph::interp::Data;
use gradc_graph::random::{Shape, SplitMix};
use proptest::prelude::*;

/// Same value: equal bits, or both NaN.
pub fn same(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
}

/// `n_rows` rows of `n_inputs` uniform values in [-2, 2).
pub fn random_data(rng: &mut SplitMix, n_rows: usize, n_inputs: usize) -> Data {
    let rows: Vec<Vec<f64>> = (0..n_rows)
        .map(|_| (0..n_inputs).map(|_| rng.uniform(-2.0, 2.0)).collect())
        .collect();
    let mut data = Data::from_rows(&rows);
    if n_inputs > 0 && rows.is_empty() {
        data.columns = vec![Vec::new(); n_inputs];
    }
    data
}

/// Random model shapes: 1–3 parameters, `inputs` data columns, expressions of 1–9 operations.
pub fn shape(inputs: std::ops::Range<usize>) -> impl Strategy<Value = Shape> {
    (1usize..4, inputs, 1usize..10).prop_map(|(params, inputs, size)| Shape {
        params,
        inputs,
        size,
    })
}
