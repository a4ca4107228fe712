//! The recovering parser: tokens to a [`File`], plus every syntax error found.
//!
//! Hand-written recursive descent for statements (this file) and precedence climbing for
//! expressions (`expr.rs`). Parsing never fails. After the first error in a statement the rest of
//! that statement is skipped and its further errors are suppressed, because they are almost
//! always consequences of the first one.

use crate::ast::{ColumnRef, File, Ident, InputSource, ParamInit, Stmt, StmtKind, StrLit};
use crate::codes;
use crate::diagnostic::Diagnostic;
use crate::lexer::{Token, TokenKind, lex, unescape};
use crate::span::Span;

/// The result of [`parse`]: always a tree, and the errors (lexical and syntactic) in source
/// order.
#[derive(Clone, Debug)]
pub struct Parsed {
    pub file: File,
    pub errors: Vec<Diagnostic>,
}

/// Parses a whole `.loss` file. Never fails.
pub fn parse(source: &str) -> Parsed {
    let (tokens, lex_errors) = lex(source);
    let mut parser = Parser {
        source,
        tokens,
        position: 0,
        errors: Vec::new(),
        lex_error_spans: lex_errors.iter().map(Diagnostic::span).collect(),
        statement_start: 0,
        statement_failed: false,
        depth: 0,
        chain: 0,
    };
    let file = parser.file();
    let mut errors = lex_errors;
    errors.extend(parser.errors);
    // Stable, so that errors at one place keep the order they were found in.
    errors.sort_by_key(|d| d.primary.span.start);
    Parsed { file, errors }
}

pub(crate) struct Parser<'source> {
    pub(crate) source: &'source str,
    /// Ends with an `Eof` token, which is never consumed.
    tokens: Vec<Token>,
    position: usize,
    errors: Vec<Diagnostic>,
    /// Where the lexer already reported something: the parser stays quiet about statements
    /// containing one, since the missing token is the reason they do not parse.
    lex_error_spans: Vec<Span>,
    statement_start: usize,
    /// An error was reported in the current statement; further ones are suppressed.
    statement_failed: bool,
    /// How deeply expressions are nested right now; see [`MAX_NESTING`].
    pub(crate) depth: usize,
    /// Binary operators in the current statement; see [`MAX_CHAIN`].
    pub(crate) chain: usize,
}

/// The deepest expression nesting accepted, counting parentheses, unary operators and the
/// operators of a chain such as `a + b + c`. Recursive descent uses the call stack, so
/// unbounded nesting (easy to produce by a fuzzer, or `((((...`) would overflow it; every later
/// stage recurses over the tree too and relies on this bound.
pub(crate) const MAX_NESTING: usize = 256;

/// The most binary operators in the expressions of one statement (a sum written out term by
/// term). Lowering recurses once per operator; `gradc_lower::compile` runs on a thread whose
/// stack holds this many levels.
pub(crate) const MAX_CHAIN: usize = 100_000;

impl Parser<'_> {
    // Token access.

    pub(crate) fn token(&self) -> Token {
        self.nth(0)
    }

    pub(crate) fn nth(&self, n: usize) -> Token {
        let last = self.tokens.len().saturating_sub(1);
        self.tokens
            .get((self.position + n).min(last))
            .copied()
            .unwrap_or(Token {
                kind: TokenKind::Eof,
                span: Span::new(self.source.len(), self.source.len()),
            })
    }

    pub(crate) fn peek(&self) -> TokenKind {
        self.token().kind
    }

    pub(crate) fn at(&self, kind: TokenKind) -> bool {
        self.peek() == kind
    }

    /// Consumes the current token (never the final `Eof`).
    pub(crate) fn bump(&mut self) -> Token {
        let token = self.token();
        if token.kind != TokenKind::Eof {
            self.position += 1;
        }
        token
    }

    pub(crate) fn eat(&mut self, kind: TokenKind) -> Option<Token> {
        if self.at(kind) {
            Some(self.bump())
        } else {
            None
        }
    }

    /// The end of the last consumed token.
    pub(crate) fn previous_end(&self) -> usize {
        match self
            .position
            .checked_sub(1)
            .and_then(|i| self.tokens.get(i))
        {
            Some(token) => token.span.end,
            None => 0,
        }
    }

    /// The span of something missing: empty, right after the last consumed token, so that it
    /// stays inside the statement being parsed.
    pub(crate) fn placeholder(&self) -> Span {
        Span::new(self.previous_end(), self.previous_end())
    }

    pub(crate) fn text(&self, token: Token) -> &str {
        token.span.text(self.source)
    }

    /// Where a diagnostic about the current token points: the token, or the point just before
    /// a line break or the end of the file (a caret under the newline itself would draw as a
    /// span over two lines).
    pub(crate) fn here(&self) -> Span {
        let token = self.token();
        match token.kind {
            TokenKind::Newline | TokenKind::Eof => token.span.start_point(),
            _ => token.span,
        }
    }

    /// The current token as "found ..." text: the source text for names and numbers.
    pub(crate) fn found(&self) -> String {
        let token = self.token();
        match token.kind {
            TokenKind::Ident | TokenKind::Number => format!("`{}`", self.text(token)),
            kind => kind.describe().to_string(),
        }
    }

    // Errors.

    /// Records an error unless the current statement already has one (or a lexical error).
    pub(crate) fn report(&mut self, diagnostic: Diagnostic) {
        if self.statement_failed {
            return;
        }
        self.statement_failed = true;
        let statement = Span::new(
            self.statement_start,
            diagnostic.span().end.max(self.token().span.end),
        );
        if self.lex_error_spans.iter().any(|s| statement.contains(*s)) {
            return;
        }
        self.errors.push(diagnostic);
    }

    pub(crate) fn failed(&self) -> bool {
        self.statement_failed
    }

    /// Consumes a token of the given kind or reports `expected {what}, found ...`.
    pub(crate) fn expect(&mut self, kind: TokenKind, hint: Option<&str>) -> Option<Token> {
        if let Some(token) = self.eat(kind) {
            return Some(token);
        }
        let mut diagnostic = Diagnostic::error(
            codes::EXPECTED_TOKEN,
            format!("expected {}, found {}", kind.describe(), self.found()),
            self.here(),
        )
        .with_label(format!("expected {} here", kind.describe()));
        if let Some(hint) = hint {
            diagnostic = diagnostic.with_hint(hint);
        }
        self.report(diagnostic);
        None
    }

    /// Consumes the closing partner of `open` or reports the unclosed delimiter.
    pub(crate) fn expect_closing(&mut self, close: TokenKind, open: Token) -> Option<Token> {
        if let Some(token) = self.eat(close) {
            return Some(token);
        }
        let open_text = open.kind.describe();
        let diagnostic = Diagnostic::error(
            codes::UNCLOSED_DELIMITER,
            format!(
                "unclosed {open_text}: expected {}, found {}",
                close.describe(),
                self.found()
            ),
            self.here(),
        )
        .with_label(format!("expected {} here", close.describe()))
        .with_secondary(open.span, format!("{open_text} opened here"));
        self.report(diagnostic);
        None
    }

    /// A name, or a placeholder with an empty name after reporting why there is none.
    pub(crate) fn ident(&mut self, what: &str) -> Ident {
        let token = self.token();
        if token.kind == TokenKind::Ident {
            self.bump();
            return Ident {
                name: self.text(token).to_string(),
                span: token.span,
            };
        }
        let keyword = self.text(token).to_string();
        let diagnostic = if is_keyword(token.kind) {
            Diagnostic::error(
                codes::KEYWORD_AS_NAME,
                format!("`{keyword}` is a keyword and cannot be used as a name"),
                self.here(),
            )
            .with_label("keyword")
            .with_hint(format!("choose another name, such as `{keyword}_`"))
        } else {
            Diagnostic::error(
                codes::EXPECTED_NAME,
                format!("expected {what}, found {}", self.found()),
                self.here(),
            )
            .with_label(format!("expected {what} here"))
        };
        self.report(diagnostic);
        Ident {
            name: String::new(),
            span: self.placeholder(),
        }
    }

    // Statements.

    fn file(&mut self) -> File {
        let mut statements = Vec::new();
        loop {
            while self.eat(TokenKind::Newline).is_some() || self.eat(TokenKind::Semicolon).is_some()
            {
            }
            if self.at(TokenKind::Eof) {
                break;
            }
            if let Some(statement) = self.statement() {
                statements.push(statement);
            }
        }
        File {
            statements,
            span: Span::new(0, self.source.len()),
        }
    }

    fn statement(&mut self) -> Option<Stmt> {
        let start = self.token().span.start;
        self.statement_start = start;
        self.statement_failed = false;
        self.chain = 0;
        let kind = match self.peek() {
            TokenKind::Data => Some(self.data()),
            TokenKind::Input => Some(self.input()),
            TokenKind::Param => Some(self.param()),
            TokenKind::Const => Some(self.constant()),
            TokenKind::Let => Some(self.let_statement()),
            TokenKind::Fn => Some(self.function()),
            TokenKind::Minimize => {
                self.bump();
                Some(StmtKind::Minimize { value: self.expr() })
            }
            TokenKind::Predict => Some(self.predict()),
            _ => {
                self.not_a_statement();
                None
            }
        };
        if !self.at_statement_end() {
            let diagnostic = Diagnostic::error(
                codes::EXPECTED_END_OF_STATEMENT,
                format!("expected end of statement, found {}", self.found()),
                self.here(),
            )
            .with_label("unexpected here")
            .with_hint("a statement ends at a newline or `;`");
            self.report(diagnostic);
            while !self.at_statement_end() {
                self.bump();
            }
        }
        let span = Span::new(start, self.previous_end().max(start));
        let has_error =
            self.statement_failed || self.lex_error_spans.iter().any(|s| span.contains(*s));
        kind.map(|kind| Stmt {
            kind,
            span,
            has_error,
        })
    }

    fn at_statement_end(&self) -> bool {
        matches!(
            self.peek(),
            TokenKind::Newline | TokenKind::Semicolon | TokenKind::Eof
        )
    }

    fn not_a_statement(&mut self) {
        let token = self.token();
        let hint = if token.kind == TokenKind::Ident && self.nth(1).kind == TokenKind::Eq {
            format!("to name a value, write `let {} = ...`", self.text(token))
        } else {
            "statements start with `data`, `input`, `param`, `const`, `let`, `fn`, `minimize` or `predict`".to_string()
        };
        let diagnostic = Diagnostic::error(
            codes::EXPECTED_STATEMENT,
            format!("expected a statement, found {}", self.found()),
            token.span,
        )
        .with_label("not the start of a statement")
        .with_hint(hint);
        self.report(diagnostic);
    }

    fn data(&mut self) -> StmtKind {
        self.bump();
        let path = match self.eat(TokenKind::String) {
            Some(token) => self.string(token),
            None => {
                self.expect(
                    TokenKind::String,
                    Some("write the path in quotes: `data \"file.csv\"`"),
                );
                StrLit {
                    value: String::new(),
                    span: self.placeholder(),
                }
            }
        };
        StmtKind::Data { path }
    }

    fn string(&self, token: Token) -> StrLit {
        StrLit {
            value: unescape(self.text(token)),
            span: token.span,
        }
    }

    fn input(&mut self) -> StmtKind {
        self.bump();
        let name = self.ident("the input's name");
        let shape = self.dimensions();
        let source = if self.eat(TokenKind::Eq).is_some() {
            if let Some(keyword) = self.eat(TokenKind::Columns) {
                let start = self.expr();
                self.expect(
                    TokenKind::DotDot,
                    Some("write a column range as `columns 2..12`"),
                );
                let end = self.expr();
                let span = keyword.span.to(end.span);
                InputSource::Positions { start, end, span }
            } else {
                InputSource::Columns(self.column_list())
            }
        } else {
            InputSource::OwnName
        };
        StmtKind::Input {
            name,
            shape,
            source,
        }
    }

    fn column_list(&mut self) -> Vec<ColumnRef> {
        let mut columns = Vec::new();
        loop {
            let token = self.token();
            let header = match token.kind {
                TokenKind::Ident => self.text(token).to_string(),
                TokenKind::String => self.string(token).value,
                _ => {
                    let diagnostic = Diagnostic::error(
                        codes::EXPECTED_COLUMN,
                        format!("expected a column header, found {}", self.found()),
                        self.here(),
                    )
                    .with_label("expected a column header here")
                    .with_hint(
                        "name columns by header (`a, \"b c\"`) or by position (`columns 2..12`)",
                    );
                    self.report(diagnostic);
                    break;
                }
            };
            self.bump();
            columns.push(ColumnRef {
                header,
                span: token.span,
            });
            if self.eat(TokenKind::Comma).is_none() {
                break;
            }
        }
        columns
    }

    /// `[m][n]` after a declared name: constant expressions.
    fn dimensions(&mut self) -> Vec<crate::ast::Expr> {
        let mut dimensions = Vec::new();
        while let Some(open) = self.eat(TokenKind::LBracket) {
            dimensions.push(self.expr());
            if self.expect_closing(TokenKind::RBracket, open).is_none() {
                break;
            }
        }
        dimensions
    }

    fn param(&mut self) -> StmtKind {
        self.bump();
        let name = self.ident("the parameter's name");
        let shape = self.dimensions();
        let init = if self.eat(TokenKind::Eq).is_some() {
            ParamInit::Value(self.expr())
        } else if self.eat(TokenKind::Tilde).is_some() {
            let distribution = self.ident("a distribution such as `normal`");
            let mut args = Vec::new();
            if let Some(open) = self.expect(
                TokenKind::LParen,
                Some("write `~ normal(mean, sd)` or `~ uniform(low, high)`"),
            ) {
                args = self.call_arguments(open);
            }
            let span = distribution
                .span
                .to(Span::new(self.previous_end(), self.previous_end()));
            ParamInit::Distribution {
                name: distribution,
                args,
                span,
            }
        } else {
            ParamInit::Zero
        };
        StmtKind::Param { name, shape, init }
    }

    fn constant(&mut self) -> StmtKind {
        self.bump();
        let name = self.ident("the constant's name");
        self.expect(TokenKind::Eq, Some("write `const name = value`"));
        let value = self.expr();
        StmtKind::Const { name, value }
    }

    fn let_statement(&mut self) -> StmtKind {
        self.bump();
        let name = self.ident("a name");
        let mut indices = Vec::new();
        while let Some(open) = self.eat(TokenKind::LBracket) {
            if !self.at(TokenKind::Ident) {
                let diagnostic = Diagnostic::error(
                    codes::EXPECTED_INDEX_NAME,
                    format!("expected an index name, found {}", self.found()),
                    self.here(),
                )
                .with_label("expected a name such as `i`")
                .with_hint(format!(
                    "`let {}[i] = ...` defines every element at once, with `i` ranging over the extent the right-hand side indexes with it",
                    name.name
                ));
                self.report(diagnostic);
                break;
            }
            indices.push(self.ident("an index name"));
            if self.expect_closing(TokenKind::RBracket, open).is_none() {
                break;
            }
        }
        self.expect(TokenKind::Eq, Some("write `let name = expression`"));
        let value = self.expr();
        StmtKind::Let {
            name,
            indices,
            value,
        }
    }

    fn function(&mut self) -> StmtKind {
        self.bump();
        let name = self.ident("the function's name");
        let mut params = Vec::new();
        if let Some(open) = self.expect(
            TokenKind::LParen,
            Some("write `fn name(a, b) = expression`"),
        ) {
            while self.at(TokenKind::Ident) {
                params.push(self.ident("a parameter name"));
                if self.eat(TokenKind::Comma).is_none() {
                    break;
                }
            }
            self.expect_closing(TokenKind::RParen, open);
        }
        self.expect(TokenKind::Eq, Some("write `fn name(a, b) = expression`"));
        let body = self.expr();
        StmtKind::Fn { name, params, body }
    }

    fn predict(&mut self) -> StmtKind {
        self.bump();
        let name = if self.at(TokenKind::Ident) && self.nth(1).kind == TokenKind::Eq {
            let name = self.ident("a name");
            self.bump();
            Some(name)
        } else {
            None
        };
        StmtKind::Predict {
            name,
            value: self.expr(),
        }
    }
}

fn is_keyword(kind: TokenKind) -> bool {
    use TokenKind::*;
    matches!(
        kind,
        Data | Input
            | Param
            | Const
            | Let
            | Fn
            | Minimize
            | Predict
            | Sum
            | Mean
            | If
            | Then
            | Else
            | Columns
    )
}
