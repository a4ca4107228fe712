//! `gradc check`: the derived gradient against finite differences, at the initial parameters
//! or at a fit's.

use crate::cli::args::CheckArgs;
use crate::cli::{load, run::report_stages};
use anyhow::Context;
use gradc_graph::print::format_short;

pub fn check(args: CheckArgs) -> anyhow::Result<u8> {
    let started = std::time::Instant::now();
    let model = match load::model(&args.model)? {
        Ok(model) => model,
        Err(code) => return Ok(code),
    };
    let front_end = started.elapsed();
    let program = &model.program;
    let params = match &args.at {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            gradc::params::from_json(program, &text)
                .with_context(|| format!("{}", path.display()))?
        }
        None => gradc::params::initial_values(program, args.seed),
    };
    let started = std::time::Instant::now();
    let data = match model.load_data(args.data.as_deref()) {
        Ok(data) => data,
        Err(code) => return Ok(code),
    };
    let loading = started.elapsed();
    let threads = crate::cli::run::threads(args.threads, data.n_rows);
    let built = gradc::build(program, &data, false, threads)?;
    if args.verbose {
        report_stages(front_end, loading, &built, threads);
    }
    let report = gradc::check::check(&built.objective, &params);
    let passed = report.max_relative_error <= args.tol;
    if args.json {
        let shaped = |values: &[f64]| gradc::params::to_json(program, values);
        let json = serde_json::json!({
            "value": gradc::params::number(report.value),
            "gradient": shaped(&report.gradient),
            "finite_difference": shaped(&report.finite_difference),
            "max_rel_error": gradc::params::number(report.max_relative_error),
        });
        outln!("{json}");
    } else if !report.value.is_finite() {
        outln!(
            "value {}: the objective is not finite at this point, so no derivative can be checked",
            format_short(report.value)
        );
        outln!("FAILED: check at a point where the objective is finite (--at F.json)");
    } else {
        outln!("value {}", format_short(report.value));
        outln!("{:<16} {:>14}", "parameter", "max rel. error");
        for p in &program.params {
            let elements = p.offset..p.offset + p.len();
            let not_finite: Vec<String> = elements
                .clone()
                .filter_map(|k| {
                    let (g, d) = (report.gradient[k], report.finite_difference[k]);
                    let name = program.param_element_name(k);
                    if !g.is_finite() {
                        Some(format!("∂L/∂{name} = {}", format_short(g)))
                    } else if !d.is_finite() {
                        Some(format!(
                            "finite difference for {name} = {}",
                            format_short(d)
                        ))
                    } else {
                        None
                    }
                })
                .collect();
            if not_finite.is_empty() {
                let worst = report.relative_error[elements]
                    .iter()
                    .copied()
                    .fold(0.0, f64::max);
                outln!("{:<16} {:>14.3e}", p.name, worst);
            } else {
                let more = not_finite.len().saturating_sub(3);
                let shown = not_finite[..not_finite.len().min(3)].join(", ");
                let more = if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                };
                outln!("{:<16} {:>14}  ({shown}{more})", p.name, "not finite");
            }
        }
        let verdict = if passed { "ok" } else { "FAILED" };
        outln!(
            "{verdict}: largest relative error {} (tolerance {})",
            format_short(report.max_relative_error),
            format_short(args.tol)
        );
    }
    Ok(if passed { 0 } else { crate::EXIT_FAILED })
}
