//! Reading a config: TOML syntax, then the schema with the key path of any error, then
//! `--set KEY=VALUE` overrides (checked like the file), then the values' ranges.

use super::{Config, DatasetKind, LayerSpec};
use std::path::Path;

/// A config that cannot be used, with where and why.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A key is unknown, of the wrong type, out of range, or the TOML is malformed.
    #[error("{file}: {key}: {message}{location}")]
    Invalid {
        file: String,
        /// The key path (`model.layers[2].activation`), or `(syntax)`.
        key: String,
        message: String,
        /// ` (line 9, column 42)`, ` (after --set)` or empty.
        location: String,
    },
    /// A `--set` argument is malformed.
    #[error("--set {arg}: {reason}")]
    Override { arg: String, reason: String },
}

/// Reads and checks the config at `path`, applying `overrides` (`KEY=VALUE`, VALUE in TOML
/// syntax, or a bare string).
pub fn load(path: &Path, overrides: &[String]) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse(&text, &path.display().to_string(), overrides)
}

/// [`load`] on text already read; `file` names it in errors.
pub fn parse(text: &str, file: &str, overrides: &[String]) -> Result<Config, ConfigError> {
    let mut config = deserialize(text, file, "")?;
    if !overrides.is_empty() {
        let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            invalid(file, "(syntax)", e.message(), location(text, e.span()))
        })?;
        for arg in overrides {
            apply_override(&mut table, arg)?;
        }
        let merged = toml::to_string(&table).map_err(|e| ConfigError::Override {
            arg: overrides.join(" "),
            reason: e.to_string(),
        })?;
        config = deserialize(&merged, file, " (after --set)")?;
    }
    validate(&config, file).map_err(|e| match e {
        ConfigError::Invalid {
            file, key, message, ..
        } => {
            let set_here = overrides
                .iter()
                .any(|o| o.split('=').next().map(str::trim) == Some(key.as_str()));
            let location = if set_here {
                " (from --set)".to_string()
            } else {
                location(text, locate(text, &key).map(|at| at..at + 1))
            };
            ConfigError::Invalid {
                file,
                key,
                message,
                location,
            }
        }
        other => other,
    })?;
    Ok(config)
}

/// Where `key` (`optimizer.lr`, `training.early_stopping.patience`,
/// `model.layers[2].p`) is written in `text`, as a byte offset.
fn locate(text: &str, key: &str) -> Option<usize> {
    if let Some((layer, field)) = key.rsplit_once('.').filter(|(l, _)| l.ends_with(']')) {
        let (_, span) = within_layer(text, layer, &format!("unknown field `{field}`"))?;
        return Some(span.start);
    }
    let mut parts = key.split('.');
    let (table, field, sub) = (parts.next()?, parts.next()?, parts.next());
    let header = format!("[{table}]");
    let (mut offset, mut in_table) = (0, false);
    for line in text.split_inclusive('\n') {
        let t = line.trim_start();
        if t.starts_with('[') {
            in_table = t.trim_end() == header;
        } else if in_table && t.starts_with(field) && t[field.len()..].trim_start().starts_with('=')
        {
            let at = match sub {
                None => line.find(field),
                Some(s) => line.find(&format!("{s} =")).or_else(|| line.find(s)),
            };
            return at.map(|c| offset + c);
        }
        offset += line.len();
    }
    None
}

fn deserialize(text: &str, file: &str, after: &str) -> Result<Config, ConfigError> {
    let de = toml::Deserializer::parse(text)
        .map_err(|e| invalid(file, "(syntax)", e.message(), location(text, e.span())))?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let key = match e.path().to_string() {
            p if p == "." || p.is_empty() => "(top level)".to_string(),
            p => p,
        };
        let inner = e.into_inner();
        // Layers are tagged by `type`, and serde reads a tagged table whole: find the
        // field inside it that the error is about.
        let (key, span) = match within_layer(text, &key, inner.message()) {
            Some((field, span)) => (field, Some(span)),
            None => (key, inner.span()),
        };
        let place = if after.is_empty() {
            location(text, span)
        } else {
            after.to_string()
        };
        invalid(file, &key, inner.message(), place)
    })
}

/// For an error at `model.layers[N]`, the field it concerns (`model.layers[N].activation`)
/// and where that field is, from the message (`unknown variant `x``, `unknown field `k``,
/// `missing field `k``).
fn within_layer(text: &str, key: &str, message: &str) -> Option<(String, std::ops::Range<usize>)> {
    #[derive(serde::Deserialize)]
    struct Doc {
        model: Option<Model>,
    }
    #[derive(serde::Deserialize)]
    struct Model {
        layers: Option<Vec<toml::Spanned<toml::Table>>>,
    }
    let index: usize = key
        .strip_prefix("model.layers[")?
        .strip_suffix(']')?
        .parse()
        .ok()?;
    let doc: Doc = toml::from_str(text).ok()?;
    let layer = doc.model?.layers?.into_iter().nth(index)?;
    let span = layer.span();
    let quoted = |prefix: &str| {
        let rest = message.strip_prefix(prefix)?;
        Some(rest[..rest.find('`')?].to_string())
    };
    let (field, value) = if let Some(v) = quoted("unknown variant `") {
        let field = layer
            .get_ref()
            .iter()
            .find(|(_, val)| val.as_str() == Some(&v))
            .map(|(k, _)| k.clone())?;
        (field, Some(v))
    } else if let Some(k) = quoted("unknown field `").or_else(|| quoted("missing field `")) {
        (k, None)
    } else {
        return None;
    };
    let body = &text[span.clone()];
    let at = match (&value, body.find(&format!("{field} ="))) {
        (Some(v), Some(k)) => body[k..].find(&format!("\"{v}\"")).map(|i| k + i)?,
        (None, Some(k)) => k,
        (_, None) => 0,
    };
    Some((
        format!("{key}.{field}"),
        span.start + at..span.start + at + 1,
    ))
}

fn invalid(file: &str, key: &str, message: &str, location: String) -> ConfigError {
    ConfigError::Invalid {
        file: file.to_string(),
        key: key.to_string(),
        message: message.trim().to_string(),
        location,
    }
}

/// ` (line L, column C)` of a byte span, counting from 1.
fn location(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    let Some(span) = span else {
        return String::new();
    };
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    format!(" (line {line}, column {column})")
}

/// Sets `a.b[2].c = value` in a TOML table.
fn apply_override(table: &mut toml::Table, arg: &str) -> Result<(), ConfigError> {
    let bad = |reason: &str| ConfigError::Override {
        arg: arg.to_string(),
        reason: reason.to_string(),
    };
    let (key, raw) = arg
        .split_once('=')
        .ok_or_else(|| bad("expected KEY=VALUE, e.g. optimizer.lr=3e-4"))?;
    // A TOML value (number, boolean, array, quoted string), else the text as a string.
    let value = format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()));
    let parts: Vec<&str> = key.trim().split('.').collect();
    let mut current = table;
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let (name, index) = match part.split_once('[') {
            Some((n, rest)) => {
                let idx = rest
                    .strip_suffix(']')
                    .and_then(|s| s.parse::<usize>().ok())
                    .ok_or_else(|| bad("an index must look like layers[2]"))?;
                (n, Some(idx))
            }
            None => (*part, None),
        };
        if name.is_empty() {
            return Err(bad("empty key"));
        }
        match index {
            None if last => {
                current.insert(name.to_string(), value);
                return Ok(());
            }
            None => {
                let entry = current
                    .entry(name.to_string())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()));
                current = entry
                    .as_table_mut()
                    .ok_or_else(|| bad(&format!("{name} is not a table")))?;
            }
            Some(idx) => {
                let array = current
                    .get_mut(name)
                    .and_then(|v| v.as_array_mut())
                    .ok_or_else(|| bad(&format!("{name} is not an array")))?;
                let len = array.len();
                let item = array
                    .get_mut(idx)
                    .ok_or_else(|| bad(&format!("{name} has {len} element(s), no [{idx}]")))?;
                if last {
                    *item = value;
                    return Ok(());
                }
                current = item
                    .as_table_mut()
                    .ok_or_else(|| bad(&format!("{name}[{idx}] is not a table")))?;
            }
        }
    }
    Ok(())
}

/// Ranges the schema cannot express.
fn validate(c: &Config, file: &str) -> Result<(), ConfigError> {
    let fail = |key: String, message: String| Err(invalid(file, &key, &message, String::new()));
    let positive = |v: f64| v > 0.0 && v.is_finite();
    if !positive(c.optimizer.lr) {
        return fail(
            "optimizer.lr".into(),
            format!("must be a number > 0, got {}", c.optimizer.lr),
        );
    }
    if !(0.0..1.0).contains(&c.optimizer.momentum) {
        return fail(
            "optimizer.momentum".into(),
            format!("must be in [0, 1), got {}", c.optimizer.momentum),
        );
    }
    if let Some(wd) = c.optimizer.weight_decay
        && !(wd >= 0.0 && wd.is_finite())
    {
        return fail(
            "optimizer.weight_decay".into(),
            format!("must be >= 0, got {wd}"),
        );
    }
    if c.training.epochs == 0 {
        return fail("training.epochs".into(), "must be at least 1".into());
    }
    if c.training.batch_size == 0 {
        return fail("training.batch_size".into(), "must be at least 1".into());
    }
    if c.model.input.is_empty() || c.model.input.contains(&0) {
        return fail(
            "model.input".into(),
            format!(
                "must be a non-empty list of sizes > 0, got {:?}",
                c.model.input
            ),
        );
    }
    if c.model.layers.is_empty() {
        return fail("model.layers".into(), "must list at least one layer".into());
    }
    if let Some(v) = c.data.validation
        && !positive(v)
    {
        return fail(
            "data.validation".into(),
            format!("must be a count >= 1 or a fraction in (0, 1), got {v}"),
        );
    }
    if let Some(t) = c.data.test_fraction
        && !(t > 0.0 && t < 1.0)
    {
        return fail(
            "data.test_fraction".into(),
            format!("must be in (0, 1), got {t}"),
        );
    }
    for (i, layer) in c.model.layers.iter().enumerate() {
        let key = |field: &str| format!("model.layers[{i}].{field}");
        match layer {
            LayerSpec::Dropout { p } if !(0.0..1.0).contains(p) => {
                return fail(key("p"), format!("must be in [0, 1), got {p}"));
            }
            LayerSpec::Linear { out: Some(0), .. }
            | LayerSpec::Conv2d { out: 0, .. }
            | LayerSpec::Conv1d { out: 0, .. } => {
                return fail(key("out"), "must be at least 1".into());
            }
            LayerSpec::Embedding { dim: 0, .. } => {
                return fail(key("dim"), "must be at least 1".into());
            }
            LayerSpec::Embedding { vocab: Some(0), .. } => {
                return fail(key("vocab"), "must be at least 1".into());
            }
            LayerSpec::Attention { heads: 0, .. }
            | LayerSpec::TransformerEncoder { heads: 0, .. } => {
                return fail(key("heads"), "must be at least 1".into());
            }
            LayerSpec::TransformerEncoder { layers: 0, .. } => {
                return fail(key("layers"), "must be at least 1".into());
            }
            LayerSpec::PositionalEncoding { dropout: p, .. }
            | LayerSpec::Attention { dropout: p, .. }
            | LayerSpec::TransformerEncoder { dropout: p, .. }
                if !(0.0..1.0).contains(p) =>
            {
                return fail(key("dropout"), format!("must be in [0, 1), got {p}"));
            }
            LayerSpec::Conv2d { kernel: 0, .. }
            | LayerSpec::Conv1d { kernel: 0, .. }
            | LayerSpec::MaxPool1d { kernel: 0, .. }
            | LayerSpec::MaxPool2d { kernel: 0, .. }
            | LayerSpec::AvgPool2d { kernel: 0, .. } => {
                return fail(key("kernel"), "must be at least 1".into());
            }
            _ => {}
        }
    }
    if let Some((key, message)) = stateful_problem(c) {
        return fail(key, message);
    }
    if let Some(es) = &c.training.early_stopping
        && es.patience == 0
    {
        return fail(
            "training.early_stopping.patience".into(),
            "must be at least 1".into(),
        );
    }
    Ok(())
}

/// What keeps a model with a stateful recurrent layer from reading its data, if anything:
/// the key and the message. Such a model reads a text as contiguous streams, one window
/// after another with its state carried (and `generate` one character at a time), so the
/// data must be a text cut into consecutive windows and every layer must work step by step.
fn stateful_problem(c: &Config) -> Option<(String, String)> {
    if !c.model.stateful() {
        return None;
    }
    for (i, layer) in c.model.layers.iter().enumerate() {
        let offending = match layer {
            LayerSpec::Rnn(r) | LayerSpec::Lstm(r) | LayerSpec::Gru(r) => {
                if r.stateful && c.data.dataset != DatasetKind::Text {
                    return Some((
                        format!("model.layers[{i}].stateful"),
                        "carries the state from one batch to the next, which needs \
                         dataset = \"text\" (read as contiguous streams)"
                            .into(),
                    ));
                }
                (r.output == super::SequenceOutput::Last).then_some(" with output = \"last\"")
            }
            LayerSpec::Embedding { .. }
            | LayerSpec::Linear { .. }
            | LayerSpec::Dropout { .. }
            | LayerSpec::Activation { .. }
            | LayerSpec::LayerNorm => None,
            _ => Some(""),
        };
        if let Some(how) = offending {
            return Some((
                format!("model.layers[{i}]"),
                format!(
                    "a model with a stateful layer reads its text one step after another, so \
                     its layers must work step by step (embedding, rnn, lstm or gru with \
                     output = \"sequence\", linear, dropout, activation, layer_norm), got {}{how}",
                    layer.kind()
                ),
            ));
        }
    }
    match (c.data.stride, c.model.input.first()) {
        (Some(stride), Some(&steps)) if stride != steps => Some((
            "data.stride".into(),
            format!(
                "a stateful recurrent layer reads the text as contiguous streams, one window of \
                 model.input = {steps} characters after another: leave stride out or set it to \
                 {steps}, got {stride}"
            ),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[data]
dataset = "mnist"
path = "data/mnist"

[model]
input = [784]
layers = [
  { type = "linear", out = 32, activation = "relu" },
  { type = "dropout", p = 0.2 },
  { type = "linear", out = 10 },
]

[optimizer]
name = "adam"
lr = 1e-3
"#;

    fn error(text: &str, overrides: &[&str]) -> String {
        let o: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        parse(text, "c.toml", &o).unwrap_err().to_string()
    }

    #[test]
    fn a_good_config_reads_with_defaults() {
        let c = parse(GOOD, "c.toml", &[]).unwrap();
        assert_eq!(c.model.layers.len(), 3);
        assert_eq!(c.training.epochs, 10);
        assert_eq!(c.training.batch_size, 64);
        assert_eq!(c.output.dir, "runs");
        assert!(!c.training.sync_batch_norm);
        let c = parse(GOOD, "c.toml", &["training.sync_batch_norm=true".into()]).unwrap();
        assert!(c.training.sync_batch_norm);
    }

    #[test]
    fn errors_name_the_key_path_line_and_column() {
        let bad = GOOD.replace("activation = \"relu\"", "activation = \"rleu\"");
        let e = error(&bad, &[]);
        assert!(
            e.starts_with(
                "c.toml: model.layers[0].activation: unknown variant `rleu`, expected one of"
            ),
            "{e}"
        );
        assert!(
            e.contains("`relu`") && e.contains("`leaky_relu`") && e.contains("`sigmoid`"),
            "{e}"
        );
        assert!(e.ends_with("(line 9, column 45)"), "{e}");
        let e = error(
            &GOOD.replace("lr = 1e-3", "lr = 1e-3\nlearning_rate = 2"),
            &[],
        );
        assert!(
            e.contains("optimizer.learning_rate: unknown field `learning_rate`"),
            "{e}"
        );
        assert!(e.contains("(line 17, column 1)"), "{e}");
        let e = error(&GOOD.replace("lr = 1e-3", "lr = \"fast\""), &[]);
        assert!(
            e.contains("optimizer.lr: invalid type: string \"fast\", expected f64"),
            "{e}"
        );
        let e = error(&GOOD.replace("[model]", "[model"), &[]);
        assert!(e.contains("(syntax)") && e.contains("line 6"), "{e}");
        let e = error(&GOOD.replace("lr = 1e-3", "lr = -1.0"), &[]);
        assert_eq!(
            e,
            "c.toml: optimizer.lr: must be a number > 0, got -1 (line 16, column 1)"
        );
        let e = error(&GOOD.replace("p = 0.2", "p = 1.5"), &[]);
        assert_eq!(
            e,
            "c.toml: model.layers[1].p: must be in [0, 1), got 1.5 (line 10, column 23)"
        );
        let e = error(
            &format!(
                "{GOOD}\n[training]\nearly_stopping = {{ monitor = \"val_loss\", patience = 0 }}\n"
            ),
            &[],
        );
        assert!(
            e.ends_with(
                "training.early_stopping.patience: must be at least 1 (line 19, column 42)"
            ),
            "{e}"
        );
    }

    #[test]
    fn overrides_are_checked_like_the_file() {
        let c = parse(
            GOOD,
            "c.toml",
            &[
                "optimizer.lr=3e-4".into(),
                "training.epochs=2".into(),
                "model.layers[0].out=64".into(),
            ],
        )
        .unwrap();
        assert_eq!(c.optimizer.lr, 3e-4);
        assert_eq!(c.training.epochs, 2);
        assert!(matches!(
            c.model.layers[0],
            LayerSpec::Linear { out: Some(64), .. }
        ));
        let c = parse(GOOD, "c.toml", &["output.name=quick".into()]).unwrap();
        assert_eq!(c.output.name.as_deref(), Some("quick"));
        let e = error(GOOD, &["optimizer.lrr=1"]);
        assert!(
            e.contains("optimizer.lrr: unknown field `lrr`") && e.ends_with("(after --set)"),
            "{e}"
        );
        let e = error(GOOD, &["optimizer.lr=0"]);
        assert_eq!(
            e,
            "c.toml: optimizer.lr: must be a number > 0, got 0 (from --set)"
        );
        assert!(error(GOOD, &["optimizer.lr"]).contains("expected KEY=VALUE"));
        assert!(error(GOOD, &["model.layers[7].out=3"]).contains("layers has 3 element(s), no [7]"));
    }

    #[test]
    fn a_stateful_layer_needs_text_read_as_streams() {
        let text = |extra: &str| {
            format!(
                "[data]\ndataset = \"text\"\npath = \"t.txt\"\n{extra}\n[model]\ninput = [16]\n\
                 layers = [{{ type = \"embedding\", dim = 4 }}, \
                 {{ type = \"lstm\", hidden = 8, output = \"sequence\", stateful = true }}, \
                 {{ type = \"linear\" }}]\n"
            )
        };
        let c = parse(&text(""), "c.toml", &[]).unwrap();
        assert!(c.model.stateful());
        assert!(parse(&text("stride = 16"), "c.toml", &[]).is_ok());
        let e = error(&text("stride = 4"), &[]);
        assert!(
            e.starts_with("c.toml: data.stride: a stateful recurrent layer reads the text as contiguous streams")
                && e.contains("set it to 16, got 4"),
            "{e}"
        );
        let e = error(&text("").replace("\"text\"", "\"timeseries\""), &[]);
        assert!(
            e.starts_with("c.toml: model.layers[1].stateful: carries the state")
                && e.contains("needs dataset = \"text\""),
            "{e}"
        );
        let e = error(&text("").replace("\"sequence\"", "\"last\""), &[]);
        assert!(
            e.contains("model.layers[1]: a model with a stateful layer reads its text one step")
                && e.ends_with("got lstm with output = \"last\""),
            "{e}"
        );
        let attention = text("").replace(
            "{ type = \"linear\" }",
            "{ type = \"attention\", heads = 2 }, { type = \"linear\" }",
        );
        assert!(error(&attention, &[]).contains("model.layers[2]: a model with a stateful layer"));
        assert!(!parse(GOOD, "c.toml", &[]).unwrap().model.stateful());
    }
}
