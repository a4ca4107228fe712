//! `gradc grad`: the derived, simplified partial derivatives.

use crate::cli::args::GradArgs;
use crate::cli::load;
use gradc::DeriveConfig;

pub fn grad(args: GradArgs) -> anyhow::Result<u8> {
    let started = std::time::Instant::now();
    let model = match load::model(&args.model)? {
        Ok(model) => model,
        Err(code) => return Ok(code),
    };
    let front_end = started.elapsed();
    let config = DeriveConfig {
        hessian: args.hessian,
        no_simplify: args.no_simplify,
        ..DeriveConfig::default()
    };
    if args.hessian
        && let Err(error) = gradc::limits::check_hessian(
            &model.program,
            "--hessian",
            "print the gradient alone (without --hessian)",
        )
    {
        errln!("error: {error}");
        return Ok(crate::EXIT_MODEL_ERROR);
    }
    let derived = gradc::derive(&model.program, &config);
    let printing = std::time::Instant::now();
    let rendered = gradc::render(&model.program, &derived, args.format.into());
    if rendered.ends_with('\n') {
        out!("{rendered}");
    } else {
        outln!("{rendered}");
    }
    if args.verbose {
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
        errln!("parse+lower   {:>9.3} ms", ms(front_end));
        errln!(
            "differentiate {:>9.3} ms",
            ms(derived.timings.differentiate)
        );
        errln!("simplify      {:>9.3} ms", ms(derived.timings.simplify));
        errln!("print         {:>9.3} ms", ms(printing.elapsed()));
        let ops = derived.ops;
        errln!(
            "ops: forward {}, gradient {} (unsimplified {}){}",
            ops.forward,
            ops.gradient,
            ops.gradient_unsimplified,
            ops.hessian
                .map(|h| format!(", hessian {h}"))
                .unwrap_or_default()
        );
        if let Some(report) = &derived.report {
            errln!("simplifier: {report}");
        }
    }
    Ok(0)
}
