//! Tests of the s-expression reader and printer: round trips on every operation and on random
//! graphs, deep chains, and the error messages.

use crate::count::op_count;
use crate::interp::{Data, evaluate};
use crate::random::{Shape, SplitMix, random_objective};
use crate::{CmpOp, Graph, NodeId, Op};
use proptest::prelude::*;

/// Reads `text`, requires success, and prints the result again. The only place these tests
/// read one expression.
fn reprint(text: &str) -> String {
    match Graph::from_sexpr(text) {
        Ok((graph, root)) => graph.sexpr(root),
        Err(error) => panic!("{text}: {error}"),
    }
}

/// Reads `text`, requires an error, and returns its message under the text with a caret at the
/// offset it names.
fn check_error(text: &str) -> String {
    match Graph::from_sexpr(text) {
        Ok((graph, root)) => panic!("expected an error, read {}", graph.sexpr(root)),
        Err(error) => format!("{text}\n{}^\n{error}", " ".repeat(error.offset())),
    }
}

/// One operation of every kind, with operands of its arity (a match without a wildcard, so
/// that a new operation must be added here).
fn one_of_each(g: &mut Graph) -> Vec<NodeId> {
    let a = g.param(0);
    let b = g.input(1);
    let c = g.constant(-2.5);
    let mut ops = vec![Op::constant(-0.0), Op::Param(7), Op::Input(3)];
    ops.extend([
        Op::Add,
        Op::Sub,
        Op::Mul,
        Op::Div,
        Op::Pow,
        Op::Max,
        Op::Min,
    ]);
    ops.extend([
        Op::LeakyRelu,
        Op::Elu,
        Op::GuardMul,
        Op::If,
        Op::LogSumExp,
        Op::RowSum,
        Op::RowMean,
    ]);
    ops.extend(Op::UNARY_FUNCTIONS);
    ops.extend(CmpOp::ALL.map(Op::Cmp));
    ops.into_iter()
        .map(|op| {
            let args: &[NodeId] = match op {
                Op::Const(_) | Op::Param(_) | Op::Input(_) => &[],
                Op::Neg | Op::Exp | Op::Log | Op::Sqrt | Op::Abs | Op::Sin | Op::Cos => &[a],
                Op::Tan | Op::Atan | Op::Tanh | Op::Sigmoid | Op::Relu | Op::Softplus => &[a],
                Op::Log1p | Op::Expm1 | Op::Sign | Op::Step | Op::RowSum | Op::RowMean => &[b],
                Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Pow | Op::Max | Op::Min => &[a, c],
                Op::LeakyRelu | Op::Elu | Op::GuardMul | Op::Cmp(_) => &[b, a],
                Op::If => &[a, b, c],
                Op::LogSumExp => &[a, b, c, a],
            };
            g.add(op, args)
        })
        .collect()
}

#[test]
fn every_operation_reads_back() {
    let mut g = Graph::new();
    let roots = one_of_each(&mut g);
    let texts: Vec<String> = roots.iter().map(|&r| g.sexpr(r)).collect();
    insta::assert_snapshot!(texts.join("\n"), @"
    -0
    param#7
    input#3
    (+ param#0 -2.5)
    (- param#0 -2.5)
    (* param#0 -2.5)
    (/ param#0 -2.5)
    (^ param#0 -2.5)
    (max param#0 -2.5)
    (min param#0 -2.5)
    (leaky_relu input#1 param#0)
    (elu input#1 param#0)
    (guard input#1 param#0)
    (if param#0 input#1 -2.5)
    (logsumexp param#0 input#1 -2.5 param#0)
    (sum input#1)
    (mean input#1)
    (neg param#0)
    (exp param#0)
    (log param#0)
    (sqrt param#0)
    (abs param#0)
    (sin param#0)
    (cos param#0)
    (tan param#0)
    (atan param#0)
    (tanh param#0)
    (sigmoid param#0)
    (relu param#0)
    (softplus param#0)
    (log1p input#1)
    (expm1 input#1)
    (sign input#1)
    (step input#1)
    (< input#1 param#0)
    (<= input#1 param#0)
    (> input#1 param#0)
    (>= input#1 param#0)
    (== input#1 param#0)
    (!= input#1 param#0)
    ");
    for text in &texts {
        assert_eq!(&reprint(text), text);
    }
    // All of them in one text: one graph, the same nodes.
    let (read, read_roots) = Graph::from_sexprs(&texts.join("\n")).expect("valid");
    assert_eq!(read.len(), g.len());
    let reprinted: Vec<String> = read_roots.iter().map(|&r| read.sexpr(r)).collect();
    assert_eq!(reprinted, texts);
}

#[test]
fn constants_round_trip_bit_for_bit() {
    for value in [
        0.1,
        -0.0,
        1e300,
        -5e-324,
        f64::MAX,
        f64::MIN_POSITIVE,
        f64::INFINITY,
        f64::NEG_INFINITY,
        1.0 / 3.0,
    ] {
        let mut g = Graph::new();
        let root = g.constant(value);
        let (read, root) = Graph::from_sexpr(&g.sexpr(root)).expect("a constant");
        assert_eq!(read.op(root), Op::constant(value), "{value}");
    }
    let (read, root) = Graph::from_sexpr("NaN").expect("NaN");
    assert!(read.op(root).const_value().is_some_and(f64::is_nan));
}

#[test]
fn whitespace_is_free_and_shared_nodes_are_hash_consed() {
    let text = "  ( *\n\t(exp param#0)   (exp param#0) )\n";
    assert_eq!(reprint(text), "(* (exp param#0) (exp param#0))");
    let (g, root) = Graph::from_sexpr(text).expect("valid");
    assert_eq!(g.len(), 3);
    assert_eq!(op_count(&g, &[root]), 2);
}

#[test]
fn a_logsumexp_of_no_operands_reads_back() {
    assert_eq!(reprint("(logsumexp)"), "(logsumexp)");
}

#[test]
fn errors_name_the_byte_offset() {
    insta::assert_snapshot!(check_error("(+ param#0 1"), @r"
    (+ param#0 1
    ^
    unclosed `(` at byte 0
    ");
    insta::assert_snapshot!(check_error("(neg param#0))"), @r"
    (neg param#0))
                 ^
    unmatched `)` at byte 13
    ");
    insta::assert_snapshot!(check_error("(exp (plus 1 2))"), @r"
    (exp (plus 1 2))
          ^
    unknown operation `plus` at byte 6
    ");
    insta::assert_snapshot!(check_error("(1 2)"), @r"
    (1 2)
     ^
    unknown operation `1` at byte 1
    ");
    insta::assert_snapshot!(check_error("(* param#0 ())"), @r"
    (* param#0 ())
               ^
    expected an operation name after `(` at byte 11
    ");
    insta::assert_snapshot!(check_error("(+ p0 1)"), @r"
    (+ p0 1)
       ^
    `p0` at byte 3 is not a number, `param#N` or `input#N`
    ");
    insta::assert_snapshot!(check_error("(exp param#x)"), @r"
    (exp param#x)
         ^
    `param#x` at byte 5 is not a number, `param#N` or `input#N`
    ");
    insta::assert_snapshot!(check_error("(* 2 (sqrt 1 2))"), @r"
    (* 2 (sqrt 1 2))
         ^
    `sqrt` at byte 5 takes 1 operands, not 2
    ");
    insta::assert_snapshot!(check_error("(if 1 2)"), @r"
    (if 1 2)
    ^
    `if` at byte 0 takes 3 operands, not 2
    ");
    insta::assert_snapshot!(check_error("(exp param#0)  (log (exp 1))"), @"
    (exp param#0)  (log (exp 1))
                   ^
    unexpected text after the expression at byte 15
    ");
    // Blank text: the caret would stand on a blank line, so only the message is shown.
    let blank = Graph::from_sexpr(" \n ")
        .map(|_| ())
        .expect_err("no expression");
    insta::assert_snapshot!(blank, @"expected an expression at byte 3");
}

/// A chain of `depth` operations: `(+ (neg (+ (neg … param#0 …) 1)) 1)`.
fn chain(depth: usize) -> (Graph, NodeId) {
    let mut g = Graph::new();
    let mut node = g.param(0);
    let one = g.constant(1.0);
    for k in 0..depth {
        node = if k % 2 == 0 {
            g.neg(node)
        } else {
            g.add2(node, one)
        };
    }
    (g, node)
}

#[test]
fn a_chain_deeper_than_the_stack_prints_and_reads_back() {
    let depth = 100_000;
    let (g, root) = chain(depth);
    let text = g.sexpr(root);
    assert!(text.starts_with("(+ (neg (+ (neg"), "{}", &text[..40]);
    assert_eq!(text.matches('(').count(), depth);
    let (read, read_root) = Graph::from_sexpr(&text).expect("valid");
    assert_eq!(op_count(&read, &[read_root]), depth);
    assert_eq!(read.sexpr(read_root), text);
    let value = |g: &Graph, r: NodeId| evaluate(g, &[r], &[0.25], &Data::empty());
    assert_eq!(value(&read, read_root), value(&g, root));
}

/// Same value: equal bits, or both NaN.
fn same(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
}

proptest! {
    /// A random graph printed and read back prints the same and computes the same, bit for bit.
    #[test]
    fn random_graphs_round_trip(seed in any::<u64>(), size in 0usize..24) {
        let shape = Shape { params: 3, inputs: 2, size };
        let mut g = Graph::new();
        let root = random_objective(&mut g, seed, shape);
        let text = g.sexpr(root);
        let (read, read_root) = Graph::from_sexpr(&text).map_err(|e| {
            TestCaseError::fail(format!("{e}\n{text}"))
        })?;
        prop_assert_eq!(read.sexpr(read_root), text.clone());
        prop_assert_eq!(op_count(&read, &[read_root]), op_count(&g, &[root]));
        let mut rng = SplitMix::new(seed ^ 0x5EED);
        let params: Vec<f64> = (0..shape.params).map(|_| rng.uniform(-2.0, 2.0)).collect();
        let rows: Vec<Vec<f64>> = (0..3)
            .map(|_| (0..shape.inputs).map(|_| rng.uniform(-2.0, 2.0)).collect())
            .collect();
        let data = Data::from_rows(&rows);
        let before = evaluate(&g, &[root], &params, &data).expect("evaluates");
        let after = evaluate(&read, &[read_root], &params, &data).expect("evaluates");
        prop_assert!(same(before[0], after[0]), "{} vs {}\n{}", before[0], after[0], text);
    }
}
