//! Renders diagnostics rustc-style with codespan-reporting, into a `String`.
//!
//! The library never touches the terminal: the caller decides whether colour is wanted and where
//! the text goes.

use crate::diagnostic::{Diagnostic, Severity};
use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::termcolor::{Ansi, NoColor, WriteColor};
use codespan_reporting::term::{self, Chars, Config};

/// Renders every diagnostic, separated by blank lines, as `error[E0004]: ...` followed by
/// ` --> file:line:col`, the source line with a caret, and `= help: ...`.
pub fn render(file_name: &str, source: &str, diagnostics: &[Diagnostic], color: bool) -> String {
    let file = SimpleFile::new(file_name, source);
    // ASCII borders give exactly rustc's picture (` --> file:line:col`, `|`), and survive
    // terminals and logs without Unicode.
    let config = Config {
        chars: Chars::ascii(),
        ..Config::default()
    };
    let bytes = if color {
        let mut writer = Ansi::new(Vec::new());
        emit_all(&mut writer, &file, &config, source, diagnostics);
        writer.into_inner()
    } else {
        let mut writer = NoColor::new(Vec::new());
        emit_all(&mut writer, &file, &config, source, diagnostics);
        writer.into_inner()
    };
    String::from_utf8_lossy(&bytes).into_owned()
}

fn emit_all<W: WriteColor>(
    writer: &mut W,
    file: &SimpleFile<&str, &str>,
    config: &Config,
    source: &str,
    diagnostics: &[Diagnostic],
) {
    for diagnostic in diagnostics {
        let converted = convert(diagnostic, source);
        // Rendering into memory can only fail when a span is outside the file, which
        // `clamp` rules out; a failure would lose one message, never the whole report.
        let _ = term::emit_to_write_style(writer, config, file, &converted);
    }
}

fn convert(diagnostic: &Diagnostic, source: &str) -> cs::Diagnostic<()> {
    let severity = match diagnostic.severity {
        Severity::Error => cs::Severity::Error,
        Severity::Warning => cs::Severity::Warning,
    };
    let mut labels = vec![
        cs::Label::primary((), clamp(diagnostic.primary.span.range(), source))
            .with_message(diagnostic.primary.message.clone()),
    ];
    for label in &diagnostic.secondary {
        labels.push(
            cs::Label::secondary((), clamp(label.span.range(), source))
                .with_message(label.message.clone()),
        );
    }
    let notes = diagnostic
        .hint
        .iter()
        .map(|hint| format!("help: {hint}"))
        .collect();
    cs::Diagnostic::new(severity)
        .with_code(diagnostic.code)
        .with_message(diagnostic.message.clone())
        .with_labels(labels)
        .with_notes(notes)
}

/// Keeps a range inside the source and on character boundaries, so that a wrong span from any
/// stage degrades the picture instead of failing the rendering.
fn clamp(range: std::ops::Range<usize>, source: &str) -> std::ops::Range<usize> {
    let fit = |mut at: usize| {
        at = at.min(source.len());
        while !source.is_char_boundary(at) {
            at -= 1;
        }
        at
    };
    let start = fit(range.start);
    let end = fit(range.end).max(start);
    start..end
}
