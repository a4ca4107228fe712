//! What `gradc run` shows a person: the progress bar while it runs, the table after.

use gradc_graph::Program;
use gradc_graph::print::format_short;

/// The table of fitted parameters (with standard errors when asked), the loss, the steps and
/// why the run stopped. Numbers have 8 significant digits, as numpy and R print them.
pub fn print_summary(
    program: &Program,
    outcome: &gradc_minimize::Outcome,
    optimizer: &str,
    seconds: f64,
    validation_loss: Option<f64>,
    errors: Option<&Option<Vec<f64>>>,
) {
    match errors {
        Some(_) => outln!("{:<20} {:>16} {:>16}", "parameter", "value", "std. error"),
        None => outln!("{:<20} {:>16}", "parameter", "value"),
    }
    for p in &program.params {
        for i in 0..p.len() {
            let k = p.offset + i;
            let value = format_short(outcome.params[k]);
            match errors {
                Some(Some(e)) => outln!(
                    "{:<20} {value:>16} {:>16}",
                    p.element_name(i),
                    format_short(e[k])
                ),
                Some(None) => outln!("{:<20} {value:>16} {:>16}", p.element_name(i), "n/a"),
                None => outln!("{:<20} {value:>16}", p.element_name(i)),
            }
        }
    }
    if let Some(None) = errors {
        outln!(
            "(no standard errors: the Hessian (or JᵀJ) at the result is singular or not positive \
             definite, or a least-squares fit has no more residuals than parameters)"
        );
    }
    outln!();
    outln!("loss        {}", format_short(outcome.loss));
    if let Some(loss) = validation_loss {
        outln!("validation  {}", format_short(loss));
    }
    outln!("steps       {}", outcome.steps);
    match &outcome.detail {
        Some(detail) => outln!("stopped     {} ({detail})", outcome.stop_reason.as_str()),
        None => outln!("stopped     {}", outcome.stop_reason.as_str()),
    }
    outln!("optimizer   {optimizer}");
    outln!("time        {seconds:.3} s");
}

/// The progress bar on a terminal, or nothing.
pub struct Bar(Option<indicatif::ProgressBar>);

impl Bar {
    pub fn new(show: bool, steps: usize) -> Bar {
        if !show {
            return Bar(None);
        }
        let bar = indicatif::ProgressBar::new(steps as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} steps  loss {msg}  [{elapsed_precise}]",
        ) {
            bar.set_style(style);
        }
        Bar(Some(bar))
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }

    pub fn step(&mut self, step: usize, loss: f64) -> bool {
        if let Some(bar) = &self.0 {
            // Called after every step, or once per block of fused steps: the loss text is
            // formatted at most every 16 steps.
            let last = bar.position();
            bar.set_position(step as u64);
            if step == 0 || step as u64 / 16 != last / 16 {
                bar.set_message(format_short(loss));
            }
        }
        true
    }
}
