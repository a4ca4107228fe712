//! Every operation, natively vs `Op::apply` and the interpreter, on special values: signed
//! zeros, subnormals, huge values, infinities and NaN (kinks of max/min/relu/sign/step, `if` on
//! NaN, comparisons with NaN, integer and non-integer powers).

use gradc_compile::{Kernel, KernelData, RowSet};
use gradc_graph::interp::{Data, evaluate, evaluate_rows};
use gradc_graph::{CmpOp, Graph, NodeId, Op};

const SPECIALS: [f64; 18] = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    -2.5,
    3.0,
    1e-310,
    -1e-310,
    1e300,
    -1e300,
    710.0,
    -746.0,
    40.0,
    -40.0,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
];

/// Same value: equal bits, or both NaN (NaN payloads are not part of the semantics).
fn same(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
}

fn binary_ops() -> Vec<Op> {
    let mut ops = vec![
        Op::Add,
        Op::Sub,
        Op::Mul,
        Op::Div,
        Op::Pow,
        Op::Max,
        Op::Min,
        Op::LeakyRelu,
        Op::Elu,
        Op::GuardMul,
    ];
    ops.extend(CmpOp::ALL.iter().map(|&c| Op::Cmp(c)));
    ops
}

/// Row-free: every op of two parameters, all in one kernel, for every pair of specials.
#[test]
fn row_free_ops_match_apply() {
    let mut g = Graph::new();
    let a = g.param(0);
    let b = g.param(1);
    let c = g.param(2);
    let mut roots: Vec<(Op, NodeId)> = Vec::new();
    for op in Op::UNARY_FUNCTIONS {
        roots.push((op, g.unary(op, a)));
    }
    for op in binary_ops() {
        roots.push((op, g.binary(op, a, b)));
    }
    roots.push((Op::If, g.add(Op::If, &[a, b, c])));
    let ids: Vec<NodeId> = roots.iter().map(|r| r.1).collect();
    let kernel = Kernel::compile(&g, &ids, 3, 0).expect("compiles");
    let data = KernelData::empty();
    let mut out = vec![0.0; ids.len()];
    for &x in &SPECIALS {
        for &y in &SPECIALS {
            let z = if x.to_bits() == y.to_bits() {
                7.0
            } else {
                -0.0
            };
            let params = [x, y, z];
            kernel
                .eval(&params, &data, RowSet::All, &mut out)
                .expect("evaluates");
            let interp = evaluate(&g, &ids, &params, &Data::empty()).expect("interprets");
            for (k, &(op, id)) in roots.iter().enumerate() {
                let args: Vec<f64> = g.args(id).iter().map(|a| params[a.index()]).collect();
                let expected = op.apply(&args);
                assert!(
                    same(out[k], expected) && same(out[k], interp[k]),
                    "{op:?}{args:?}: native {} expected {expected}",
                    out[k]
                );
            }
        }
    }
}

/// Per-row: the same ops of two data columns inside row means, one row at a time.
#[test]
fn per_row_ops_match_interpreter() {
    let mut g = Graph::new();
    let a = g.input(0);
    let b = g.input(1);
    let c = g.input(2);
    let mut nodes = Vec::new();
    for op in Op::UNARY_FUNCTIONS {
        nodes.push(g.unary(op, a));
    }
    for op in binary_ops() {
        nodes.push(g.binary(op, a, b));
    }
    nodes.push(g.add(Op::If, &[a, b, c]));
    for n in 0..5 {
        let args: Vec<NodeId> = [a, b, c, a, b][..n].to_vec();
        nodes.push(g.add(Op::LogSumExp, &args));
    }
    let roots: Vec<NodeId> = nodes.iter().map(|&n| g.unary(Op::RowMean, n)).collect();
    let kernel = Kernel::compile(&g, &roots, 0, 3).expect("compiles");
    let mut rows = Vec::new();
    for &x in &SPECIALS {
        for &y in &SPECIALS {
            rows.push(vec![x, y, if x < y { 1.0 } else { f64::NAN }]);
        }
    }
    let data = Data::from_rows(&rows);
    let kdata = KernelData::from_data(&data).expect("converts");
    let mut out = vec![0.0; roots.len()];
    for (row, values) in rows.iter().enumerate() {
        let subset = [row];
        kernel
            .eval(&[], &kdata, RowSet::Subset(&subset), &mut out)
            .expect("evaluates");
        let interp = evaluate_rows(&g, &roots, &[], &data, Some(&subset)).expect("interprets");
        for k in 0..roots.len() {
            assert!(
                same(out[k], interp[k]),
                "{} on row {:?}: native {} interpreter {}",
                g.sexpr(nodes[k]),
                values,
                out[k],
                interp[k]
            );
        }
    }
    // And all rows at once.
    kernel
        .eval(&[], &kdata, RowSet::All, &mut out)
        .expect("evaluates");
    let interp = evaluate(&g, &roots, &[], &data).expect("interprets");
    for k in 0..roots.len() {
        assert!(same(out[k], interp[k]), "{}", g.sexpr(nodes[k]));
    }
}

/// Constant operands (which Cranelift may fold at compile time) give the same values.
#[test]
fn constant_operands_fold_identically() {
    let mut g = Graph::new();
    let mut roots = Vec::new();
    let mut expected = Vec::new();
    for &x in &SPECIALS {
        let cx = g.constant(x);
        for op in Op::UNARY_FUNCTIONS {
            roots.push(g.unary(op, cx));
            expected.push(op.apply(&[x]));
        }
        for &y in &SPECIALS {
            let cy = g.constant(y);
            for op in binary_ops() {
                roots.push(g.binary(op, cx, cy));
                expected.push(op.apply(&[x, y]));
            }
        }
    }
    let kernel = Kernel::compile(&g, &roots, 0, 0).expect("compiles");
    let mut out = vec![0.0; roots.len()];
    kernel
        .eval(&[], &KernelData::empty(), RowSet::All, &mut out)
        .expect("evaluates");
    for k in 0..roots.len() {
        assert!(
            same(out[k], expected[k]),
            "{}: native {} expected {}",
            g.sexpr(roots[k]),
            out[k],
            expected[k]
        );
    }
}

/// `x ^ c` for constant exponents: integers in [-64, 64] (inlined square-and-multiply) and
/// others (the `pow` call), on specials and on ordinary bases.
#[test]
fn constant_powers_match_powi_and_powf() {
    let mut g = Graph::new();
    let x = g.param(0);
    let mut exponents: Vec<f64> = (-66..=66).map(f64::from).collect();
    exponents.extend([
        -0.0,
        0.5,
        -0.5,
        1.5,
        64.5,
        1e10,
        -1e10,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
    ]);
    let roots: Vec<NodeId> = exponents
        .iter()
        .map(|&e| {
            let c = g.constant(e);
            g.binary(Op::Pow, x, c)
        })
        .collect();
    let kernel = Kernel::compile(&g, &roots, 1, 0).expect("compiles");
    let mut out = vec![0.0; roots.len()];
    let mut bases = SPECIALS.to_vec();
    bases.extend([
        1.0000001, 0.999999, -1.0000001, 1.7, -0.3, 123.456, 1e-5, 2.0, -2.0,
    ]);
    for &base in &bases {
        kernel
            .eval(&[base], &KernelData::empty(), RowSet::All, &mut out)
            .expect("evaluates");
        for (k, &e) in exponents.iter().enumerate() {
            let expected = Op::Pow.apply(&[base, e]);
            assert!(
                same(out[k], expected),
                "{base} ^ {e}: native {} expected {expected}",
                out[k]
            );
        }
    }
}
