//! Snapshot tests of `gradc grad` on every example, and checks that hold for all of them:
//! simplification preserves values and never increases the op count.

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

#[test]
fn every_format_renders_every_example() {
    for path in example_paths().into_iter().filter(|p| snapshotted(p)) {
        let program = common::compile(&path);
        let derived = common::derive(&program);
        for format in [Format::Latex, Format::Dot, Format::Json] {
            let out = gradc::render(&program, &derived, format);
            assert!(!out.is_empty(), "{path}: {format:?}");
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
        assert_eq!(json["ops"]["gradient"], derived.ops.gradient);
    }
}
