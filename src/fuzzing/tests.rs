//! The whole-pipeline checker on models generated from seeded random bytes — what the fuzz
//! target does, in every test run, without cargo-fuzz — and the generator's coverage of the
//! language.

use super::{Checked, Failure, Model, check};
use crate::output::Format;
use arbitrary::{Arbitrary, Unstructured};
use gradc_graph::random::SplitMix;

/// Models per test run: enough to reach every production many times, few enough for CI.
const MODELS: u64 = 300;

/// The model that random bytes from `seed` make (64 bytes to 1 KiB, as libFuzzer's inputs).
fn model(seed: u64) -> Model {
    let mut rng = SplitMix::new(seed);
    let len = 64 + rng.below(960);
    let bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
    Model::arbitrary(&mut Unstructured::new(&bytes)).expect("any bytes make a model")
}

#[test]
fn generated_models_pass_every_check() {
    let mut totals = Checked::default();
    let mut hessians = 0;
    for seed in 0..MODELS {
        let model = model(seed);
        let checked = check(&model).unwrap_or_else(|e| panic!("seed {seed}: {e}\n{model:?}"));
        totals.points += checked.points;
        totals.compared += checked.compared;
        totals.predictions += checked.predictions;
        totals.rows += checked.rows;
        hessians += usize::from(checked.hessian);
    }
    // The checker compared something in most models, rather than skipping them.
    let models = MODELS as usize;
    assert!(totals.points >= models, "{totals:?}");
    assert!(totals.compared >= models / 2, "{totals:?}");
    assert!(totals.predictions >= models, "{totals:?}");
    assert!(totals.rows >= models, "{totals:?}");
    assert!(hessians >= models / 4, "{hessians} Hessians");
    // The known bug that `zero_guard` steps around is rare enough to leave most Hessians
    // compared (two points per model).
}

#[test]
fn the_generator_reaches_the_whole_language() {
    let sources: Vec<String> = (0..MODELS).map(|seed| model(seed).source).collect();
    let all = sources.join("\n");
    let features = [
        "data \"",
        "const ",
        "input ",
        "columns ",
        "\"col ",
        "param ",
        "~ normal(",
        "~ uniform(",
        "fn ",
        "let ",
        "minimize ",
        "predict ",
        "; ",
        "# ",
        " @ ",
        "dot(",
        "softmax(",
        "logsumexp(",
        "norm(",
        "max(",
        "min(",
        "pow(",
        "leaky_relu(",
        "elu(",
        " ^ ",
        " / ",
        "(if ",
        " == ",
        " != ",
        " <= ",
        "sum(i",
        "mean(i",
        "sum(",
        "mean(",
        "exp(",
        "log(",
        "sqrt(",
        "abs(",
        "sin(",
        "cos(",
        "tan(",
        "atan(",
        "tanh(",
        "sigmoid(",
        "relu(",
        "softplus(",
        "log1p(",
        "expm1(",
        "pi",
        "inf",
        "e300",
        "e-8",
    ];
    for feature in features {
        assert!(all.contains(feature), "no generated model has `{feature}`");
    }
    // Vector and matrix lets by free indices, and matrix parameters.
    assert!(
        sources
            .iter()
            .any(|s| s.contains("let z") && s.contains("][i"))
    );
    assert!(
        sources
            .iter()
            .any(|s| s.contains("param w") && s.contains("]["))
    );
}

#[test]
fn no_bytes_make_the_smallest_model() {
    let model = Model::arbitrary(&mut Unstructured::new(&[])).expect("a model");
    assert_eq!(model.source, "param w1\nminimize 0.0\n");
    let checked = check(&model).expect("passes");
    assert_eq!(checked.points, 2);
    assert_eq!(checked.compared, 2);
}

#[test]
fn a_model_that_does_not_compile_is_reported_as_a_generator_bug() {
    let model = Model {
        source: "param w\nminimize w +\n".to_string(),
        csv: String::new(),
        seed: 0,
        point: vec![1.0],
        batch: Vec::new(),
        hessian: false,
        format: Format::Text,
    };
    match check(&model) {
        Err(Failure::Invalid(rendered)) => assert!(rendered.contains("fuzz.loss"), "{rendered}"),
        other => panic!("expected a compile error, got {other:?}"),
    }
}

#[test]
fn a_checked_model_with_data_compares_natively_and_per_row() {
    let model = Model {
        source: "data \"fuzz.csv\"\ninput x\ninput y[2] = columns 1..3\nparam w[2] = 0.5\n\
                 param b ~ normal(0, 1)\nlet z = dot(w, y) * x + b\n\
                 minimize mean((z - x)^2) + mean(x)\npredict p = sigmoid(z)\n"
            .to_string(),
        csv: "x,a,b\n1,2,3\n-1,0.5,0\n4,-2,1e-8\n".to_string(),
        seed: 3,
        point: vec![0.0, -1.0],
        batch: vec![2, 0, 2],
        hessian: true,
        format: Format::Latex,
    };
    let checked = check(&model).expect("passes");
    assert_eq!(
        checked,
        Checked {
            points: 2,
            compared: 2,
            hessian: true,
            rows: 3,
            predictions: 6,
        }
    );
}

#[test]
fn a_hessian_through_a_guard_at_zero_is_compared() {
    // Found by the pipeline target: at w = 0 the unsimplified Hessian was 1, the simplified one
    // 2 (right): second derivatives through gradc-grad's guards (then `if a != 0 then … else
    // 0`, now `Op::GuardMul`) lost the `(da)·l` term where a guarded adjoint was zero.
    let model = Model {
        source: "param w1[1]\nminimize dot((if w1 >= w1 then (-(-(-(-w1)))) else (-(-w1))), w1)\n"
            .to_string(),
        csv: String::new(),
        seed: 0,
        point: vec![-1.0],
        batch: Vec::new(),
        hessian: true,
        format: Format::Json,
    };
    let checked = check(&model).expect("passes");
    assert_eq!(checked.compared, 2);
}
