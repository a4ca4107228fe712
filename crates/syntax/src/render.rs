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
        // Rendering into memory can only fail when a span is outside the file, which
        // `clamp` rules out; a failure would lose one message, never the whole report.
        match View::of(file.name(), source, diagnostic) {
            Some(view) => {
                let _ = term::emit_to_write_style(writer, config, &view, &view.diagnostic);
            }
            None => {
                let converted = convert(diagnostic, source);
                let _ = term::emit_to_write_style(writer, config, file, &converted);
            }
        }
    }
}

/// The most bytes of a source line shown around each end of a label; longer lines are shown
/// in part (`…`), so that an error in a 10 MB line does not echo the line.
const CONTEXT_BYTES: usize = 60;
/// Lines up to this long are shown whole.
const LONG_LINE_BYTES: usize = 240;

/// The source as one diagnostic shows it, when that differs from the file: long lines cut
/// down to windows around the labels, control characters (a NUL byte) shown as spaces. Lines
/// stay lines, so line numbers are the file's; columns are mapped back to the file's too.
struct View<'a> {
    name: &'a str,
    original: &'a str,
    text: String,
    /// `(view offset, original offset, length)` of every piece copied from the file, in order;
    /// the gaps between them are `…`.
    pieces: Vec<(usize, usize, usize)>,
    line_starts: Vec<usize>,
    original_line_starts: Vec<usize>,
    diagnostic: cs::Diagnostic<()>,
}

impl<'a> View<'a> {
    /// The view for `diagnostic`, or `None` when the lines it shows need no change.
    fn of(name: &'a str, original: &'a str, diagnostic: &Diagnostic) -> Option<View<'a>> {
        let spans: Vec<std::ops::Range<usize>> = std::iter::once(&diagnostic.primary)
            .chain(&diagnostic.secondary)
            .map(|label| clamp(label.span.range(), original))
            .collect();
        let original_line_starts: Vec<usize> =
            codespan_reporting::files::line_starts(original).collect();
        let line_of = |offset: usize| original_line_starts.partition_point(|&s| s <= offset) - 1;
        let line_end = |line: usize| {
            original_line_starts
                .get(line + 1)
                .map_or(original.len(), |&next| next - 1)
        };
        let awkward = |line: usize| {
            let text = &original[original_line_starts[line]..line_end(line)];
            text.len() > LONG_LINE_BYTES || text.chars().any(is_hidden_control)
        };
        let shown_lines = spans
            .iter()
            .flat_map(|span| line_of(span.start)..=line_of(span.end));
        if !shown_lines.into_iter().any(awkward) {
            return None;
        }
        let mut text = String::with_capacity(original.len().min(1 << 16));
        let mut pieces = Vec::new();
        for (line, &start) in original_line_starts.iter().enumerate() {
            let end = line_end(line);
            let windows = if end - start > LONG_LINE_BYTES {
                windows(original, start, end, &spans)
            } else {
                vec![(start, end)]
            };
            let mut at = start;
            for (from, to) in windows {
                if from > at {
                    text.push('…');
                }
                pieces.push((text.len(), from, to - from));
                for c in original[from..to].chars() {
                    if is_hidden_control(c) {
                        // One space per byte (U+0080..U+009F have two), in place: an offset
                        // within a piece is the file's, and a character boundary of the file is
                        // one of the view. (Padding at the end of the piece instead shifted the
                        // rest of it by a byte, into the middle of characters: the fuzzer found
                        // `column_number` slicing the file there.)
                        text.extend(std::iter::repeat_n(' ', c.len_utf8()));
                    } else {
                        text.push(c);
                    }
                }
                at = to;
            }
            if at < end {
                text.push('…');
            }
            if end < original.len() {
                text.push('\n');
            }
        }
        let line_starts = codespan_reporting::files::line_starts(&text).collect();
        let mut view = View {
            name,
            original,
            text,
            pieces,
            line_starts,
            original_line_starts,
            diagnostic: cs::Diagnostic::new(cs::Severity::Error),
        };
        let mut shown = diagnostic.clone();
        shown.primary.span = view.span_of(&spans[0]);
        for (label, span) in shown.secondary.iter_mut().zip(&spans[1..]) {
            label.span = view.span_of(span);
        }
        view.diagnostic = convert(&shown, &view.text);
        Some(view)
    }

    /// Where an original offset is in the view (the `…` that replaces it, if it was cut).
    fn to_view(&self, offset: usize) -> usize {
        let k = self.pieces.partition_point(|&(_, from, _)| from <= offset);
        match k.checked_sub(1).map(|k| self.pieces[k]) {
            Some((view, from, len)) if offset <= from + len => view + (offset - from),
            Some((view, _, len)) => view + len,
            None => 0,
        }
    }

    /// Where a view offset is in the file.
    fn to_original(&self, offset: usize) -> usize {
        let k = self.pieces.partition_point(|&(view, _, _)| view <= offset);
        match k.checked_sub(1).map(|k| self.pieces[k]) {
            Some((view, from, len)) => from + (offset - view).min(len),
            None => 0,
        }
    }

    fn span_of(&self, range: &std::ops::Range<usize>) -> crate::Span {
        crate::Span::new(self.to_view(range.start), self.to_view(range.end))
    }
}

/// A character that would garble the echoed line (NUL, escape, ...): shown as a space.
fn is_hidden_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\r' | '\n')
}

/// The parts of the long line `start..end` shown around each end of each span on it, merged
/// where they overlap, on character boundaries.
fn windows(
    source: &str,
    start: usize,
    end: usize,
    spans: &[std::ops::Range<usize>],
) -> Vec<(usize, usize)> {
    let boundary = |mut at: usize| {
        while !source.is_char_boundary(at) {
            at -= 1;
        }
        at
    };
    let mut windows: Vec<(usize, usize)> = spans
        .iter()
        .flat_map(|span| [span.start, span.end])
        .filter(|&p| p >= start && p <= end)
        .map(|p| {
            (
                boundary(p.saturating_sub(CONTEXT_BYTES).max(start)),
                boundary((p + CONTEXT_BYTES).min(end)),
            )
        })
        .collect();
    windows.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(windows.len());
    for (from, to) in windows {
        match merged.last_mut() {
            Some(last) if from <= last.1 => last.1 = last.1.max(to),
            _ => merged.push((from, to)),
        }
    }
    merged
}

impl<'a> codespan_reporting::files::Files<'a> for View<'_> {
    type FileId = ();
    type Name = &'a str;
    type Source = &'a str;

    fn name(&'a self, (): ()) -> Result<&'a str, codespan_reporting::files::Error> {
        Ok(self.name)
    }

    fn source(&'a self, (): ()) -> Result<&'a str, codespan_reporting::files::Error> {
        Ok(&self.text)
    }

    fn line_index(
        &'a self,
        (): (),
        byte_index: usize,
    ) -> Result<usize, codespan_reporting::files::Error> {
        Ok(self
            .line_starts
            .partition_point(|&s| s <= byte_index)
            .saturating_sub(1))
    }

    fn line_range(
        &'a self,
        (): (),
        line_index: usize,
    ) -> Result<std::ops::Range<usize>, codespan_reporting::files::Error> {
        let start = *self.line_starts.get(line_index).ok_or(
            codespan_reporting::files::Error::LineTooLarge {
                given: line_index,
                max: self.line_starts.len().saturating_sub(1),
            },
        )?;
        let end = self
            .line_starts
            .get(line_index + 1)
            .copied()
            .unwrap_or(self.text.len());
        Ok(start..end)
    }

    /// The column in the file, not in the shortened line.
    fn column_number(
        &'a self,
        (): (),
        line_index: usize,
        byte_index: usize,
    ) -> Result<usize, codespan_reporting::files::Error> {
        let mut offset = self.to_original(byte_index);
        // A view offset inside a blanked control character maps to the inside of it.
        while !self.original.is_char_boundary(offset) {
            offset -= 1;
        }
        let line_start = self
            .original_line_starts
            .get(line_index)
            .copied()
            .unwrap_or(0)
            .min(offset);
        Ok(self.original[line_start..offset].chars().count() + 1)
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
