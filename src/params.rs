//! Parameter values: initial values from the model (seeded), and the JSON form of LANGUAGE.md §5
//! (`{"w": [..], "b": 0.1, "W": [[..],[..]]}`) in both directions.

use gradc_graph::random::SplitMix;
use gradc_graph::{Init, ParamInfo, Program};
use serde_json::{Map, Value};

/// The initial value of every flat parameter element. Random initialisations draw from one
/// generator seeded by `seed`, in declaration order, so the same seed gives the same numbers on
/// every machine.
pub fn initial_values(program: &Program, seed: u64) -> Vec<f64> {
    let mut rng = SplitMix::new(seed);
    let mut values = Vec::with_capacity(program.param_count());
    for param in &program.params {
        for _ in 0..param.len() {
            values.push(match param.init {
                Init::Value(v) => v,
                Init::Uniform { low, high } => rng.uniform(low, high),
                Init::Normal { mean, std_dev } => mean + std_dev * standard_normal(&mut rng),
            });
        }
    }
    values
}

/// A standard normal draw by the Box–Muller transform (one of the pair is used, which keeps
/// the sequence simple to reproduce).
fn standard_normal(rng: &mut SplitMix) -> f64 {
    let u1 = rng.uniform(f64::MIN_POSITIVE, 1.0);
    let u2 = rng.uniform(0.0, 1.0);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// The JSON object of parameter values, shaped like the parameters.
pub fn to_json(program: &Program, flat: &[f64]) -> Value {
    let mut object = Map::new();
    for param in &program.params {
        let values = &flat[param.offset..param.offset + param.len()];
        object.insert(param.name.clone(), shaped(param, values, |v| number(*v)));
    }
    Value::Object(object)
}

/// Any per-element values shaped like a parameter: a scalar, a list, or a list of lists.
pub fn shaped<T>(param: &ParamInfo, values: &[T], each: impl Fn(&T) -> Value) -> Value {
    let items: Vec<Value> = values.iter().map(each).collect();
    match param.shape.as_slice() {
        [] => items.into_iter().next().unwrap_or(Value::Null),
        [_, n] => Value::Array(
            items
                .chunks((*n).max(1))
                .map(|row| Value::Array(row.to_vec()))
                .collect(),
        ),
        _ => Value::Array(items),
    }
}

/// A JSON number; NaN and infinities, which JSON lacks, become null.
pub fn number(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

/// Why a parameter file could not be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamsError {
    #[error("not valid JSON: {0}")]
    Json(String),
    #[error("no \"params\" object")]
    NoParams,
    #[error("parameter `{0}` is missing")]
    Missing(String),
    #[error("parameter `{name}` should be {expected}")]
    Shape { name: String, expected: String },
}

/// Reads the flat parameter values from a JSON object that has a `"params"` member (the output
/// of `gradc run --out`) or is itself the params object.
pub fn from_json(program: &Program, text: &str) -> Result<Vec<f64>, ParamsError> {
    let value: Value = serde_json::from_str(text).map_err(|e| ParamsError::Json(e.to_string()))?;
    let params = value
        .get("params")
        .unwrap_or(&value)
        .as_object()
        .ok_or(ParamsError::NoParams)?;
    let mut flat = vec![0.0; program.param_count()];
    for param in &program.params {
        let value = params
            .get(&param.name)
            .ok_or_else(|| ParamsError::Missing(param.name.clone()))?;
        let shape_error = || ParamsError::Shape {
            name: param.name.clone(),
            expected: describe_shape(&param.shape),
        };
        let values: Vec<f64> = match param.shape.as_slice() {
            [] => vec![value.as_f64().ok_or_else(shape_error)?],
            [k] => numbers(value, *k).ok_or_else(shape_error)?,
            [m, n] => {
                let rows = value
                    .as_array()
                    .filter(|r| r.len() == *m)
                    .ok_or_else(shape_error)?;
                let mut out = Vec::with_capacity(m * n);
                for row in rows {
                    out.extend(numbers(row, *n).ok_or_else(shape_error)?);
                }
                out
            }
            _ => return Err(shape_error()),
        };
        flat[param.offset..param.offset + param.len()].copy_from_slice(&values);
    }
    Ok(flat)
}

/// The values of data-only reductions a fit was made with (`"data_reductions"`, by their text),
/// or `None` when the file has none (it was not written by `gradc run --out`).
pub fn data_reductions_from_json(
    text: &str,
) -> Result<Option<std::collections::BTreeMap<String, f64>>, ParamsError> {
    let value: Value = serde_json::from_str(text).map_err(|e| ParamsError::Json(e.to_string()))?;
    let Some(stored) = value.get(DATA_REDUCTIONS) else {
        return Ok(None);
    };
    let malformed = || ParamsError::Shape {
        name: DATA_REDUCTIONS.to_string(),
        expected: "an object of numbers".to_string(),
    };
    let object = stored.as_object().ok_or_else(malformed)?;
    let mut values = std::collections::BTreeMap::new();
    for (text, value) in object {
        // A reduction over the rows can be non-finite (the mean of a column with an infinity
        // cannot be, as data must be finite, but a `sum` can overflow): JSON's null.
        let value = match value {
            Value::Null => f64::NAN,
            other => other.as_f64().ok_or_else(malformed)?,
        };
        values.insert(text.clone(), value);
    }
    Ok(Some(values))
}

/// The key of a fit's JSON under which the values of its data-only reductions are kept.
pub const DATA_REDUCTIONS: &str = "data_reductions";

/// The `"data_reductions"` object: each reduction's text and value.
pub fn data_reductions_to_json(reductions: &[(String, f64)]) -> Value {
    Value::Object(
        reductions
            .iter()
            .map(|(text, value)| (text.clone(), number(*value)))
            .collect(),
    )
}

fn numbers(value: &Value, len: usize) -> Option<Vec<f64>> {
    let items = value.as_array().filter(|a| a.len() == len)?;
    items.iter().map(Value::as_f64).collect()
}

fn describe_shape(shape: &[usize]) -> String {
    match shape {
        [] => "a number".to_string(),
        [k] => format!("a list of {k} numbers"),
        [m, n] => format!("{m} lists of {n} numbers"),
        _ => format!("shape {shape:?}"),
    }
}
