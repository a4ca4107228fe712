//! Explaining a diverged run: the step, the parameter, and the term and data row where the
//! first non-finite value appeared.

use gradc_graph::Program;
use gradc_graph::interp::{Data, evaluate, trace_non_finite};
use gradc_graph::print::format_short;
use gradc_minimize::Divergence;

/// The 1-based line and column of a byte offset.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let before = &source[..offset.min(source.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The message for a diverged run. The loss is re-evaluated by the interpreter on the model's
/// own (unsimplified) graph, whose nodes carry source spans. `file_rows` maps a row of `data` to
/// its row in the CSV file (with `--validate`, `data` is the training part); `None` when they
/// are the same.
pub fn explain(
    program: &Program,
    file: &str,
    source: &str,
    data: &Data,
    file_rows: Option<&[usize]>,
    divergence: &Divergence,
) -> String {
    if divergence.loss.is_finite()
        && let Some(message) = explain_gradient(program, file, source, data, divergence)
    {
        return message;
    }
    let mut message = format!(
        "error: the loss diverged at step {}: it became {}; the last finite parameters are kept",
        divergence.step,
        format_short(divergence.loss)
    );
    if let Some(i) = divergence.bad_params.iter().position(|p| !p.is_finite()) {
        message.push_str(&format!(
            "\n  parameter {} became {}",
            program.param_element_name(i),
            format_short(divergence.bad_params[i])
        ));
    }
    let origin = trace_non_finite(
        &program.graph,
        program.objective,
        &divergence.bad_params,
        data,
    );
    if let Ok(Some(origin)) = origin {
        if let Some(span) = program.spans.get(&origin.node) {
            let (line, column) = line_col(source, span.start);
            let text = source.get(span.clone()).unwrap_or("").trim();
            message.push_str(&format!(
                "\n  --> {file}:{line}:{column}: `{text}` is not finite"
            ));
        }
        if let Some(row) = origin.row {
            // Rows are numbered from 1, the first row after the header; the CSV line counts the
            // header too.
            let row = file_rows
                .and_then(|rows| rows.get(row).copied())
                .unwrap_or(row);
            message.push_str(&format!(
                " in data row {} (line {} of the data file)",
                row + 1,
                row + 2
            ));
        }
    } else if divergence.loss < 0.0 {
        message.push_str(
            "\n  the loss fell below -1e12 times its first value: the objective may be unbounded \
             below (a minimum needs a loss that is bounded from below)",
        );
    } else if divergence.loss.is_finite() {
        message.push_str("\n  the loss grew by more than 1e12 times its first value");
    }
    message
}

/// At most this many terms are differentiated to find where a non-finite gradient comes from.
const MAX_TERMS_TRACED: usize = 400;

/// The message for a finite loss with a non-finite gradient (`sqrt(y)` or `norm(v)` at 0), or
/// `None` if the gradient is finite there (the loss exploded). The gradient of the model's own
/// graph is evaluated by the interpreter: the partials that are not finite are named, and the
/// first term of the source (in evaluation order, not per-row) whose own gradient is not finite
/// is shown.
fn explain_gradient(
    program: &Program,
    file: &str,
    source: &str,
    data: &Data,
    divergence: &Divergence,
) -> Option<String> {
    let params = &divergence.bad_params;
    let n = program.param_count();
    let mut graph = program.graph.clone();
    let gradient = gradc_grad::grad(&mut graph, program.objective, n);
    let values = evaluate(&graph, &gradient, params, data).ok()?;
    let bad: Vec<usize> = (0..n).filter(|&i| !values[i].is_finite()).collect();
    if bad.is_empty() {
        return None;
    }
    let mut message = format!(
        "error: the gradient is not finite at step {} (the loss is {}); the last finite \
         parameters are kept",
        divergence.step,
        format_short(divergence.loss)
    );
    for &i in bad.iter().take(3) {
        message.push_str(&format!(
            "\n  ∂L/∂{} = {}",
            program.param_element_name(i),
            format_short(values[i])
        ));
    }
    if bad.len() > 3 {
        message.push_str(&format!("\n  and {} more partials", bad.len() - 3));
    }
    let terms = program
        .graph
        .cone(&[program.objective])
        .into_iter()
        .filter(|&id| {
            let flags = program.graph.flags(id);
            program.spans.contains_key(&id)
                && flags.depends_on_param
                && !flags.per_row
                && !program.graph.op(id).is_leaf()
        })
        .take(MAX_TERMS_TRACED);
    for term in terms {
        let partials = gradc_grad::grad(&mut graph, term, n);
        let finite = evaluate(&graph, &partials, params, data)
            .is_ok_and(|v| v.iter().all(|x| x.is_finite()));
        if finite {
            continue;
        }
        if let Some(span) = program.spans.get(&term) {
            let (line, column) = line_col(source, span.start);
            let text = source.get(span.clone()).unwrap_or("").trim();
            message.push_str(&format!(
                "\n  --> {file}:{line}:{column}: `{text}` has no finite derivative here"
            ));
        }
        break;
    }
    Some(message)
}

#[cfg(test)]
mod tests {
    use super::line_col;

    #[test]
    fn lines_and_columns_count_from_one() {
        let source = "param x\nminimize log(x)\n";
        assert_eq!(line_col(source, 0), (1, 1));
        assert_eq!(line_col(source, 17), (2, 10));
    }
}
