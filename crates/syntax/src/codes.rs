//! The error index: every diagnostic code gradc reports, in one table.
//!
//! Codes are stable once released: tests, documentation and users' searches refer to them.
//! `E00xx` are lexical and syntax errors (this crate), `E01xx` are semantic errors found while
//! lowering (gradc-lower).

// Lexical errors.
/// A character that starts no token, such as `$`.
pub const UNEXPECTED_CHARACTER: &str = "E0001";
/// `1e`, `1.2.3`.
pub const MALFORMED_NUMBER: &str = "E0002";
/// A string without its closing quote on the same line.
pub const UNTERMINATED_STRING: &str = "E0003";
/// A backslash escape other than `\"` and `\\`.
pub const UNKNOWN_ESCAPE: &str = "E0004";
/// A literal too large for a 64-bit float.
pub const NUMBER_OUT_OF_RANGE: &str = "E0005";

// Syntax errors.
/// A line that does not start with a statement keyword.
pub const EXPECTED_STATEMENT: &str = "E0010";
/// Extra tokens after a complete statement.
pub const EXPECTED_END_OF_STATEMENT: &str = "E0011";
/// An operand is missing.
pub const EXPECTED_EXPRESSION: &str = "E0012";
/// A `(` or `[` without its partner.
pub const UNCLOSED_DELIMITER: &str = "E0013";
/// A specific token is missing, such as `=` in `const c 1`.
pub const EXPECTED_TOKEN: &str = "E0014";
/// A name is missing.
pub const EXPECTED_NAME: &str = "E0015";
/// A keyword where a name is needed: `let sum = ...`.
pub const KEYWORD_AS_NAME: &str = "E0016";
/// `<`, `==`, ... outside the condition of an `if`.
pub const COMPARISON_OUTSIDE_IF: &str = "E0017";
/// `a < b < c`.
pub const CHAINED_COMPARISON: &str = "E0018";
/// An `if` condition that compares nothing.
pub const CONDITION_NOT_COMPARISON: &str = "E0019";
/// `if c a else b`.
pub const MISSING_THEN: &str = "E0020";
/// `if c then a` with no `else`.
pub const MISSING_ELSE: &str = "E0021";
/// Something other than a header name or string in an input's column list.
pub const EXPECTED_COLUMN: &str = "E0022";
/// `let v[3] = ...`: element-wise definitions take index names.
pub const EXPECTED_INDEX_NAME: &str = "E0023";
/// More than `MAX_NESTING` levels of parentheses or operators.
pub const NESTED_TOO_DEEPLY: &str = "E0024";

// Names.
/// A name used before (or without) its declaration.
pub const UNDECLARED_NAME: &str = "E0100";
/// A name declared twice.
pub const REDECLARED_NAME: &str = "E0101";
/// `pi` (or another predefined name) declared by the user.
pub const REDECLARED_PREDEFINED: &str = "E0102";
/// A call to something that is neither a built-in nor a `fn`.
pub const UNKNOWN_FUNCTION: &str = "E0103";
/// A value called like a function.
pub const NOT_A_FUNCTION: &str = "E0104";
/// A function used as a value.
pub const NOT_A_VALUE: &str = "E0105";
/// A `fn` that calls itself.
pub const RECURSIVE_FUNCTION: &str = "E0106";
/// The same parameter name twice in one `fn`, or an index name bound twice.
pub const DUPLICATE_BINDING: &str = "E0107";

// Statements.
/// No `minimize` statement.
pub const NO_OBJECTIVE: &str = "E0110";
/// A second `minimize`.
pub const DUPLICATE_OBJECTIVE: &str = "E0111";
/// A second `data`.
pub const DUPLICATE_DATA: &str = "E0112";
/// The objective is per-row outside a reduction.
pub const PER_ROW_OBJECTIVE: &str = "E0113";
/// The objective is a vector or matrix.
pub const NON_SCALAR_OBJECTIVE: &str = "E0114";
/// An input's column list does not match its extent.
pub const INPUT_COLUMN_COUNT: &str = "E0115";
/// `columns a..b` with `b <= a`.
pub const BAD_COLUMN_RANGE: &str = "E0116";
/// A vector input without its columns.
pub const INPUT_NEEDS_COLUMNS: &str = "E0117";
/// A distribution other than `normal` and `uniform`.
pub const UNKNOWN_DISTRIBUTION: &str = "E0118";
/// `normal(0, -1)`, `uniform(1, 0)`.
pub const BAD_DISTRIBUTION: &str = "E0119";

// Constants.
/// An extent that is not a positive integer.
pub const BAD_EXTENT: &str = "E0120";
/// A constant position that depends on a param, input or `let`.
pub const NOT_CONSTANT: &str = "E0121";
/// A constant that evaluates to infinity or NaN.
pub const NOT_FINITE: &str = "E0122";

// Shapes.
/// Element-wise operation on different shapes.
pub const SHAPE_MISMATCH: &str = "E0130";
/// `@` on shapes that do not multiply.
pub const MATMUL_SHAPE: &str = "E0131";
/// A literal index past the end.
pub const INDEX_OUT_OF_RANGE: &str = "E0132";
/// Indexing a scalar.
pub const INDEX_ON_SCALAR: &str = "E0133";
/// More indices than dimensions.
pub const TOO_MANY_INDICES: &str = "E0134";
/// An index that is not a non-negative integer.
pub const NON_INTEGER_INDEX: &str = "E0135";
/// The wrong number of arguments in a call.
pub const WRONG_ARGUMENT_COUNT: &str = "E0136";
/// A vector where only a scalar can go.
pub const EXPECTED_SCALAR: &str = "E0137";
/// A scalar where a vector function needs a vector.
pub const EXPECTED_VECTOR: &str = "E0138";
/// More than two dimensions, or a matrix input.
pub const TOO_MANY_DIMENSIONS: &str = "E0139";

// Free indices.
/// One free index used with two different extents.
pub const INDEX_EXTENT_CONFLICT: &str = "E0140";
/// A free index used in `[ ]` without `let v[i]` or `sum(i)` binding it.
pub const UNBOUND_INDEX: &str = "E0141";
/// A free index the body never uses.
pub const UNUSED_INDEX: &str = "E0142";
/// A free index whose extent cannot be inferred from how it is used.
pub const UNKNOWN_EXTENT: &str = "E0143";
/// A model whose graph, once vectors are unrolled and functions inlined, exceeds the node
/// limit.
pub const MODEL_TOO_LARGE: &str = "E0144";
/// Two `predict` statements that write a CSV column of the same name.
pub const DUPLICATE_COLUMN: &str = "E0145";

// Errors found when a command prepares a model to run (the gradc command line).
/// `--optimizer lm` on an objective that is not a sum of squares.
pub const NOT_LEAST_SQUARES: &str = "E0200";
/// A model that reads inputs, with no `data` statement and no `--data`.
pub const NO_DATA_FILE: &str = "E0201";
/// An input whose columns the data file does not have (a missing or repeated header, a
/// position past the file's width).
pub const DATA_COLUMNS: &str = "E0202";
