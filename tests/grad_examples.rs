//! Snapshot tests of `gradc grad` on every example (text), and on a few in LaTeX and DOT; checks
//! that hold for all of them: simplification preserves values and never increases the op count,
//! and every format shows every partial.

mod common;

use gradc::Format;
use gradc_graph::interp::evaluate;

fn example_paths() -> Vec<String> {
    let mut paths = Vec::new();
    for dir in [
        "examples",
        "examples/seeds",
        "examples/nist",
        "examples/mgh",
    ] {
        let mut entries: Vec<String> = std::fs::read_dir(common::root().join(dir))
            .expect("examples folder")
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".loss"))
            .map(|n| format!("{dir}/{n}"))
            .collect();
        entries.sort();
        paths.extend(entries);
    }
    paths
}

/// Examples whose text output is small enough to read in a snapshot.
fn snapshotted(path: &str) -> bool {
    !path.ends_with("mlp_64.loss")
}

#[test]
fn text_output_of_every_example() {
    for path in example_paths().into_iter().filter(|p| snapshotted(p)) {
        let program = common::compile(&path);
        let derived = common::derive(&program);
        let text = gradc::render(&program, &derived, Format::Text);
        let name = path.trim_end_matches(".loss").replace('/', "__");
        let ops = derived.ops;
        let header = format!(
            "ops: forward {}, gradient {}, gradient_unsimplified {}",
            ops.forward, ops.gradient, ops.gradient_unsimplified
        );
        insta::assert_snapshot!(name, format!("{header}\n\n{text}"));
    }
}

#[test]
fn simplification_preserves_values_and_never_increases_ops() {
    for path in example_paths() {
        let program = common::compile(&path);
        let data = common::load_data(&path, &program);
        let params = common::initial_params(&program);
        let n = program.param_count();
        let unsimplified = gradc::derive(
            &program,
            &gradc::DeriveConfig {
                no_simplify: true,
                ..Default::default()
            },
        );
        let simplified = common::derive(&program);
        assert!(
            simplified.ops.gradient <= simplified.ops.gradient_unsimplified,
            "{path}: {:?}",
            simplified.ops
        );
        let roots = |d: &gradc::Derived| {
            let mut r = vec![d.objective];
            r.extend(&d.gradient);
            r
        };
        let before = evaluate(&unsimplified.graph, &roots(&unsimplified), &params, &data)
            .expect("unsimplified evaluates");
        let after = evaluate(&simplified.graph, &roots(&simplified), &params, &data)
            .expect("simplified evaluates");
        assert_eq!(before.len(), n + 1);
        for (i, (a, b)) in before.iter().zip(&after).enumerate() {
            let scale = a.abs().max(b.abs()).max(1.0);
            assert!(
                (a - b).abs() <= 1e-9 * scale,
                "{path}: root {i}: {a} vs {b}"
            );
        }
    }
}

/// Examples small enough to read as LaTeX and as a DOT graph.
const LATEX_AND_DOT: [&str; 4] = [
    "examples/rosenbrock.loss",
    "examples/seeds/neuron.loss",
    "examples/seeds/backprop_max.loss",
    "examples/logistic_regression.loss",
];

#[test]
fn latex_and_dot_of_a_few_examples() {
    for path in LATEX_AND_DOT {
        let program = common::compile(path);
        let derived = common::derive(&program);
        let name = path.trim_end_matches(".loss").replace('/', "__");
        let latex = gradc::render(&program, &derived, Format::Latex);
        insta::assert_snapshot!(format!("latex__{name}"), latex);
        let dot = gradc::render(&program, &derived, Format::Dot);
        insta::assert_snapshot!(format!("dot__{name}"), dot);
    }
}

/// The node names a DOT line defines (`n3 [label=…]`) or uses as an edge (`n1 -> n3`).
fn dot_nodes(line: &str) -> (Option<&str>, Option<(&str, &str)>) {
    let line = line.trim();
    if let Some((from, rest)) = line.split_once(" -> ") {
        let to = rest.split([' ', ';']).next().unwrap_or(rest);
        return (None, Some((from, to)));
    }
    (line.split_once(" [").map(|(name, _)| name), None)
}

#[test]
fn every_format_shows_every_partial() {
    for path in example_paths().into_iter().filter(|p| snapshotted(p)) {
        let program = common::compile(&path);
        let derived = common::derive(&program);
        let n = program.param_count();
        let latex = gradc::render(&program, &derived, Format::Latex);
        assert!(
            latex.starts_with("\\begin{aligned}\n") && latex.ends_with("\\end{aligned}\n"),
            "{path}:\n{latex}"
        );
        assert_eq!(
            latex.matches("\\frac{\\partial L}").count(),
            n,
            "{path}:\n{latex}"
        );
        // DOT: one box per root (the loss and each partial), and every edge between nodes that
        // are defined before it (the graph is printed in topological order).
        let dot = gradc::render(&program, &derived, Format::Dot);
        assert_eq!(
            dot.matches("doubleoctagon").count(),
            n + 1,
            "{path}:\n{dot}"
        );
        let mut defined = std::collections::HashSet::new();
        for line in dot.lines() {
            match dot_nodes(line) {
                (Some(node), _) => {
                    defined.insert(node.to_string());
                }
                (None, Some((from, to))) => assert!(
                    defined.contains(from) && defined.contains(to),
                    "{path}: edge before its nodes: {line}"
                ),
                (None, None) => {}
            }
        }
        let json: serde_json::Value =
            serde_json::from_str(&gradc::render(&program, &derived, Format::Json)).expect("json");
        for p in &program.params {
            assert!(
                json["partials"].get(&p.name).is_some(),
                "{path}: {}",
                p.name
            );
        }
    }
}
