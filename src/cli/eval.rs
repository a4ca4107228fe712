//! `gradc eval`: the model's `predict` values for the rows of a data file, as CSV.

use crate::cli::args::EvalArgs;
use crate::cli::files::{self, Input};
use crate::cli::load::{self, Model};
use anyhow::Context;
use gradc_graph::interp::Data;
use gradc_graph::{NodeId, Program};

pub fn eval(args: EvalArgs) -> anyhow::Result<u8> {
    let model = match load::model(&args.model)? {
        Ok(model) => model,
        Err(code) => return Ok(code),
    };
    let program = &model.program;
    if program.predicts.is_empty() {
        errln!(
            "error: {} has no `predict` statement: nothing to evaluate",
            args.model.display()
        );
        return Ok(crate::EXIT_MODEL_ERROR);
    }
    let data_file = model.data_file(args.data.as_deref());
    let mut inputs = vec![
        model.as_input(),
        Input {
            what: "the parameters file",
            path: &args.params,
        },
    ];
    if let Some(path) = &data_file {
        inputs.push(Input {
            what: "the data file",
            path,
        });
    }
    let outputs: Vec<(&'static str, &std::path::Path)> =
        args.out.iter().map(|p| ("--out", p.as_path())).collect();
    let outputs = match files::check_outputs(&inputs, &outputs) {
        Ok(outputs) => outputs,
        Err(error) => {
            errln!("error: {error}");
            return Ok(crate::EXIT_MODEL_ERROR);
        }
    };
    let text = std::fs::read_to_string(&args.params)
        .with_context(|| format!("cannot read {}", args.params.display()))?;
    let params = gradc::params::from_json(program, &text)
        .with_context(|| format!("{}", args.params.display()))?;
    let program = match training_reductions(&model, &args, &text)? {
        Ok(program) => program,
        Err(code) => return Ok(code),
    };
    let roots = predict_roots(&program);
    let data = match load_columns_for(&model, &program, &roots, args.data.as_deref()) {
        Ok(data) => data,
        Err(code) => return Ok(code),
    };
    // Reductions the fit did not see (a model without a fit's values) are taken from the rows.
    let program = gradc::prepare::bake_data_reductions(&program, &data)?;
    let roots = predict_roots(&program);
    let rows = gradc::objective::per_row(
        &program.graph,
        &roots,
        program.param_count(),
        &params,
        &data,
        0,
    )?;
    let header: Vec<String> = program
        .predicts
        .iter()
        .flat_map(|p| {
            (0..p.nodes.len())
                .map(move |k| gradc_graph::program::element_name(&p.name, &p.shape, k))
        })
        .collect();
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(&header)?;
    for row in &rows {
        writer.write_record(row.iter().map(|v| format_value(*v)))?;
    }
    let bytes = writer.into_inner()?;
    match outputs.first() {
        Some(output) => {
            if let Err(error) = output.write(&bytes) {
                errln!("error: {error}");
                return Ok(crate::EXIT_FAILED);
            }
        }
        None => out!("{}", String::from_utf8_lossy(&bytes)),
    }
    Ok(0)
}

fn predict_roots(program: &Program) -> Vec<NodeId> {
    program
        .predicts
        .iter()
        .flat_map(|p| p.nodes.iter().copied())
        .collect()
}

/// The model with its data-only reductions (a standardization's `mean(x)`) set to the values
/// the parameters were fitted with: from the parameters file (`gradc run --out` keeps them),
/// else — for a file without them — computed on the model's own data file, with a warning.
fn training_reductions(
    model: &Model,
    args: &EvalArgs,
    params_text: &str,
) -> anyhow::Result<Result<Program, u8>> {
    let program = &model.program;
    let reductions = gradc::prepare::data_reductions(program);
    if reductions.is_empty() {
        return Ok(Ok(program.clone()));
    }
    let stored = gradc::params::data_reductions_from_json(params_text)
        .with_context(|| format!("{}", args.params.display()))?;
    if let Some(stored) = stored {
        let mut values = Vec::with_capacity(reductions.len());
        for reduction in &reductions {
            match stored.get(&reduction.text) {
                Some(value) => values.push(*value),
                None => anyhow::bail!(
                    "{} has no value for `{}`, a reduction over the data in {}: were the \
                     parameters fitted with another model?",
                    args.params.display(),
                    reduction.text,
                    model.path.display()
                ),
            }
        }
        return Ok(Ok(gradc::prepare::bake(program, &reductions, &values)));
    }
    let Some(training_file) = model.data_file(None) else {
        return Ok(Ok(program.clone()));
    };
    errln!(
        "warning: {} does not hold the values of {} (it was not written by `gradc run --out`): \
         computing them on {}",
        args.params.display(),
        reductions
            .iter()
            .map(|r| format!("`{}`", r.text))
            .collect::<Vec<_>>()
            .join(", "),
        training_file.display()
    );
    Ok(match model.load_data(None) {
        Ok(training) => Ok(gradc::prepare::bake(
            program,
            &reductions,
            &gradc::prepare::reduction_values(program, &reductions, &training)?,
        )),
        Err(code) => Err(code),
    })
}

/// A number in a CSV: shortest round-trip form, `NaN`/`inf` spelled as numpy writes them.
fn format_value(v: f64) -> String {
    if v.is_nan() {
        "nan".to_string()
    } else if v.is_infinite() {
        if v > 0.0 { "inf" } else { "-inf" }.to_string()
    } else {
        format!("{v}")
    }
}

/// Loads only the data columns that `roots` read; the others are left NaN (a `predict` needs no
/// label column).
fn load_columns_for(
    model: &Model,
    program: &Program,
    roots: &[NodeId],
    data: Option<&std::path::Path>,
) -> Result<Data, u8> {
    let graph = &program.graph;
    let read: std::collections::BTreeSet<usize> = graph
        .cone(roots)
        .into_iter()
        .filter_map(|id| match graph.op(id) {
            gradc_graph::Op::Input(i) => Some(i as usize),
            _ => None,
        })
        .collect();
    let needed: Vec<gradc_graph::InputInfo> = program
        .inputs
        .iter()
        .filter(|input| (input.offset..input.offset + input.len()).any(|i| read.contains(&i)))
        .cloned()
        .collect();
    let loaded = model.load_inputs(&needed, data)?;
    let mut columns = vec![vec![f64::NAN; loaded.n_rows]; program.input_count()];
    let mut next = loaded.columns.into_iter();
    for input in &needed {
        for k in 0..input.len() {
            if let Some(column) = next.next() {
                columns[input.offset + k] = column;
            }
        }
    }
    Ok(Data {
        n_rows: loaded.n_rows,
        columns,
    })
}
