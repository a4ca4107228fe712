//! Shapes, rows and values: that lowering builds the graph LANGUAGE.md §4 describes, checked
//! through the shapes of predictions, the row flags of nodes, and the reference interpreter.

use crate::compile;
use gradc_graph::interp::{Data, evaluate};
use gradc_graph::{Op, Program};

/// Compiles a model that must be valid.
fn program(source: &str) -> Program {
    match compile(source) {
        Ok(program) => program,
        Err(errors) => panic!(
            "{}",
            gradc_syntax::render("test.loss", source, &errors, false)
        ),
    }
}

/// The objective's value at the given parameters and data rows.
fn objective(source: &str, params: &[f64], rows: &[Vec<f64>]) -> f64 {
    let program = program(source);
    let data = if rows.is_empty() {
        Data::empty()
    } else {
        Data::from_rows(rows)
    };
    match evaluate(&program.graph, &[program.objective], params, &data) {
        Ok(values) => values[0],
        Err(error) => panic!("{error}"),
    }
}

fn predict_shape(source: &str, name: &str) -> Vec<usize> {
    let program = program(source);
    match program.predicts.iter().find(|p| p.name == name) {
        Some(predict) => predict.shape.clone(),
        None => panic!("no prediction `{name}`"),
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * (1.0 + a.abs().max(b.abs()))
}

#[test]
fn product_shapes_follow_numpy() {
    let source = "param A[3][2]\nparam B[2][4]\nparam v[2]\nparam u[3]\n\
        predict Av = A @ v\npredict AB = A @ B\npredict uA = u @ A\nminimize 0\n";
    assert_eq!(predict_shape(source, "Av"), vec![3]);
    assert_eq!(predict_shape(source, "AB"), vec![3, 4]);
    assert_eq!(predict_shape(source, "uA"), vec![2]);
}

#[test]
fn elementwise_definitions_stack_row_major() {
    let source = "param W[2][3]\nlet M[i][j] = W[i][j] * 2\nlet R[i] = W[i]\nlet c[j] = W[1][j]\n\
        predict M\npredict R\npredict c\npredict s = softmax(c)\nminimize 0\n";
    assert_eq!(predict_shape(source, "M"), vec![2, 3]);
    assert_eq!(predict_shape(source, "R"), vec![2, 3]);
    assert_eq!(predict_shape(source, "c"), vec![3]);
    assert_eq!(predict_shape(source, "s"), vec![3]);
    let program = program(source);
    let c = &program.predicts[2];
    assert_eq!(
        program
            .names
            .get(&c.nodes.first().copied().unwrap_or_default()),
        None
    );
    let m = &program.predicts[0];
    assert_eq!(
        program.names.get(&m.nodes[4]).map(String::as_str),
        Some("M[1][1]")
    );
}

#[test]
fn per_row_values_are_flagged() {
    let source = "input x\ninput v[2] = a, b\nparam w = 1\nparam u[2]\n\
        predict r = w * x\npredict s = sum(v)\npredict m = mean(x)\npredict q = sum(u)\n\
        minimize mean(sum(v)) + sum(w)\n";
    let program = program(source);
    let per_row = |name: &str| {
        let predict = program.predicts.iter().find(|p| p.name == name);
        predict.is_some_and(|p| program.graph.flags(p.nodes[0]).per_row)
    };
    assert!(per_row("r"));
    assert!(
        per_row("s"),
        "sum of a per-row vector reduces the elements, not the rows"
    );
    assert!(!per_row("m"), "mean of a per-row scalar reduces the rows");
    assert!(!per_row("q"));
    let graph = &program.graph;
    assert_eq!(graph.op(program.objective), Op::Add);
    assert_eq!(graph.op(graph.args(program.objective)[0]), Op::RowMean);
    // `sum` of a row-free scalar is that scalar: no reduction node.
    assert_eq!(graph.op(graph.args(program.objective)[1]), Op::Param(0));
}

#[test]
fn index_sums_with_a_negated_body_and_parenthesized_conditions() {
    // LANGUAGE.md §4: the body of `sum(i)` is one multiplicative term, and unary minus binds
    // tighter than `*`: `sum(i) -a[i] * b[i] + c` is Σ(−a[i]·b[i]) + c.
    let source = "param a[3]\nparam b[3]\nparam c\nminimize sum(i) -a[i] * b[i] + c\n";
    let value = objective(source, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 0.5], &[]);
    assert_eq!(value, -(4.0 + 10.0 + 18.0) + 0.5);
    let source = "param x\nparam y\nminimize if (x > y) then x else 10 * y\n";
    assert_eq!(objective(source, &[3.0, 2.0], &[]), 3.0);
    assert_eq!(objective(source, &[1.0, 2.0], &[]), 20.0);
}

#[test]
fn inf_is_predefined() {
    // LANGUAGE.md §2: `pi` and `inf` are predefined constants (found by the pipeline fuzzer:
    // `inf` was not declared).
    let source = "param w = 1\nminimize min(w, inf) + if w < inf then 0 else 1\n";
    assert_eq!(objective(source, &[1.0], &[]), 1.0);
    let source = "param w = 1\nminimize max(w, -inf) * pi\n";
    assert_eq!(objective(source, &[2.0], &[]), 2.0 * std::f64::consts::PI);
    let redeclared = compile("const inf = 1\nparam w\nminimize w\n").expect_err("an error");
    assert!(
        redeclared[0].message.contains("predefined"),
        "{redeclared:?}"
    );
}

#[test]
fn rosenbrock_value() {
    let source = "param x = -1.2\nparam y = 1\nminimize (1 - x)^2 + 100 * (y - x^2)^2\n";
    let expected = 2.2f64.powi(2) + 100.0 * (1.0 - 1.44f64).powi(2);
    assert!(close(objective(source, &[-1.2, 1.0], &[]), expected));
}

#[test]
fn vector_functions_values() {
    let v = [0.5, -1.0, 2.0];
    let sum: f64 = v.iter().sum();
    let lse = v.iter().map(|x: &f64| x.exp()).sum::<f64>().ln();
    let cases = [
        ("sum(v)", sum),
        ("mean(v)", sum / 3.0),
        ("dot(v, v)", v.iter().map(|x| x * x).sum()),
        ("max(v)", 2.0),
        ("min(v)", -1.0),
        ("logsumexp(v)", lse),
        ("sum(softmax(v))", 1.0),
        ("softmax(v)[2]", (2.0 - lse).exp()),
        ("norm(v)", v.iter().map(|x| x * x).sum::<f64>().sqrt()),
        ("sum(i) v[i] * v[i]", v.iter().map(|x| x * x).sum()),
        ("mean(i) v[i]", sum / 3.0),
        ("sum(leaky_relu(v))", 0.5 - 0.01 + 2.0),
        ("sum(leaky_relu(v, 0.5))", 0.5 - 0.5 + 2.0),
        ("elu(v[1])", (-1.0f64).exp_m1()),
        ("pow(v[2], 3) - v[2]^3", 0.0),
        ("sum(if v > 0 then v else -v)", 3.5),
        ("max(v[0], v[1]) + min(v[0], v[1])", -0.5),
        ("2 * pi", 2.0 * std::f64::consts::PI),
        ("-v[2]^2", -4.0),
    ];
    for (expression, expected) in cases {
        let source = format!("param v[3]\nminimize {expression}\n");
        let value = objective(&source, &v, &[]);
        assert!(
            close(value, expected),
            "{expression} = {value}, expected {expected}"
        );
    }
}

#[test]
fn matrix_products_values() {
    // A = [[1, 2], [3, 4]], x = [5, 6]: A @ x = [17, 39], x @ A = [23, 34], A @ A = [[7, 10], [15, 22]].
    let params = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    let cases = [
        ("(A @ x)[1]", 39.0),
        ("(x @ A)[0]", 23.0),
        ("(A @ A)[1][0]", 15.0),
        ("sum(A @ A)", 54.0),
        ("sum(i) sum(j) A[i][j] * x[j]", 56.0),
        ("mean(A)", 2.5),
    ];
    for (expression, expected) in cases {
        let source = format!("param A[2][2]\nparam x[2]\nminimize {expression}\n");
        let value = objective(&source, &params, &[]);
        assert!(
            close(value, expected),
            "{expression} = {value}, expected {expected}"
        );
    }
}

#[test]
fn user_functions_inline_elementwise() {
    let source = "fn sq(t) = t * t\nfn f(a, b) = sq(a) + b\nparam v[3]\nparam c = 1\nminimize sum(f(v, c))\n";
    assert!(close(
        objective(source, &[1.0, 2.0, 3.0, 10.0], &[]),
        14.0 + 30.0
    ));
}

#[test]
fn row_reductions_values() {
    let source = "input x\ninput y\nparam a = 0\nminimize mean((y - a * x)^2) + sum(x) / 100\n";
    let rows = vec![vec![1.0, 2.0], vec![2.0, 3.0]];
    // At a = 1: residuals 1 and 1, mean 1; sum of x over rows 3.
    assert!(close(objective(source, &[1.0], &rows), 1.0 + 0.03));
}

#[test]
fn network_matrix_and_index_notation_agree() {
    let index = "input x[2] = x1, x2\nparam W1[3][2]\nparam b1[3]\n\
        let h[i] = tanh(sum(j) W1[i][j] * x[j] + b1[i])\nminimize mean(sum(h))\n";
    let matrix = "input x[2] = x1, x2\nparam W1[3][2]\nparam b1[3]\n\
        let h = tanh(W1 @ x + b1)\nminimize mean(sum(h))\n";
    let params = [0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.01, 0.02, 0.03];
    let rows = vec![vec![1.0, 2.0], vec![-1.0, 0.5]];
    let a = objective(index, &params, &rows);
    let b = objective(matrix, &params, &rows);
    assert!(close(a, b), "{a} != {b}");
}

#[test]
fn program_metadata() {
    let source = "data \"d.csv\"\ninput x[3] = columns 2..5\ninput y\nparam w[3] ~ normal(0, 0.5)\n\
        param b ~ uniform(-1, 1)\nconst k = 2\nlet z = dot(w, x) + b\nminimize mean((y - z)^2) * k\npredict z\npredict twice = 2 * z\npredict w[0] + 1\n";
    let program = program(source);
    assert_eq!(program.data_path.as_deref(), Some("d.csv"));
    assert_eq!(program.param_count(), 4);
    assert_eq!(program.input_count(), 4);
    assert_eq!(program.inputs[1].offset, 3);
    assert_eq!(program.params[1].offset, 3);
    let names: Vec<&str> = program.predicts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["z", "twice", "w[0] + 1"]);
    // Every node knows where it came from.
    for id in program.graph.ids() {
        let span = program.spans.get(&id);
        assert!(
            span.is_some_and(|s| s.end <= source.len()),
            "node {id:?} has no span"
        );
    }
}
