//! Errors as plain data: a severity, a code, a message and labelled spans. Rendering lives in
//! `render.rs`, so that every stage can produce diagnostics without knowing about terminals.

use crate::span::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Severity {
    Error,
    Warning,
}

/// A span with a short explanation, shown under the source line.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

/// One problem found in a `.loss` file.
///
/// Messages are lowercase without a trailing period (rustc's convention), labels say what is
/// wrong at the caret, and the hint says what to write instead.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Diagnostic {
    pub severity: Severity,
    /// A stable identifier such as `E0004`, listed in [`crate::codes`].
    pub code: &'static str,
    pub message: String,
    /// Where the problem is; the caret goes here.
    pub primary: Label,
    /// Related places, such as an earlier declaration.
    pub secondary: Vec<Label>,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            primary: Label {
                span,
                message: String::new(),
            },
            secondary: Vec::new(),
            hint: None,
        }
    }

    /// Sets the text under the caret.
    pub fn with_label(mut self, message: impl Into<String>) -> Diagnostic {
        self.primary.message = message.into();
        self
    }

    /// Adds a related place.
    pub fn with_secondary(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.secondary.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }

    pub fn span(&self) -> Span {
        self.primary.span
    }
}
