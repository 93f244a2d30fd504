//! Cargo manifests: reading them, and the workspace's shared tables and
//! inherited dependencies resolved for a project outside the workspace.

use anyhow::{Context, Result, bail};
use std::path::Path;
use toml::{Table, Value};

/// The TOML file at `path`, parsed.
pub fn read_toml(path: &Path) -> Result<Table> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    text.parse()
        .with_context(|| format!("{} is not valid TOML", path.display()))
}

/// A table the workspace manifest shares with its members
/// (`[workspace.<key>]`), empty when it has none.
pub fn shared(workspace: &Table, key: &str) -> Table {
    workspace
        .get("workspace")
        .and_then(|w| w.get(key))
        .and_then(Value::as_table)
        .cloned()
        .unwrap_or_default()
}

/// Turns a dependency of the hidden suite into one the scratch project can
/// use: workspace inheritance resolved, relative paths made absolute.
pub fn resolve_dep(
    name: &str,
    spec: &Value,
    shared: &Table,
    root: &Path,
    suite: &Path,
) -> Result<Value> {
    let inherits = spec.get("workspace").and_then(Value::as_bool) == Some(true);
    if !inherits {
        return Ok(absolute_paths(spec.clone(), suite));
    }
    let base = shared.get(name).with_context(|| {
        format!("dependency `{name}` inherits from the workspace, which does not declare it")
    })?;
    let mut table = match base {
        Value::String(version) => {
            let mut t = Table::new();
            t.insert("version".into(), Value::from(version.clone()));
            t
        }
        Value::Table(t) => t.clone(),
        other => bail!("unexpected workspace dependency `{name}` = {other}"),
    };
    if let Some(extra) = spec.get("features").and_then(Value::as_array) {
        let features = table
            .entry("features")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = features {
            list.extend(extra.iter().cloned());
        }
    }
    Ok(absolute_paths(Value::Table(table), root))
}

fn absolute_paths(mut spec: Value, base: &Path) -> Value {
    if let Some(table) = spec.as_table_mut() {
        if let Some(Value::String(path)) = table.get("path") {
            let absolute = abs(base, path);
            table.insert("path".into(), Value::from(absolute));
        }
    }
    spec
}

/// `path` (from a manifest) below `base`, as a string.
pub fn abs(base: &Path, path: &str) -> String {
    base.join(path).display().to_string()
}
