//! The specifications a supergraph `@link`s, and which of them this router understands.

use apollo_compiler::Schema;
use apollo_compiler::ast::Value;

use super::SupergraphError;

/// One `@link` on the schema definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub url: String,
    /// The specification's name, e.g. `join`.
    pub name: String,
    pub major: u32,
    pub minor: u32,
    /// The prefix of its elements in this schema (`as:`, or the name).
    pub namespace: String,
    /// `for:`: EXECUTION and SECURITY features must be understood to serve the supergraph.
    pub purpose: Option<String>,
    /// Names imported without prefix (`import: ["@key", ...]`), with the `@` removed, as they
    /// are called in this schema.
    pub imports: Vec<String>,
    /// Imports given another name (`{ name: "@key", as: "@myKey" }`): (specification name,
    /// local name).
    pub renamed: Vec<(String, String)>,
}

impl Link {
    /// What the specification's element `element` (a directive or type name, without `@`) is
    /// called in this schema.
    pub fn local_name(&self, element: &str) -> String {
        if let Some((_, local)) = self.renamed.iter().find(|(name, _)| name == element) {
            local.clone()
        } else if self.imports.iter().any(|i| i == element) {
            element.to_owned()
        } else if element == self.name {
            self.namespace.clone()
        } else {
            format!("{}__{element}", self.namespace)
        }
    }
}

/// The links of a supergraph.
#[derive(Debug, Clone)]
pub struct Links {
    pub all: Vec<Link>,
}

impl Links {
    pub fn get(&self, name: &str) -> Option<&Link> {
        self.all.iter().find(|l| l.name == name)
    }

    /// Namespace of the join specification (normally `join`).
    pub fn join(&self) -> &str {
        self.get("join").map_or("join", |l| l.namespace.as_str())
    }

    /// The name `@context` has in this schema, when the context specification is linked.
    pub fn context(&self) -> Option<String> {
        self.get("context").map(|l| l.local_name("context"))
    }

    /// The name `@inaccessible` has in this schema, when linked.
    pub fn inaccessible(&self) -> Option<String> {
        self.get("inaccessible").map(|l| {
            if l.imports.iter().any(|i| i == "inaccessible") {
                "inaccessible".to_owned()
            } else {
                l.namespace.clone()
            }
        })
    }
}

/// Specifications this router knows, with the versions it supports (major, highest minor).
const KNOWN: &[(&str, u32, u32)] = &[
    ("link", 1, 0),
    ("join", 0, 5),
    ("inaccessible", 0, 2),
    ("tag", 0, 3),
    ("authenticated", 0, 1),
    ("requiresScopes", 0, 1),
    ("policy", 0, 1),
    ("cost", 0, 1),
    ("context", 0, 1),
];

fn string_arg<'a>(directive: &'a apollo_compiler::ast::Directive, name: &str) -> Option<&'a str> {
    match directive
        .specified_argument_by_name(name)
        .map(|v| v.as_ref())
    {
        Some(Value::String(s)) => Some(s.as_str()),
        Some(Value::Enum(e)) => Some(e.as_str()),
        _ => None,
    }
}

fn parse_url(url: &str) -> Option<(String, u32, u32)> {
    let mut parts = url.trim_end_matches('/').rsplit('/');
    let version = parts.next()?.strip_prefix('v')?;
    let name = parts.next()?.to_owned();
    let (major, minor) = version.split_once('.')?;
    Some((name, major.parse().ok()?, minor.parse().ok()?))
}

/// Reads and checks the schema's links.
pub fn read(schema: &Schema) -> Result<Links, SupergraphError> {
    let mut all = Vec::new();
    for directive in schema.schema_definition.directives.get_all("link") {
        let url = string_arg(directive, "url")
            .ok_or_else(|| SupergraphError::Malformed("@link without a url".to_owned()))?
            .to_owned();
        let (name, major, minor) = parse_url(&url).ok_or_else(|| {
            SupergraphError::Malformed(format!("@link url {url} has no name/vX.Y"))
        })?;
        let mut imports = Vec::new();
        let mut renamed = Vec::new();
        if let Some(Value::List(items)) = directive
            .specified_argument_by_name("import")
            .map(|v| v.as_ref())
        {
            for item in items {
                match item.as_ref() {
                    Value::String(s) => imports.push(s.trim_start_matches('@').to_owned()),
                    Value::Object(fields) => {
                        let text = |key: &str| {
                            fields.iter().find(|(k, _)| k == key).and_then(|(_, v)| {
                                match v.as_ref() {
                                    Value::String(s) => Some(s.trim_start_matches('@').to_owned()),
                                    _ => None,
                                }
                            })
                        };
                        let Some(name) = text("name") else { continue };
                        let local = text("as").unwrap_or_else(|| name.clone());
                        imports.push(local.clone());
                        renamed.push((name, local));
                    }
                    _ => {}
                }
            }
        }
        let namespace = string_arg(directive, "as").unwrap_or(&name).to_owned();
        let purpose = string_arg(directive, "for").map(str::to_owned);
        all.push(Link {
            url,
            name,
            major,
            minor,
            namespace,
            purpose,
            imports,
            renamed,
        });
    }
    for required in ["link", "join"] {
        if !all.iter().any(|l| l.name == required) {
            return Err(SupergraphError::MissingSpec(required));
        }
    }
    for link in &all {
        match KNOWN.iter().find(|(name, _, _)| *name == link.name) {
            Some((_, major, max_minor)) if link.major == *major && link.minor <= *max_minor => {}
            Some((_, major, max_minor)) => {
                return Err(SupergraphError::UnsupportedSpec {
                    url: link.url.clone(),
                    reason: format!("supported versions are v{major}.0 to v{major}.{max_minor}"),
                });
            }
            None if link.purpose.is_some() => {
                return Err(SupergraphError::UnsupportedSpec {
                    url: link.url.clone(),
                    reason: format!(
                        "it is linked for {} and this router does not know it",
                        link.purpose.as_deref().unwrap_or_default()
                    ),
                });
            }
            // Unknown metadata specifications do not change execution.
            None => {}
        }
    }
    if let Some(join) = all.iter().find(|l| l.name == "join")
        && join.minor < 2
    {
        return Err(SupergraphError::UnsupportedSpec {
            url: join.url.clone(),
            reason: "join v0.1 is Federation 1; compose with Federation v2".to_owned(),
        });
    }
    Ok(Links { all })
}
