//! Semantic errors: one snapshot per case, showing the source and the rendered errors.

use crate::compile;

/// Compiles `source`, requires it to fail, and returns the source followed by every rendered
/// error. The only place these tests call the API.
fn check_error(source: &str) -> String {
    let errors = match compile(source) {
        Ok(_) => panic!("expected an error in:\n{source}"),
        Err(errors) => errors,
    };
    let rendered = gradc_syntax::render("test.loss", source, &errors, false);
    format!("{source}\n---\n{rendered}")
}

macro_rules! error_tests {
    ($($name:ident: $source:expr;)*) => {
        $(
            #[test]
            fn $name() {
                insta::assert_snapshot!(stringify!($name), check_error($source));
            }
        )*
    };
}

error_tests! {
    undeclared_name_with_suggestion: "param weight = 1\nminimize (wieght - 2)^2\n";
    undeclared_name_without_suggestion: "param w = 1\nminimize (w - target)^2\n";
    used_before_declared: "let z = w * 2\nparam w = 1\nminimize z^2\n";
    redeclared_name: "param w = 1\nlet w = 2\nminimize w^2\n";
    redeclared_pi: "const pi = 3.14\nparam w = 1\nminimize w^2\n";
    no_minimize: "param w = 1\nlet z = w^2\n";
    two_minimize: "param w = 1\nminimize w^2\nminimize (w - 1)^2\n";
    two_data: "data \"a.csv\"\ndata \"b.csv\"\nparam w = 1\nminimize w^2\n";
    per_row_objective: "input x\ninput y\nparam a = 0\nminimize (y - a * x)^2\n";
    per_row_term_outside_reduction: "input x\nparam a = 0\nminimize mean((a - x)^2) + x\n";
    per_row_through_let: "input x\nparam a = 0\nlet r = a - x\nminimize r^2\n";
    vector_objective: "param w[3] = 1\nminimize w^2\n";
    shape_mismatch_in_add: "param a[3]\nparam b[4]\nminimize sum(a + b)\n";
    matmul_shape_mismatch: "param A[3][2]\nparam v[3]\nminimize sum(A @ v)\n";
    matmul_of_two_vectors: "param u[3]\nparam v[3]\nminimize u @ v\n";
    matmul_with_scalar: "param A[3][2]\nparam s\nminimize sum(s @ A)\n";
    index_out_of_range: "param w[4]\nminimize w[4]^2\n";
    index_on_scalar: "param s\nminimize s[0]^2\n";
    too_many_indices: "param W[2][3]\nminimize W[0][1][2]^2\n";
    non_integer_index: "param w[4]\nminimize w[1.5]^2\n";
    unknown_function: "param w = 1\nminimize sigmod(w)\n";
    wrong_argument_count: "param w = 1\nminimize exp(w, 2)\n";
    call_of_a_value: "param w = 1\nminimize w(2 + w)\n";
    function_used_as_value: "fn sq(t) = t * t\nparam w = 1\nminimize sq + w\n";
    vector_slope_of_leaky_relu: "param w[3]\nparam a[3]\nminimize sum(leaky_relu(w, a))\n";
    vector_function_on_scalar: "param w = 1\nminimize logsumexp(w)\n";
    dot_of_scalars: "param w = 1\nminimize dot(w, w)\n";
    input_column_count: "input x[4] = a, b\nparam w[4]\nminimize mean(dot(w, x))\n";
    input_column_range_count: "input x[4] = columns 2..12\nparam w[4]\nminimize mean(dot(w, x))\n";
    empty_column_range: "input x[4] = columns 5..2\nparam w[4]\nminimize mean(dot(w, x))\n";
    vector_input_without_columns: "input x[3]\nparam w[3]\nminimize mean(dot(w, x))\n";
    matrix_input: "input X[2][2] = a, b, c, d\nparam w\nminimize w^2\n";
    negative_extent: "param w[-2]\nminimize sum(w^2)\n";
    zero_extent: "param w[0]\nminimize sum(w^2)\n";
    non_integer_extent: "param w[2.5]\nminimize sum(w^2)\n";
    huge_extent: "param W[100000][100000]\nminimize sum(W)\n";
    three_dimensions: "param T[2][2][2]\nminimize sum(T)\n";
    const_depends_on_param: "param w = 1\nconst c = 2 * w\nminimize w^2\n";
    extent_depends_on_input: "input n\nparam w[n]\nminimize sum(w^2)\n";
    const_not_finite: "const c = 1 / 0\nparam w = c\nminimize w^2\n";
    unknown_distribution: "param w[3] ~ normall(0, 1)\nminimize sum(w^2)\n";
    negative_standard_deviation: "param w[3] ~ normal(0, -1)\nminimize sum(w^2)\n";
    empty_uniform_range: "param w[3] ~ uniform(1, -1)\nminimize sum(w^2)\n";
    distribution_argument_count: "param w[3] ~ normal(0)\nminimize sum(w^2)\n";
    conflicting_index_extents: "param a[3]\nparam b[4]\nminimize sum(i) a[i] * b[i]\n";
    unbound_index: "param w[3]\nminimize w[i]^2\n";
    sum_body_without_index: "param a[3]\nparam c\nminimize sum(i) c * a[0]\n";
    let_body_without_index: "param a[3]\nlet v[i] = a[0] * 2\nminimize sum(v)\n";
    index_extent_unknown: "let v[i] = i * 2\nminimize sum(v)\n";
    index_bound_twice: "param W[2][2]\nlet M[i][i] = W[i][i]\nminimize sum(M)\n";
    nested_index_rebinds: "param W[2][2]\nminimize sum(i) sum(i) W[i][i]\n";
    user_function_argument_count: "fn f(a, b) = a * b\nparam w = 1\nminimize f(w)\n";
    recursive_function: "fn f(a) = a * f(a - 1)\nparam w = 1\nminimize f(w)\n";
    function_body_undeclared: "fn f(a) = a * scale\nparam w = 1\nminimize f(w)\n";
    function_parameter_twice: "fn f(a, a) = a\nparam w = 1\nminimize f(w, w)\n";
    function_returns_vector: "param v[3]\nfn f(a) = a * v\nparam w = 1\nminimize f(w)\n";
    function_argument_shapes: "fn f(a, b) = a * b\nparam u[3]\nparam v[2]\nminimize sum(f(u, v))\n";
    if_branch_shapes: "param u[3]\nparam v[2]\nminimize sum(if u[0] > 0 then u else v)\n";
    short_names_get_no_suggestion: "param w = 1\nminimize (w - q)^2\n";
    softmax_of_matrix: "param W[2][2]\nminimize sum(softmax(W))\n";
    pi_as_function_parameter: "fn f(pi) = pi * 2\nparam w = 1\nminimize f(w)^2\n";
    inf_as_index_name: "param a[3]\nminimize sum(inf) a[inf]^2\n";
    pi_as_let_index: "param a[3]\nlet v[pi] = a[pi] * 2\nminimize sum(v)\n";
    inf_redeclared: "param inf = 1\nminimize inf^2\n";
    inf_as_initial_value: "param w = inf\nminimize w^2\n";
    predicted_twice: "input x\nparam a = 1\nlet q = a * x\npredict q\npredict q\nminimize a^2\n";
    predicted_column_named_like_a_parameter: "input x\nparam a = 1\npredict a = 2 * x\nminimize a^2\n";
    predicted_element_clashes_with_vector: "input x\nparam w[2] = 1\nlet v = w * x\npredict v\npredict v[1]\nminimize sum(w^2)\n";
    nested_functions_too_large: "param x = 0.5\nfn f0(a) = a * a + 1\nfn f1(a) = f0(f0(a))\nfn f2(a) = f1(f1(a))\nfn f3(a) = f2(f2(a))\nfn f4(a) = f3(f3(a))\nfn f5(a) = f4(f4(a))\nfn f6(a) = f5(f5(a))\nfn f7(a) = f6(f6(a))\nfn f8(a) = f7(f7(a))\nfn f9(a) = f8(f8(a))\nfn f10(a) = f9(f9(a))\nfn f11(a) = f10(f10(a))\nfn f12(a) = f11(f11(a))\nfn f13(a) = f12(f12(a))\nfn f14(a) = f13(f13(a))\nfn f15(a) = f14(f14(a))\nfn f16(a) = f15(f15(a))\nfn f17(a) = f16(f16(a))\nfn f18(a) = f17(f17(a))\nfn f19(a) = f18(f18(a))\nfn f20(a) = f19(f19(a))\nminimize f20(x)\n";
}

#[test]
fn repeated_calls_are_inlined_once() {
    // Forty levels of `f(a) + f(a)` are 2^40 calls as written, and 41 distinct nodes.
    let mut source = String::from("param x = 0.5\nfn f0(a) = a * a + 1\n");
    for k in 1..=40 {
        source.push_str(&format!("fn f{k}(a) = f{}(a) + f{}(a)\n", k - 1, k - 1));
    }
    source.push_str("minimize f40(x)\n");
    let started = std::time::Instant::now();
    let program = compile(&source).expect("compiles");
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    assert!(program.graph.len() < 50, "{} nodes", program.graph.len());
}

#[test]
fn errors_do_not_cascade() {
    // The broken declaration of `w` is reported once; its uses stay quiet.
    let source = "param w[4 = 0\nlet z = w * 2 + w[9]\nminimize sum(z) + undefined_thing\n";
    insta::assert_snapshot!("errors_do_not_cascade", check_error(source));
}

#[test]
fn many_errors_in_one_go() {
    let source = "\
data \"a.csv\"
data \"b.csv\"
input x[2] = a
param w[3] = 0
param w = 1
let z = dot(w, x) + bias
minimize z
minimize 0
";
    insta::assert_snapshot!("many_errors_in_one_go", check_error(source));
}

#[test]
fn one_message_for_repeated_lowering() {
    // The body is lowered once per element and per call, but each problem is reported once.
    let source = "param W[3][2]\nfn f(t) = t * missing\nlet h[i] = f(W[i][0]) + f(W[i][1])\nminimize sum(h)\n";
    insta::assert_snapshot!("one_message_for_repeated_lowering", check_error(source));
}
