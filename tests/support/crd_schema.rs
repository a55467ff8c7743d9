//! Offline Kubernetes CRD validation for integration tests.
//!
//! Loads `CustomResourceDefinition` YAML (the vendored upstream CRDs in
//! `../shared/vendor-crds`, or our own generated ones) and checks objects the
//! way the API server would on *create*:
//!
//! 1. nulls of non-nullable fields are dropped, then `default`s are applied
//!    (k8s defaulting runs before validation, and CEL rules such as upjet's
//!    `'*' in self.managementPolicies` depend on it);
//! 2. structural-schema checks: `type`, `required`, `enum`, `pattern`,
//!    `format` (the string formats k8s validates), min/max length, items,
//!    properties and value, `multipleOf`, list-type `set`/`map` uniqueness,
//!    `nullable`, `x-kubernetes-int-or-string`, `x-kubernetes-embedded-resource`,
//!    `anyOf`/`oneOf`/`allOf`/`not`;
//! 3. unknown fields are violations (what `kubectl apply --validate=strict`
//!    / `fieldValidation=Strict` reports instead of silently pruning);
//! 4. `metadata` (never described by CRD schemas) is checked as ObjectMeta;
//! 5. `x-kubernetes-validations` CEL rules, evaluated with the `cel` crate
//!    plus the Kubernetes CEL libraries we need (see [`K8S_FUNCTIONS`]).
//!    Transition rules (those that mention `oldSelf`) do not apply on create.
//!
//! Every CEL rule is compiled and statically checked when a CRD is loaded:
//! parse errors, functions the evaluator does not provide, unknown variables
//! and `self.<field>` selections of fields the schema does not declare all
//! make the rule "broken". A broken rule that is not listed in
//! [`UNSUPPORTED_RULES`] yields a violation for every object it applies to:
//! nothing is skipped silently. [`SchemaSet::rule_survey`] lists them all.
//!
//! Include it in an integration test with
//! `#[path = "support/crd_schema.rs"] mod crd_schema;`, then
//! `crd_schema::vendor_crds().assert_valid(&object)`.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use cel::common::ast::{EntryExpr, Expr, IdedExpr};
use cel::extractors::This;
use cel::{Context, Env, ExecutionError, FunctionContext, Program};
use regex::Regex;
use serde_json::Value as Json;

/// CEL rules the evaluator deliberately does not run, as `(rule, reason)`.
/// A rule listed here is reported by [`SchemaSet::rule_survey`] as allowlisted
/// and skipped during validation; every other rule must compile and evaluate.
///
/// Empty today: every rule in the vendored CRDs compiles with the functions
/// this module provides. Add an entry only with a reason a reviewer can check.
pub const UNSUPPORTED_RULES: &[(&str, &str)] = &[];

/// Kubernetes CEL library functions this module adds on top of the `cel`
/// crate's standard library and its `strings` and `lists` extensions.
/// IP and CIDR values are represented as their (canonical) strings, so
/// `cidr('10.0.0.0/16').containsIP('10.0.1.1')` and
/// `cidr(self.cidr).prefixLength() <= 24` work as in Kubernetes.
pub const K8S_FUNCTIONS: &[&str] = &[
    // regex library
    "find",
    "findAll",
    // URL library
    "isURL",
    "url",
    "getScheme",
    "getHost",
    "getHostname",
    "getPort",
    "getEscapedPath",
    // IP and CIDR libraries
    "isIP",
    "ip",
    "family",
    "isUnspecified",
    "isLoopback",
    "isLinkLocalMulticast",
    "isLinkLocalUnicast",
    "isGlobalUnicast",
    "isCIDR",
    "cidr",
    "containsIP",
    "containsCIDR",
    "prefixLength",
    "masked",
    // lists library
    "isSorted",
    "sum",
];

/// `../shared/vendor-crds`, beside the repository.
pub fn vendor_crds_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/vendor-crds");
    if !dir.is_dir() {
        panic!(
            "../shared/vendor-crds is missing: these tests need the shared/ folder beside the repository (looked for {})",
            dir.display()
        );
    }
    dir
}

/// The vendored upstream CRDs, loaded once per test binary.
pub fn vendor_crds() -> &'static SchemaSet {
    static SET: OnceLock<SchemaSet> = OnceLock::new();
    SET.get_or_init(|| {
        let dir = vendor_crds_dir();
        SchemaSet::load_dir(&dir)
            .unwrap_or_else(|e| panic!("loading CRDs from {}: {e}", dir.display()))
    })
}

/// The CRDs of everything the function composes: the vendored upstream ones
/// and this project's provider's own (`package/provider/crds`).
pub fn composed_crds() -> &'static SchemaSet {
    static SET: OnceLock<SchemaSet> = OnceLock::new();
    SET.get_or_init(|| {
        let dir = vendor_crds_dir();
        let mut set = SchemaSet::load_dir(&dir)
            .unwrap_or_else(|e| panic!("loading CRDs from {}: {e}", dir.display()));
        let ours = Path::new(env!("CARGO_MANIFEST_DIR")).join("package/provider/crds");
        let added = set
            .add_dir(&ours)
            .unwrap_or_else(|e| panic!("loading CRDs from {}: {e}", ours.display()));
        assert!(added > 0, "no CRDs in {}", ours.display());
        set
    })
}

/// One problem found in an object: where (`spec.forProvider.region`) and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Dotted path from the object's root; map keys and list indexes in brackets.
    /// Empty for the object itself.
    pub path: String,
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() {
            "<object>"
        } else {
            &self.path
        };
        write!(f, "{path}: {}", self.message)
    }
}

/// One violation per line, for assertion messages.
pub fn report(violations: &[Violation]) -> String {
    violations.iter().map(|v| format!("  - {v}\n")).collect()
}

/// Where a CEL rule lives and how it fared when its CRD was loaded.
#[derive(Clone, Debug)]
pub struct RuleSite {
    /// `<file> <group>/<version> <Kind> <schema path>`.
    pub location: String,
    pub rule: String,
    pub status: RuleStatus,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleStatus {
    /// Compiles and is evaluated on create.
    Evaluated,
    /// Compiles; mentions `oldSelf`, so it only applies to updates.
    TransitionOnly,
    /// Listed in [`UNSUPPORTED_RULES`] with this reason.
    Allowlisted(String),
    /// Neither compiles nor is allowlisted: every object it applies to gets a violation.
    Broken(String),
}

/// Counts of [`SchemaSet::rule_survey`].
#[derive(Debug)]
pub struct RuleSurvey<'a> {
    pub total: usize,
    pub evaluated: usize,
    pub transition_only: usize,
    pub allowlisted: Vec<&'a RuleSite>,
    pub broken: Vec<&'a RuleSite>,
}

/// `(group, version, kind)` -> schema, for every served version of every CRD loaded.
pub struct SchemaSet {
    env: Arc<Env>,
    crds: HashMap<(String, String, String), Crd>,
    rule_sites: Vec<RuleSite>,
    regexes: HashMap<String, Result<Arc<Regex>, String>>,
    known_functions: HashMap<String, bool>,
}

struct Crd {
    source: String,
    namespaced: bool,
    schema: Schema,
}

impl Default for SchemaSet {
    fn default() -> Self {
        Self::new()
    }
}

impl SchemaSet {
    pub fn new() -> Self {
        let mut env = Env::stdlib();
        env.add_extension(cel::extensions::strings)
            .expect("cel strings extension registers");
        env.add_extension(cel::extensions::lists)
            .expect("cel lists extension registers");
        SchemaSet {
            env: Arc::new(env),
            crds: HashMap::new(),
            rule_sites: Vec::new(),
            regexes: HashMap::new(),
            known_functions: HashMap::new(),
        }
    }

    /// Every CRD in the `*.yaml` / `*.yml` files of `dir` (not recursive).
    pub fn load_dir(dir: impl AsRef<Path>) -> Result<Self, String> {
        let mut set = Self::new();
        set.add_dir(dir)?;
        Ok(set)
    }

    /// Every CRD in one (possibly multi-document) YAML file.
    pub fn load_file(path: impl AsRef<Path>) -> Result<Self, String> {
        let mut set = Self::new();
        set.add_file(path)?;
        Ok(set)
    }

    /// Adds the CRDs of a directory; returns how many CRDs were added.
    pub fn add_dir(&mut self, dir: impl AsRef<Path>) -> Result<usize, String> {
        let dir = dir.as_ref();
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| format!("reading {}: {e}", dir.display()))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
            .collect();
        files.sort();
        let mut added = 0;
        for file in files {
            added += self.add_file(&file)?;
        }
        Ok(added)
    }

    /// Adds the CRDs of one YAML file; other kinds of documents are ignored.
    pub fn add_file(&mut self, path: impl AsRef<Path>) -> Result<usize, String> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        self.add_yaml(&text, &name)
    }

    /// Adds the CRDs of a YAML string; `source` names it in messages.
    pub fn add_yaml(&mut self, yaml: &str, source: &str) -> Result<usize, String> {
        let mut added = 0;
        for (i, doc) in serde_yaml::Deserializer::from_str(yaml).enumerate() {
            let doc: Json = serde::Deserialize::deserialize(doc)
                .map_err(|e| format!("{source}: document {i}: {e}"))?;
            if doc.get("kind").and_then(Json::as_str) == Some("CustomResourceDefinition") {
                self.add_crd(&doc, source)
                    .map_err(|e| format!("{source}: {e}"))?;
                added += 1;
            }
        }
        Ok(added)
    }

    fn add_crd(&mut self, crd: &Json, source: &str) -> Result<(), String> {
        let spec = crd.get("spec").ok_or("CRD without spec")?;
        let group = spec
            .get("group")
            .and_then(Json::as_str)
            .ok_or("CRD without spec.group")?;
        let kind = spec
            .pointer("/names/kind")
            .and_then(Json::as_str)
            .ok_or("CRD without spec.names.kind")?;
        let namespaced = spec.get("scope").and_then(Json::as_str) != Some("Cluster");
        let versions = spec
            .get("versions")
            .and_then(Json::as_array)
            .ok_or("CRD without spec.versions")?;
        for version in versions {
            let name = version
                .get("name")
                .and_then(Json::as_str)
                .ok_or("CRD version without name")?;
            if version.get("served").and_then(Json::as_bool) == Some(false) {
                continue;
            }
            let raw = version
                .pointer("/schema/openAPIV3Schema")
                .or_else(|| spec.pointer("/validation/openAPIV3Schema"))
                .ok_or_else(|| format!("{kind} {name}: no openAPIV3Schema"))?;
            let location = format!("{source} {group}/{name} {kind}");
            let schema = self.parse_schema(raw, &location, "");
            self.crds.insert(
                (group.to_string(), name.to_string(), kind.to_string()),
                Crd {
                    source: source.to_string(),
                    namespaced,
                    schema,
                },
            );
        }
        Ok(())
    }

    /// `(apiVersion, kind)` of every schema loaded, sorted.
    pub fn kinds(&self) -> Vec<(String, String)> {
        let mut kinds: Vec<_> = self
            .crds
            .keys()
            .map(|(g, v, k)| (format!("{g}/{v}"), k.clone()))
            .collect();
        kinds.sort();
        kinds
    }

    pub fn contains(&self, api_version: &str, kind: &str) -> bool {
        let (group, version) = split_api_version(api_version);
        self.crds
            .contains_key(&(group.to_string(), version.to_string(), kind.to_string()))
    }

    /// Every `x-kubernetes-validations` rule of every schema loaded.
    pub fn rule_sites(&self) -> &[RuleSite] {
        &self.rule_sites
    }

    /// `(pattern, error)` for every schema `pattern` the `regex` crate cannot
    /// compile (Kubernetes uses Go's RE2; the two agree on nearly everything).
    pub fn pattern_errors(&self) -> Vec<(String, String)> {
        let mut errors: Vec<(String, String)> = self
            .regexes
            .iter()
            .filter_map(|(pattern, compiled)| {
                compiled
                    .as_ref()
                    .err()
                    .map(|e| (pattern.clone(), e.clone()))
            })
            .collect();
        errors.sort();
        errors
    }

    /// How many distinct `pattern`s the loaded schemas use.
    pub fn pattern_count(&self) -> usize {
        self.regexes.len()
    }

    pub fn rule_survey(&self) -> RuleSurvey<'_> {
        let mut survey = RuleSurvey {
            total: self.rule_sites.len(),
            evaluated: 0,
            transition_only: 0,
            allowlisted: Vec::new(),
            broken: Vec::new(),
        };
        for site in &self.rule_sites {
            match &site.status {
                RuleStatus::Evaluated => survey.evaluated += 1,
                RuleStatus::TransitionOnly => survey.transition_only += 1,
                RuleStatus::Allowlisted(_) => survey.allowlisted.push(site),
                RuleStatus::Broken(_) => survey.broken.push(site),
            }
        }
        survey
    }

    /// Validates `object` as the API server would on create, against the CRD
    /// matching its `apiVersion` and `kind`. Returns every violation found.
    pub fn validate(&self, object: &Json) -> Result<(), Vec<Violation>> {
        let fail = |message: String| {
            Err(vec![Violation {
                path: String::new(),
                message,
            }])
        };
        let Some(root) = object.as_object() else {
            return fail(format!("expected an object, got {}", json_type(object)));
        };
        let api_version = root
            .get("apiVersion")
            .and_then(Json::as_str)
            .unwrap_or_default();
        let kind = root.get("kind").and_then(Json::as_str).unwrap_or_default();
        if api_version.is_empty() || kind.is_empty() {
            return fail("apiVersion and kind must be non-empty strings".to_string());
        }
        let (group, version) = split_api_version(api_version);
        let Some(crd) = self
            .crds
            .get(&(group.to_string(), version.to_string(), kind.to_string()))
        else {
            return fail(format!("no CRD for {api_version}/{kind}"));
        };

        let mut object = object.clone();
        let mut nulls_dropped = Vec::new();
        apply_defaults(&mut object, &crd.schema, "", &mut nulls_dropped);

        let cel = new_cel_context(&self.env);
        let mut walker = Walker {
            cel: Some(&cel),
            nulls_dropped: &nulls_dropped,
            violations: Vec::new(),
        };
        walker.resource_root(&object, &crd.schema, "", Some(crd.namespaced));
        if walker.violations.is_empty() {
            Ok(())
        } else {
            Err(walker.violations)
        }
    }

    /// Panics with every violation (and the CRD file it came from) unless `object` is valid.
    pub fn assert_valid(&self, object: &Json) {
        if let Err(violations) = self.validate(object) {
            let api_version = object
                .get("apiVersion")
                .and_then(Json::as_str)
                .unwrap_or("?");
            let kind = object.get("kind").and_then(Json::as_str).unwrap_or("?");
            let name = object
                .pointer("/metadata/name")
                .or_else(|| object.pointer("/metadata/generateName"))
                .and_then(Json::as_str)
                .unwrap_or("<unnamed>");
            let (group, version) = split_api_version(api_version);
            let source = self
                .crds
                .get(&(group.to_string(), version.to_string(), kind.to_string()))
                .map_or(String::new(), |crd| {
                    format!(" (schema from {})", crd.source)
                });
            panic!(
                "{api_version} {kind} {name} is not valid{source}:\n{}",
                report(&violations)
            );
        }
    }

    // ----- schema parsing -------------------------------------------------

    fn parse_schema(&mut self, raw: &Json, location: &str, path: &str) -> Schema {
        let str_of = |k: &str| raw.get(k).and_then(Json::as_str).map(str::to_string);
        let u64_of = |k: &str| raw.get(k).and_then(Json::as_u64);
        let f64_of = |k: &str| raw.get(k).and_then(Json::as_f64);
        let bool_of = |k: &str| raw.get(k).and_then(Json::as_bool).unwrap_or(false);

        let mut schema = Schema {
            ty: str_of("type"),
            format: str_of("format"),
            required: raw
                .get("required")
                .and_then(Json::as_array)
                .map(|r| {
                    r.iter()
                        .filter_map(Json::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            enum_values: raw.get("enum").and_then(Json::as_array).cloned(),
            default: raw.get("default").cloned(),
            pattern: None,
            min_length: u64_of("minLength"),
            max_length: u64_of("maxLength"),
            min_items: u64_of("minItems"),
            max_items: u64_of("maxItems"),
            min_properties: u64_of("minProperties"),
            max_properties: u64_of("maxProperties"),
            minimum: f64_of("minimum"),
            maximum: f64_of("maximum"),
            exclusive_minimum: bool_of("exclusiveMinimum"),
            exclusive_maximum: bool_of("exclusiveMaximum"),
            multiple_of: f64_of("multipleOf"),
            unique_items: bool_of("uniqueItems"),
            nullable: bool_of("nullable"),
            preserve_unknown: bool_of("x-kubernetes-preserve-unknown-fields"),
            int_or_string: bool_of("x-kubernetes-int-or-string"),
            embedded: bool_of("x-kubernetes-embedded-resource"),
            list_type: str_of("x-kubernetes-list-type"),
            list_map_keys: raw
                .get("x-kubernetes-list-map-keys")
                .and_then(Json::as_array)
                .map(|r| {
                    r.iter()
                        .filter_map(Json::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            properties: BTreeMap::new(),
            additional: None,
            items: None,
            any_of: Vec::new(),
            one_of: Vec::new(),
            all_of: Vec::new(),
            not: None,
            rules: Vec::new(),
        };
        if let Some(pattern) = raw.get("pattern").and_then(Json::as_str) {
            let compiled = self
                .regexes
                .entry(pattern.to_string())
                .or_insert_with(|| Regex::new(pattern).map(Arc::new).map_err(|e| e.to_string()))
                .clone();
            schema.pattern = Some((pattern.to_string(), compiled));
        }
        if let Some(props) = raw.get("properties").and_then(Json::as_object) {
            for (name, sub) in props {
                let sub = self.parse_schema(sub, location, &join_field(path, name));
                schema.properties.insert(name.clone(), sub);
            }
        }
        match raw.get("additionalProperties") {
            Some(Json::Bool(true)) => schema.additional = Some(Additional::Any),
            Some(sub @ Json::Object(_)) => {
                let sub = self.parse_schema(sub, location, &format!("{path}[*]"));
                schema.additional = Some(Additional::Schema(Box::new(sub)));
            }
            _ => {}
        }
        if let Some(items) = raw.get("items").filter(|i| i.is_object()) {
            schema.items = Some(Box::new(self.parse_schema(
                items,
                location,
                &format!("{path}[*]"),
            )));
        }
        for (key, target) in [("anyOf", 0), ("oneOf", 1), ("allOf", 2)] {
            let branches: Vec<Schema> = raw
                .get(key)
                .and_then(Json::as_array)
                .map(|bs| {
                    bs.iter()
                        .map(|b| self.parse_schema(b, location, path))
                        .collect()
                })
                .unwrap_or_default();
            match target {
                0 => schema.any_of = branches,
                1 => schema.one_of = branches,
                _ => schema.all_of = branches,
            }
        }
        if let Some(not) = raw.get("not").filter(|n| n.is_object()) {
            schema.not = Some(Box::new(self.parse_schema(not, location, path)));
        }
        if let Some(rules) = raw.get("x-kubernetes-validations").and_then(Json::as_array) {
            for rule in rules {
                let compiled = self.compile_rule(rule, &schema);
                let status = match &compiled.program {
                    // optionalOldSelf rules also run on create, with oldSelf = optional.none()
                    Compiled::Program { transition, .. }
                        if !*transition || compiled.optional_old_self =>
                    {
                        RuleStatus::Evaluated
                    }
                    Compiled::Program { .. } => RuleStatus::TransitionOnly,
                    Compiled::Allowlisted(reason) => RuleStatus::Allowlisted(reason.clone()),
                    Compiled::Broken(error) => RuleStatus::Broken(error.clone()),
                };
                self.rule_sites.push(RuleSite {
                    location: format!(
                        "{location} {}",
                        if path.is_empty() { "<root>" } else { path }
                    ),
                    rule: compiled.rule.clone(),
                    status,
                });
                schema.rules.push(compiled);
            }
        }
        schema
    }

    fn compile_rule(&mut self, raw: &Json, node: &Schema) -> Rule {
        let text = |k: &str| raw.get(k).and_then(Json::as_str).map(str::to_string);
        let rule_text = text("rule").unwrap_or_default();
        let mut rule = Rule {
            rule: rule_text.clone(),
            message: text("message"),
            message_expression: None,
            field_path: text("fieldPath"),
            optional_old_self: raw
                .get("optionalOldSelf")
                .and_then(Json::as_bool)
                .unwrap_or(false),
            program: Compiled::Broken(String::new()),
        };
        if let Some((_, reason)) = UNSUPPORTED_RULES.iter().find(|(r, _)| *r == rule_text) {
            rule.program = Compiled::Allowlisted(reason.to_string());
            return rule;
        }
        rule.program = match self.check_expression(&rule_text, node) {
            Ok((program, transition)) => Compiled::Program {
                program: Arc::new(program),
                transition,
            },
            Err(error) => Compiled::Broken(error),
        };
        if let Some(expr) = text("messageExpression") {
            match self.check_expression(&expr, node) {
                Ok((program, _)) => rule.message_expression = Some(Arc::new(program)),
                Err(error) => {
                    if !matches!(rule.program, Compiled::Broken(_)) {
                        rule.program =
                            Compiled::Broken(format!("messageExpression {expr:?}: {error}"));
                    }
                }
            }
        }
        rule
    }

    /// Parses `source` and checks what the API server's CEL type checker would
    /// reject: unknown functions and variables, and `self.<field>` selections
    /// the schema does not declare. Returns the program and whether it is a
    /// transition rule (mentions `oldSelf`).
    fn check_expression(&mut self, source: &str, node: &Schema) -> Result<(Program, bool), String> {
        let program = self
            .env
            .compile(source)
            .map_err(|e| format!("parse error: {e}"))?;
        let mut checker = Checker {
            set: self,
            scopes: Vec::new(),
            errors: Vec::new(),
            uses_old_self: false,
            node,
        };
        checker.expr(program.expression());
        let uses_old_self = checker.uses_old_self;
        if checker.errors.is_empty() {
            Ok((program, uses_old_self))
        } else {
            Err(checker.errors.join("; "))
        }
    }

    fn function_known(&mut self, name: &str) -> bool {
        if K8S_FUNCTIONS.contains(&name) {
            return true;
        }
        if let Some(known) = self.known_functions.get(name) {
            return *known;
        }
        // The cel crate has no public "is this declared?" query: adding a
        // context function fails exactly when the environment declares one.
        let mut probe = Context::with_env(self.env.clone());
        let known = probe.add_function(name, |a: i64| a).is_err();
        self.known_functions.insert(name.to_string(), known);
        known
    }
}

fn split_api_version(api_version: &str) -> (&str, &str) {
    api_version.rsplit_once('/').unwrap_or(("", api_version))
}

// ----- the schema model ---------------------------------------------------

struct Schema {
    ty: Option<String>,
    format: Option<String>,
    required: Vec<String>,
    enum_values: Option<Vec<Json>>,
    default: Option<Json>,
    pattern: Option<(String, Result<Arc<Regex>, String>)>,
    min_length: Option<u64>,
    max_length: Option<u64>,
    min_items: Option<u64>,
    max_items: Option<u64>,
    min_properties: Option<u64>,
    max_properties: Option<u64>,
    minimum: Option<f64>,
    maximum: Option<f64>,
    exclusive_minimum: bool,
    exclusive_maximum: bool,
    multiple_of: Option<f64>,
    unique_items: bool,
    nullable: bool,
    preserve_unknown: bool,
    int_or_string: bool,
    embedded: bool,
    list_type: Option<String>,
    list_map_keys: Vec<String>,
    properties: BTreeMap<String, Schema>,
    additional: Option<Additional>,
    items: Option<Box<Schema>>,
    any_of: Vec<Schema>,
    one_of: Vec<Schema>,
    all_of: Vec<Schema>,
    not: Option<Box<Schema>>,
    rules: Vec<Rule>,
}

enum Additional {
    Any,
    Schema(Box<Schema>),
}

struct Rule {
    rule: String,
    message: Option<String>,
    message_expression: Option<Arc<Program>>,
    field_path: Option<String>,
    optional_old_self: bool,
    program: Compiled,
}

enum Compiled {
    Program {
        program: Arc<Program>,
        transition: bool,
    },
    Allowlisted(String),
    Broken(String),
}

impl Schema {
    fn property(&self, name: &str) -> Option<&Schema> {
        self.properties.get(name)
    }

    /// The schema of a map value, if this is a map.
    fn map_values(&self) -> Option<&Schema> {
        match &self.additional {
            Some(Additional::Schema(s)) => Some(s),
            _ => None,
        }
    }

    fn type_name(&self) -> String {
        if self.int_or_string {
            "integer or string".to_string()
        } else {
            self.ty.clone().unwrap_or_else(|| "any".to_string())
        }
    }
}

// ----- defaulting (runs before validation, as in the API server) ------------

fn apply_defaults(value: &mut Json, schema: &Schema, path: &str, nulls_dropped: &mut Vec<String>) {
    match value {
        Json::Object(map) => {
            for (name, prop) in &schema.properties {
                if map.get(name).is_some_and(Json::is_null) && !prop.nullable {
                    // "null values for fields that either don't specify the nullable flag,
                    // or give it a false value, will be pruned before defaulting happens"
                    map.remove(name);
                    nulls_dropped.push(join_field(path, name));
                }
                if let Some(default) = &prop.default
                    && !map.contains_key(name)
                {
                    map.insert(name.clone(), default.clone());
                }
            }
            for (name, child) in map.iter_mut() {
                if let Some(prop) = schema.property(name) {
                    apply_defaults(child, prop, &join_field(path, name), nulls_dropped);
                } else if let Some(values) = schema.map_values() {
                    apply_defaults(child, values, &join_key(path, name), nulls_dropped);
                }
            }
        }
        Json::Array(items) => {
            if let Some(item_schema) = &schema.items {
                for (i, item) in items.iter_mut().enumerate() {
                    apply_defaults(item, item_schema, &format!("{path}[{i}]"), nulls_dropped);
                }
            }
        }
        _ => {}
    }
}

// ----- validation -----------------------------------------------------------

struct Walker<'a, 'c> {
    /// None inside `anyOf`-style branches, where rules are not evaluated.
    cel: Option<&'a Context<'c, 'c>>,
    nulls_dropped: &'a [String],
    violations: Vec<Violation>,
}

/// ObjectMeta fields a client may send.
const OBJECT_META_FIELDS: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "labels",
    "annotations",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "ownerReferences",
    "finalizers",
    "managedFields",
    "selfLink",
];

impl Walker<'_, '_> {
    fn violation(&mut self, path: &str, message: impl Into<String>) {
        self.violations.push(Violation {
            path: path.to_string(),
            message: message.into(),
        });
    }

    /// The root object, or an `x-kubernetes-embedded-resource`: `apiVersion`,
    /// `kind` and `metadata` are implicit there. `namespaced` is known for roots.
    fn resource_root(
        &mut self,
        value: &Json,
        schema: &Schema,
        path: &str,
        namespaced: Option<bool>,
    ) {
        let Some(map) = value.as_object() else {
            self.violation(path, format!("expected object, got {}", json_type(value)));
            return;
        };
        for field in ["apiVersion", "kind"] {
            match map.get(field) {
                Some(Json::String(s)) if !s.is_empty() => {}
                Some(other) if !other.is_string() => self.violation(
                    &join_field(path, field),
                    format!("expected string, got {}", json_type(other)),
                ),
                _ => self.violation(&join_field(path, field), "required field is missing"),
            }
        }
        if let Some(meta) = map.get("metadata") {
            self.object_meta(meta, &join_field(path, "metadata"), namespaced);
        }
        self.node(value, schema, path, true);
    }

    fn object_meta(&mut self, meta: &Json, path: &str, namespaced: Option<bool>) {
        let Some(meta) = meta.as_object() else {
            self.violation(path, format!("expected object, got {}", json_type(meta)));
            return;
        };
        for (key, value) in meta {
            let field_path = join_field(path, key);
            if !OBJECT_META_FIELDS.contains(&key.as_str()) {
                self.violation(
                    &field_path,
                    format!("unknown field \"{key}\" (not an ObjectMeta field)"),
                );
                continue;
            }
            match key.as_str() {
                "labels" | "annotations" => {
                    let Some(entries) = value.as_object() else {
                        self.violation(
                            &field_path,
                            format!("expected map of strings, got {}", json_type(value)),
                        );
                        continue;
                    };
                    for (k, v) in entries {
                        let entry_path = join_key(&field_path, k);
                        if let Err(e) = check_qualified_name(k) {
                            self.violation(&entry_path, format!("invalid key {k:?}: {e}"));
                        }
                        match v {
                            Json::String(s) if key == "labels" => {
                                if let Err(e) = check_label_value(s) {
                                    self.violation(
                                        &entry_path,
                                        format!("invalid label value {s:?}: {e}"),
                                    );
                                }
                            }
                            Json::String(_) => {}
                            other => self.violation(
                                &entry_path,
                                format!("expected string, got {}", json_type(other)),
                            ),
                        }
                    }
                }
                "name" | "namespace" | "generateName" => {
                    let Some(s) = value.as_str() else {
                        self.violation(
                            &field_path,
                            format!("expected string, got {}", json_type(value)),
                        );
                        continue;
                    };
                    let checked = match key.as_str() {
                        "name" => check_dns_subdomain(s),
                        // generateName gets a random suffix appended
                        "generateName" => {
                            check_dns_subdomain(&format!("{}x", s.trim_end_matches('-')))
                        }
                        _ => check_dns_label(s),
                    };
                    if let Err(e) = checked {
                        self.violation(&field_path, format!("invalid {key} {s:?}: {e}"));
                    }
                    if key == "namespace" && namespaced == Some(false) && !s.is_empty() {
                        self.violation(
                            &field_path,
                            "not allowed on this type (the CRD is cluster-scoped)",
                        );
                    }
                }
                "finalizers" => {
                    let ok = value
                        .as_array()
                        .is_some_and(|a| a.iter().all(Json::is_string));
                    if !ok {
                        self.violation(&field_path, "expected list of strings");
                    }
                }
                "ownerReferences" | "managedFields" => {
                    if !value.is_array() {
                        self.violation(
                            &field_path,
                            format!("expected array, got {}", json_type(value)),
                        );
                    }
                }
                "generation" | "deletionGracePeriodSeconds" => {
                    if !is_integer(value) {
                        self.violation(
                            &field_path,
                            format!("expected integer, got {}", json_type(value)),
                        );
                    }
                }
                _ => {
                    if !value.is_string() {
                        self.violation(
                            &field_path,
                            format!("expected string, got {}", json_type(value)),
                        );
                    }
                }
            }
        }
    }

    /// Validates `value` against `schema`. `resource` is set for the root and
    /// embedded resources, whose `apiVersion`/`kind`/`metadata` are handled by
    /// [`Self::resource_root`].
    fn node(&mut self, value: &Json, schema: &Schema, path: &str, resource: bool) {
        if value.is_null() {
            if !schema.nullable && (schema.ty.is_some() || schema.int_or_string) {
                self.violation(path, format!("expected {}, got null", schema.type_name()));
            }
            return;
        }
        if !self.value_checks(value, schema, path) {
            return; // wrong type: children and rules would only add noise
        }

        match value {
            Json::Object(map) => {
                for name in &schema.required {
                    if !map.contains_key(name) {
                        let field_path = join_field(path, name);
                        let message = if self.nulls_dropped.contains(&field_path) {
                            "required field is missing (it was null, and the API server drops nulls of non-nullable fields)"
                        } else {
                            "required field is missing"
                        };
                        self.violation(&field_path, message);
                    }
                }
                for (key, child) in map {
                    if resource && matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                        if key != "metadata"
                            && let Some(prop) = schema.property(key)
                        {
                            self.node(child, prop, &join_field(path, key), false);
                        }
                        continue;
                    }
                    if let Some(prop) = schema.property(key) {
                        let child_path = join_field(path, key);
                        if prop.embedded {
                            self.resource_root(child, prop, &child_path, None);
                        } else {
                            self.node(child, prop, &child_path, false);
                        }
                    } else if let Some(values) = schema.map_values() {
                        self.node(child, values, &join_key(path, key), false);
                    } else if !(schema.preserve_unknown
                        || matches!(schema.additional, Some(Additional::Any)))
                    {
                        let hint = did_you_mean(key, schema.properties.keys());
                        self.violation(
                            &join_field(path, key),
                            format!("unknown field \"{key}\"{hint}"),
                        );
                    }
                }
            }
            Json::Array(items) => {
                if let Some(item_schema) = &schema.items {
                    for (i, item) in items.iter().enumerate() {
                        let item_path = format!("{path}[{i}]");
                        if item_schema.embedded {
                            self.resource_root(item, item_schema, &item_path, None);
                        } else {
                            self.node(item, item_schema, &item_path, false);
                        }
                    }
                }
            }
            _ => {}
        }

        if !schema.rules.is_empty() {
            self.rules(value, schema, path);
        }
    }

    fn branch(&mut self, value: &Json, schema: &Schema, path: &str) {
        if !self.value_checks(value, schema, path) {
            return;
        }
        if let Json::Object(map) = value {
            for name in &schema.required {
                if !map.contains_key(name) {
                    self.violation(&join_field(path, name), "required field is missing");
                }
            }
            for (key, child) in map {
                if let Some(prop) = schema.property(key) {
                    self.branch(child, prop, &join_field(path, key));
                }
            }
        }
        if let (Json::Array(items), Some(item_schema)) = (value, &schema.items) {
            for (i, item) in items.iter().enumerate() {
                self.branch(item, item_schema, &format!("{path}[{i}]"));
            }
        }
    }

    /// Type and value checks of one node (no recursion into children other than
    /// through `anyOf`-style branches). Returns false if the type is wrong.
    fn value_checks(&mut self, value: &Json, schema: &Schema, path: &str) -> bool {
        let type_ok = if schema.int_or_string {
            is_integer(value) || value.is_string()
        } else {
            match schema.ty.as_deref() {
                None => true,
                Some("object") => value.is_object(),
                Some("array") => value.is_array(),
                Some("string") => value.is_string(),
                Some("boolean") => value.is_boolean(),
                Some("integer") => is_integer(value),
                Some("number") => value.is_number(),
                Some(_) => true,
            }
        };
        if !type_ok {
            self.violation(
                path,
                format!("expected {}, got {}", schema.type_name(), json_type(value)),
            );
            return false;
        }

        if let Some(allowed) = &schema.enum_values
            && !allowed.iter().any(|a| json_equal(a, value))
        {
            let list: Vec<String> = allowed.iter().map(Json::to_string).collect();
            self.violation(
                path,
                format!(
                    "unsupported value {value}: must be one of [{}]",
                    list.join(", ")
                ),
            );
        }

        match value {
            Json::String(s) => {
                let len = s.chars().count() as u64;
                if let Some(min) = schema.min_length.filter(|m| len < *m) {
                    self.violation(
                        path,
                        format!("must be at least {min} characters long, got {len}"),
                    );
                }
                if let Some(max) = schema.max_length.filter(|m| len > *m) {
                    self.violation(
                        path,
                        format!("must be at most {max} characters long, got {len}"),
                    );
                }
                match &schema.pattern {
                    Some((pattern, Ok(re))) if !re.is_match(s) => {
                        self.violation(path, format!("{s:?} does not match pattern {pattern:?}"))
                    }
                    Some((pattern, Err(e))) => self.violation(
                        path,
                        format!("schema pattern {pattern:?} does not compile here: {e}"),
                    ),
                    _ => {}
                }
                if let Some(format) = &schema.format
                    && let Err(e) = check_format(format, s)
                {
                    self.violation(path, format!("{s:?} is not a valid {format}: {e}"));
                }
            }
            Json::Number(n) => {
                let x = n.as_f64().unwrap_or(f64::NAN);
                if let Some(min) = schema.minimum
                    && (x < min || (schema.exclusive_minimum && x == min))
                {
                    let op = if schema.exclusive_minimum { ">" } else { ">=" };
                    self.violation(path, format!("must be {op} {min}, got {n}"));
                }
                if let Some(max) = schema.maximum
                    && (x > max || (schema.exclusive_maximum && x == max))
                {
                    let op = if schema.exclusive_maximum { "<" } else { "<=" };
                    self.violation(path, format!("must be {op} {max}, got {n}"));
                }
                if let Some(m) = schema.multiple_of.filter(|m| *m != 0.0) {
                    let q = x / m;
                    if (q - q.round()).abs() > 1e-9 {
                        self.violation(path, format!("must be a multiple of {m}, got {n}"));
                    }
                }
            }
            Json::Array(items) => {
                let len = items.len() as u64;
                if let Some(min) = schema.min_items.filter(|m| len < *m) {
                    self.violation(path, format!("must have at least {min} items, got {len}"));
                }
                if let Some(max) = schema.max_items.filter(|m| len > *m) {
                    self.violation(path, format!("must have at most {max} items, got {len}"));
                }
                match schema.list_type.as_deref() {
                    Some("set") => self.unique_items(items, path, "x-kubernetes-list-type: set"),
                    Some("map") if !schema.list_map_keys.is_empty() => {
                        self.unique_map_keys(items, schema, path)
                    }
                    _ if schema.unique_items => self.unique_items(items, path, "uniqueItems"),
                    _ => {}
                }
            }
            Json::Object(map) => {
                let len = map.len() as u64;
                if let Some(min) = schema.min_properties.filter(|m| len < *m) {
                    self.violation(
                        path,
                        format!("must have at least {min} properties, got {len}"),
                    );
                }
                if let Some(max) = schema.max_properties.filter(|m| len > *m) {
                    self.violation(
                        path,
                        format!("must have at most {max} properties, got {len}"),
                    );
                }
            }
            _ => {}
        }

        if !schema.all_of.is_empty() {
            for branch in &schema.all_of {
                for v in branch_violations(value, branch, path) {
                    self.violations.push(v);
                }
            }
        }
        if !schema.any_of.is_empty() {
            let results: Vec<Vec<Violation>> = schema
                .any_of
                .iter()
                .map(|b| branch_violations(value, b, path))
                .collect();
            if !results.iter().any(Vec::is_empty) {
                let first = results
                    .iter()
                    .flatten()
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
                    .join("; ");
                self.violation(
                    path,
                    format!("must match at least one anyOf schema ({first})"),
                );
            }
        }
        if !schema.one_of.is_empty() {
            let matching = schema
                .one_of
                .iter()
                .filter(|b| branch_violations(value, b, path).is_empty())
                .count();
            if matching != 1 {
                self.violation(
                    path,
                    format!("must match exactly one oneOf schema, matches {matching}"),
                );
            }
        }
        if let Some(not) = &schema.not
            && branch_violations(value, not, path).is_empty()
        {
            self.violation(path, "must not match the schema in \"not\"");
        }
        true
    }

    fn unique_items(&mut self, items: &[Json], path: &str, what: &str) {
        for (i, item) in items.iter().enumerate() {
            if items[..i].iter().any(|earlier| json_equal(earlier, item)) {
                self.violation(
                    &format!("{path}[{i}]"),
                    format!("duplicate value {item} ({what})"),
                );
            }
        }
    }

    fn unique_map_keys(&mut self, items: &[Json], schema: &Schema, path: &str) {
        let key_of = |item: &Json| -> Vec<Json> {
            schema
                .list_map_keys
                .iter()
                .map(|k| item.get(k).cloned().unwrap_or(Json::Null))
                .collect()
        };
        for (i, item) in items.iter().enumerate() {
            let key = key_of(item);
            if items[..i].iter().any(|earlier| key_of(earlier) == key) {
                let shown: Vec<String> = schema
                    .list_map_keys
                    .iter()
                    .zip(&key)
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                self.violation(
                    &format!("{path}[{i}]"),
                    format!("duplicate entry with key ({})", shown.join(", ")),
                );
            }
        }
    }

    fn rules(&mut self, value: &Json, schema: &Schema, path: &str) {
        let Some(cel) = self.cel else { return };
        let self_value = to_cel(value, Some(schema));
        for rule in &schema.rules {
            let program = match &rule.program {
                Compiled::Allowlisted(_) => continue,
                Compiled::Program {
                    transition: true, ..
                } if !rule.optional_old_self => continue,
                Compiled::Program { program, .. } => program,
                Compiled::Broken(error) => {
                    self.violation(
                        path,
                        format!(
                            "x-kubernetes-validations rule {:?} cannot be evaluated: {error}",
                            rule.rule
                        ),
                    );
                    continue;
                }
            };
            let mut scope = cel.new_inner_scope();
            scope.add_variable_from_value("self", self_value.clone());
            if rule.optional_old_self {
                scope.add_variable_from_value(
                    "oldSelf",
                    cel::Value::Opaque(Arc::new(cel::objects::OptionalValue::none())),
                );
            }
            let at = match rule.field_path.as_deref() {
                Some(fp) if path.is_empty() => fp.trim_start_matches('.').to_string(),
                Some(fp) if fp.starts_with('.') || fp.starts_with('[') => format!("{path}{fp}"),
                Some(fp) => join_field(path, fp),
                None => path.to_string(),
            };
            match program.execute(&scope) {
                Ok(cel::Value::Bool(true)) => {}
                Ok(cel::Value::Bool(false)) => {
                    let message = rule
                        .message_expression
                        .as_ref()
                        .and_then(|m| match m.execute(&scope) {
                            Ok(cel::Value::String(s)) => Some(s.to_string()),
                            _ => None,
                        })
                        .or_else(|| rule.message.clone())
                        .unwrap_or_else(|| "failed rule".to_string());
                    self.violation(&at, format!("{message} (rule: {})", rule.rule));
                }
                Ok(other) => self.violation(
                    &at,
                    format!("rule {:?} returned {other:?}, not a bool", rule.rule),
                ),
                Err(error) => self.violation(
                    &at,
                    format!("rule {:?} failed to evaluate: {error}", rule.rule),
                ),
            }
        }
    }
}

/// Violations of `value` against an `anyOf`/`oneOf`/`allOf`/`not` branch: value
/// validations only, as structural schemas allow there (no unknown-field
/// pruning, defaults or CEL).
fn branch_violations(value: &Json, branch: &Schema, path: &str) -> Vec<Violation> {
    let mut walker = Walker {
        cel: None,
        nulls_dropped: &[],
        violations: Vec::new(),
    };
    walker.branch(value, branch, path);
    walker.violations
}

// ----- CEL ------------------------------------------------------------------

/// Names reserved in CEL: properties with these names are `__name__` in rules.
const CEL_RESERVED: &[&str] = &[
    "true",
    "false",
    "null",
    "in",
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "package",
    "namespace",
    "return",
    "var",
    "void",
    "while",
];

/// How Kubernetes exposes a property name to CEL (`None`: not accessible).
fn cel_escape(name: &str) -> Option<String> {
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    if CEL_RESERVED.contains(&name) {
        return Some(format!("__{name}__"));
    }
    let mut out = String::new();
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '_' if chars.peek() == Some(&'_') => {
                chars.next();
                out.push_str("__underscores__");
            }
            '.' => out.push_str("__dot__"),
            '-' => out.push_str("__dash__"),
            '/' => out.push_str("__slash__"),
            c if c.is_ascii_alphanumeric() || c == '_' => out.push(c),
            _ => return None,
        }
    }
    Some(out)
}

/// The property name a CEL field selection refers to.
fn cel_unescape(field: &str) -> String {
    if let Some(inner) = field.strip_prefix("__").and_then(|f| f.strip_suffix("__"))
        && CEL_RESERVED.contains(&inner)
    {
        return inner.to_string();
    }
    field
        .replace("__underscores__", "\u{0}")
        .replace("__dot__", ".")
        .replace("__dash__", "-")
        .replace("__slash__", "/")
        .replace('\u{0}', "__")
}

/// The JSON value as Kubernetes hands it to CEL: objects with `properties` are
/// objects whose (escaped) declared fields are visible; maps keep their keys;
/// `format: date-time` strings are timestamps and `format: byte` strings bytes.
fn to_cel(value: &Json, schema: Option<&Schema>) -> cel::Value {
    match value {
        Json::Null => cel::Value::Null,
        Json::Bool(b) => cel::Value::Bool(*b),
        Json::Number(n) => {
            let is_double = schema.is_some_and(|s| s.ty.as_deref() == Some("number"));
            match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) if !is_double => cel::Value::Int(i),
                (None, Some(u), _) if !is_double => cel::Value::UInt(u),
                (_, _, Some(f)) if !is_double && f.fract() == 0.0 && f.abs() < 9.0e15 => {
                    cel::Value::Int(f as i64)
                }
                (_, _, f) => cel::Value::Float(f.unwrap_or(f64::NAN)),
            }
        }
        Json::String(s) => {
            match schema.and_then(|s| s.format.as_deref()) {
                Some("date-time" | "datetime") => {
                    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
                        return cel::Value::Timestamp(t);
                    }
                }
                Some("byte") => {
                    use base64::Engine as _;
                    if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(s) {
                        return cel::Value::Bytes(Arc::new(bytes));
                    }
                }
                _ => {}
            }
            cel::Value::String(Arc::new(s.clone()))
        }
        Json::Array(items) => {
            let item_schema = schema.and_then(|s| s.items.as_deref());
            cel::Value::List(Arc::new(
                items.iter().map(|i| to_cel(i, item_schema)).collect(),
            ))
        }
        Json::Object(map) => {
            let mut out: HashMap<cel::objects::Key, cel::Value> = HashMap::new();
            match schema {
                Some(s) if !s.properties.is_empty() || s.embedded => {
                    for (key, child) in map {
                        if let Some(prop) = s.property(key) {
                            if let Some(escaped) = cel_escape(key) {
                                out.insert(escaped.into(), to_cel(child, Some(prop)));
                            }
                        } else if s.embedded && matches!(key.as_str(), "apiVersion" | "kind") {
                            out.insert(key.clone().into(), to_cel(child, None));
                        } else if s.embedded && key == "metadata" {
                            let mut meta: HashMap<cel::objects::Key, cel::Value> = HashMap::new();
                            for field in ["name", "generateName"] {
                                if let Some(v) = child.get(field) {
                                    meta.insert(field.to_string().into(), to_cel(v, None));
                                }
                            }
                            out.insert("metadata".to_string().into(), cel::Value::from(meta));
                        }
                    }
                }
                _ => {
                    let values = schema.and_then(Schema::map_values);
                    for (key, child) in map {
                        out.insert(key.clone().into(), to_cel(child, values));
                    }
                }
            }
            cel::Value::from(out)
        }
    }
}

/// Static checks of a parsed rule (the `cel` crate has no type checker).
struct Checker<'s, 'n> {
    set: &'s mut SchemaSet,
    scopes: Vec<String>,
    errors: Vec<String>,
    uses_old_self: bool,
    node: &'n Schema,
}

const CEL_TYPE_NAMES: &[&str] = &[
    "int",
    "uint",
    "double",
    "bool",
    "string",
    "bytes",
    "list",
    "map",
    "null_type",
    "type",
    "dyn",
];

impl Checker<'_, '_> {
    fn in_scope(&self, name: &str) -> bool {
        self.scopes.iter().any(|s| s == name)
    }

    fn error(&mut self, message: String) {
        if !self.errors.contains(&message) {
            self.errors.push(message);
        }
    }

    fn expr(&mut self, e: &IdedExpr) {
        match &e.expr {
            Expr::Unspecified | Expr::Literal(_) => {}
            Expr::Ident(name) => self.ident(name),
            Expr::Call(call) => {
                let name = call.func_name.as_str();
                // `optional.none()`, `strings.quote(x)`: a namespaced global function
                if let Some(Expr::Ident(ns)) = call.target.as_deref().map(|t| &t.expr)
                    && !self.in_scope(ns)
                    && ns != "self"
                    && ns != "oldSelf"
                {
                    let qualified = format!("{ns}.{name}");
                    if self.set.function_known(&qualified) {
                        call.args.iter().for_each(|a| self.expr(a));
                        return;
                    }
                }
                let operator = name.starts_with(['_', '@', '!', '-']);
                if !operator && !self.set.function_known(name) {
                    self.error(format!("undeclared function '{name}'"));
                }
                if let Some(target) = &call.target {
                    self.expr(target);
                }
                call.args.iter().for_each(|a| self.expr(a));
            }
            Expr::Comprehension(c) => {
                self.expr(&c.iter_range);
                self.expr(&c.accu_init);
                let pushed = 2 + usize::from(c.iter_var2.is_some());
                self.scopes.push(c.iter_var.clone());
                self.scopes.push(c.accu_var.clone());
                if let Some(v2) = &c.iter_var2 {
                    self.scopes.push(v2.clone());
                }
                self.expr(&c.loop_cond);
                self.expr(&c.loop_step);
                self.expr(&c.result);
                self.scopes.truncate(self.scopes.len() - pushed);
            }
            Expr::Select(select) => {
                if let Some((root, fields)) = select_chain(e)
                    && (root == "self" || root == "oldSelf")
                    && !self.in_scope(root)
                {
                    self.ident(root);
                    self.check_fields(root, &fields);
                    return;
                }
                self.expr(&select.operand);
            }
            Expr::List(list) => list.elements.iter().for_each(|el| self.expr(el)),
            Expr::Map(map) => {
                for entry in &map.entries {
                    match &entry.expr {
                        EntryExpr::MapEntry(m) => {
                            self.expr(&m.key);
                            self.expr(&m.value);
                        }
                        EntryExpr::StructField(f) => self.expr(&f.value),
                    }
                }
            }
            Expr::Struct(s) => {
                for entry in &s.entries {
                    match &entry.expr {
                        EntryExpr::MapEntry(m) => {
                            self.expr(&m.key);
                            self.expr(&m.value);
                        }
                        EntryExpr::StructField(f) => self.expr(&f.value),
                    }
                }
            }
        }
    }

    fn ident(&mut self, name: &str) {
        if name.starts_with('@')
            || self.in_scope(name)
            || name == "self"
            || CEL_TYPE_NAMES.contains(&name)
        {
            return;
        }
        if name == "oldSelf" {
            self.uses_old_self = true;
            return;
        }
        self.error(format!("undeclared reference '{name}'"));
    }

    /// `self.a.b.c`: each field must be declared by the schema (as the API
    /// server's type checker requires), with CEL name escaping undone.
    fn check_fields(&mut self, root: &str, fields: &[&str]) {
        let mut schema = self.node;
        let mut shown = root.to_string();
        for field in fields {
            let name = cel_unescape(field);
            if let Some(prop) = schema.property(&name) {
                schema = prop;
            } else if let Some(values) = schema.map_values() {
                schema = values;
            } else if schema.embedded && matches!(name.as_str(), "apiVersion" | "kind" | "metadata")
            {
                return;
            } else if schema.preserve_unknown || matches!(schema.additional, Some(Additional::Any))
            {
                return; // untyped below here
            } else if schema.properties.is_empty() && schema.ty.is_none() {
                return; // no schema to check against
            } else {
                let what = if schema.ty.as_deref() == Some("object") {
                    format!("no such field '{name}' in the schema of {shown}")
                } else {
                    format!(
                        "{shown} is a {}, it has no field '{name}'",
                        schema.type_name()
                    )
                };
                self.error(what);
                return;
            }
            shown = format!("{shown}.{field}");
        }
    }
}

/// `self.a.b` (also inside `has()`) as `("self", ["a", "b"])`.
fn select_chain(e: &IdedExpr) -> Option<(&str, Vec<&str>)> {
    let mut fields = Vec::new();
    let mut cur = e;
    loop {
        match &cur.expr {
            Expr::Select(s) => {
                fields.push(s.field.as_str());
                cur = &s.operand;
            }
            Expr::Ident(name) => {
                fields.reverse();
                return Some((name.as_str(), fields));
            }
            _ => return None,
        }
    }
}

/// A root CEL context with the Kubernetes library functions; rules run in
/// child scopes that bind `self`.
fn new_cel_context(env: &Arc<Env>) -> Context<'static, 'static> {
    let mut ctx = Context::with_env(env.clone());
    let add = |name: &str, result: Result<(), cel::DeclarationError>| {
        result.unwrap_or_else(|e| panic!("registering CEL function {name}: {e}"));
    };
    // regex library
    add(
        "find",
        ctx.add_function(
            "find",
            |This(s): This<Arc<String>>, re: Arc<String>| -> Result<cel::Value, ExecutionError> {
                let re = Regex::new(&re).map_err(|e| ExecutionError::function_error("find", e))?;
                Ok(re
                    .find(&s)
                    .map_or(String::new(), |m| m.as_str().to_string())
                    .into())
            },
        ),
    );
    add(
        "findAll",
        ctx.add_function(
            "findAll",
            |This(s): This<Arc<String>>, re: Arc<String>| -> Result<cel::Value, ExecutionError> {
                let re =
                    Regex::new(&re).map_err(|e| ExecutionError::function_error("findAll", e))?;
                Ok(re
                    .find_iter(&s)
                    .map(|m| cel::Value::from(m.as_str()))
                    .collect::<Vec<_>>()
                    .into())
            },
        ),
    );
    // URL library: URLs are their strings
    add(
        "isURL",
        ctx.add_function("isURL", |s: Arc<String>| parse_url(&s).is_some()),
    );
    add(
        "url",
        ctx.add_function(
            "url",
            |s: Arc<String>| -> Result<cel::Value, ExecutionError> {
                parse_url(&s)
                    .map(|_| cel::Value::String(s.clone()))
                    .ok_or_else(|| {
                        ExecutionError::function_error("url", format!("URL parse error: {s}"))
                    })
            },
        ),
    );
    for (name, part) in [
        ("getScheme", 0usize),
        ("getHost", 1),
        ("getHostname", 2),
        ("getPort", 3),
        ("getEscapedPath", 4),
    ] {
        add(
            name,
            ctx.add_function(
                name,
                move |This(s): This<Arc<String>>| -> Result<cel::Value, ExecutionError> {
                    let url = parse_url(&s).ok_or_else(|| {
                        ExecutionError::function_error("url", format!("URL parse error: {s}"))
                    })?;
                    Ok(cel::Value::from(
                        [url.scheme, url.host, url.hostname, url.port, url.path][part].clone(),
                    ))
                },
            ),
        );
    }
    // IP library: ip(x) is x's canonical string; cidr(x).ip() its address
    add(
        "isIP",
        ctx.add_function("isIP", |s: Arc<String>| {
            s.parse::<std::net::IpAddr>().is_ok()
        }),
    );
    add(
        "ip",
        ctx.add_function(
            "ip",
            |ftx: &FunctionContext,
             This(s): This<Arc<String>>|
             -> Result<cel::Value, ExecutionError> {
                if ftx.this.is_some() {
                    let cidr =
                        parse_cidr(&s).ok_or_else(|| ftx.error(format!("not a CIDR: {s}")))?;
                    return Ok(cidr.0.to_string().into());
                }
                let ip: std::net::IpAddr = s
                    .parse()
                    .map_err(|_| ftx.error(format!("IP address parse error: {s}")))?;
                Ok(ip.to_string().into())
            },
        ),
    );
    let ip_of = |s: &str| {
        s.parse::<std::net::IpAddr>()
            .map_err(|_| ExecutionError::function_error("ip", format!("not an IP: {s}")))
    };
    add(
        "family",
        ctx.add_function("family", move |This(s): This<Arc<String>>| {
            ip_of(&s).map(|ip| if ip.is_ipv4() { 4i64 } else { 6 })
        }),
    );
    add(
        "isUnspecified",
        ctx.add_function("isUnspecified", move |This(s): This<Arc<String>>| {
            ip_of(&s).map(|ip| ip.is_unspecified())
        }),
    );
    add(
        "isLoopback",
        ctx.add_function("isLoopback", move |This(s): This<Arc<String>>| {
            ip_of(&s).map(|ip| ip.is_loopback())
        }),
    );
    add(
        "isLinkLocalMulticast",
        ctx.add_function("isLinkLocalMulticast", move |This(s): This<Arc<String>>| {
            ip_of(&s).map(|ip| match ip {
                std::net::IpAddr::V4(v4) => v4.octets()[..3] == [224, 0, 0],
                std::net::IpAddr::V6(v6) => v6.segments()[0] & 0xff0f == 0xff02,
            })
        }),
    );
    add(
        "isLinkLocalUnicast",
        ctx.add_function("isLinkLocalUnicast", move |This(s): This<Arc<String>>| {
            ip_of(&s).map(|ip| match ip {
                std::net::IpAddr::V4(v4) => v4.is_link_local(),
                std::net::IpAddr::V6(v6) => v6.segments()[0] & 0xffc0 == 0xfe80,
            })
        }),
    );
    add(
        "isGlobalUnicast",
        ctx.add_function("isGlobalUnicast", move |This(s): This<Arc<String>>| {
            ip_of(&s).map(|ip| match ip {
                std::net::IpAddr::V4(v4) => {
                    !(v4.is_unspecified()
                        || v4.is_loopback()
                        || v4.is_multicast()
                        || v4.is_broadcast()
                        || v4.is_link_local())
                }
                std::net::IpAddr::V6(v6) => {
                    !(v6.is_unspecified()
                        || v6.is_loopback()
                        || v6.is_multicast()
                        || v6.segments()[0] & 0xffc0 == 0xfe80)
                }
            })
        }),
    );
    // CIDR library: cidr(x) is x itself once it parses
    add(
        "isCIDR",
        ctx.add_function("isCIDR", |s: Arc<String>| parse_cidr(&s).is_some()),
    );
    add(
        "cidr",
        ctx.add_function(
            "cidr",
            |s: Arc<String>| -> Result<cel::Value, ExecutionError> {
                let (ip, len) = parse_cidr(&s).ok_or_else(|| {
                    ExecutionError::function_error(
                        "cidr",
                        format!("network address parse error: {s}"),
                    )
                })?;
                Ok(format!("{ip}/{len}").into())
            },
        ),
    );
    let cidr_of = |s: &str| {
        parse_cidr(s)
            .ok_or_else(|| ExecutionError::function_error("cidr", format!("not a CIDR: {s}")))
    };
    add(
        "prefixLength",
        ctx.add_function("prefixLength", move |This(s): This<Arc<String>>| {
            cidr_of(&s).map(|(_, len)| i64::from(len))
        }),
    );
    add(
        "masked",
        ctx.add_function("masked", move |This(s): This<Arc<String>>| {
            cidr_of(&s).map(|(ip, len)| cel::Value::from(format!("{}/{len}", mask(ip, len))))
        }),
    );
    add(
        "containsIP",
        ctx.add_function(
            "containsIP",
            move |This(s): This<Arc<String>>, other: Arc<String>| -> Result<bool, ExecutionError> {
                let (net, len) = cidr_of(&s)?;
                let ip = ip_of(&other)?;
                Ok(same_family(net, ip) && mask(net, len) == mask(ip, len))
            },
        ),
    );
    add(
        "containsCIDR",
        ctx.add_function(
            "containsCIDR",
            move |This(s): This<Arc<String>>, other: Arc<String>| -> Result<bool, ExecutionError> {
                let (net, len) = cidr_of(&s)?;
                let (inner, inner_len) = cidr_of(&other)?;
                Ok(same_family(net, inner)
                    && inner_len >= len
                    && mask(net, len) == mask(inner, len))
            },
        ),
    );
    // lists library
    add(
        "isSorted",
        ctx.add_function(
            "isSorted",
            |This(list): This<Arc<Vec<cel::Value>>>| -> Result<bool, ExecutionError> {
                for pair in list.windows(2) {
                    match pair[0].partial_cmp(&pair[1]) {
                        Some(std::cmp::Ordering::Greater) => return Ok(false),
                        Some(_) => {}
                        None => {
                            return Err(ExecutionError::function_error(
                                "isSorted",
                                "list elements are not comparable",
                            ));
                        }
                    }
                }
                Ok(true)
            },
        ),
    );
    add(
        "sum",
        ctx.add_function(
            "sum",
            |This(list): This<Arc<Vec<cel::Value>>>| -> Result<cel::Value, ExecutionError> {
                let mut ints = 0i64;
                let mut floats = 0f64;
                let mut any_float = false;
                for v in list.iter() {
                    match v {
                        cel::Value::Int(i) => {
                            ints = ints
                                .checked_add(*i)
                                .ok_or_else(|| ExecutionError::function_error("sum", "overflow"))?
                        }
                        cel::Value::UInt(u) => {
                            ints = ints
                                .checked_add(*u as i64)
                                .ok_or_else(|| ExecutionError::function_error("sum", "overflow"))?
                        }
                        cel::Value::Float(f) => {
                            any_float = true;
                            floats += f;
                        }
                        other => {
                            return Err(ExecutionError::function_error(
                                "sum",
                                format!("cannot sum {other:?}"),
                            ));
                        }
                    }
                }
                Ok(if any_float {
                    cel::Value::Float(floats + ints as f64)
                } else {
                    cel::Value::Int(ints)
                })
            },
        ),
    );
    ctx
}

struct Url {
    scheme: String,
    host: String,
    hostname: String,
    port: String,
    path: String,
}

/// Like Go's `url.ParseRequestURI`, which Kubernetes' `isURL` uses: an absolute
/// URL (`scheme:...`) or an absolute path.
fn parse_url(s: &str) -> Option<Url> {
    if s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let (scheme, rest) = match s.split_once(':') {
        Some((scheme, rest))
            if scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
        {
            (scheme.to_string(), rest)
        }
        _ if s.starts_with('/') => (String::new(), s),
        _ => return None,
    };
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (host, path) = match rest.strip_prefix("//") {
        Some(authority) => {
            let (host, path) = authority.split_at(authority.find('/').unwrap_or(authority.len()));
            (
                host.rsplit('@').next().unwrap_or_default().to_string(),
                path.to_string(),
            )
        }
        None => (String::new(), rest.to_string()),
    };
    let (hostname, port) = if let Some(v6) = host.strip_prefix('[') {
        let (h, p) = v6.split_once(']')?;
        (
            h.to_string(),
            p.strip_prefix(':').unwrap_or_default().to_string(),
        )
    } else {
        match host.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p.to_string()),
            None => (host.clone(), String::new()),
        }
    };
    if !port.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some(Url {
        scheme,
        host,
        hostname,
        port,
        path,
    })
}

/// `a.b.c.d/n` or `v6/n`, as Go's `netip.ParsePrefix` accepts them.
fn parse_cidr(s: &str) -> Option<(std::net::IpAddr, u8)> {
    let (ip, len) = s.split_once('/')?;
    let ip: std::net::IpAddr = ip.parse().ok()?;
    if len.is_empty()
        || !len.chars().all(|c| c.is_ascii_digit())
        || (len.len() > 1 && len.starts_with('0'))
    {
        return None;
    }
    let len: u8 = len.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (len <= max).then_some((ip, len))
}

fn same_family(a: std::net::IpAddr, b: std::net::IpAddr) -> bool {
    a.is_ipv4() == b.is_ipv4()
}

fn mask(ip: std::net::IpAddr, len: u8) -> std::net::IpAddr {
    match ip {
        std::net::IpAddr::V4(v4) => {
            let bits = u32::from(v4) & u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            std::net::IpAddr::V4(bits.into())
        }
        std::net::IpAddr::V6(v6) => {
            let bits = u128::from(v6) & u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            std::net::IpAddr::V6(bits.into())
        }
    }
}

// ----- string formats and names ----------------------------------------------

/// The string formats the API server validates for CRDs (kube-openapi's
/// `strfmt`); other formats (`int32`, `int64`, `password`, ...) are not checked.
fn check_format(format: &str, s: &str) -> Result<(), String> {
    let ok = match format {
        "byte" => {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.decode(s).is_ok()
        }
        "date-time" | "datetime" => {
            chrono::DateTime::parse_from_rfc3339(s).is_ok()
                || chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").is_ok()
        }
        "date" => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok(),
        "cidr" => parse_cidr(s).is_some(),
        "ipv4" => s.parse::<std::net::Ipv4Addr>().is_ok(),
        "ipv6" => s.parse::<std::net::Ipv6Addr>().is_ok(),
        "uuid" | "uuid3" | "uuid4" | "uuid5" => {
            static UUID: OnceLock<Regex> = OnceLock::new();
            UUID.get_or_init(|| {
                Regex::new("^(?i)[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$")
                    .expect("uuid regex")
            })
            .is_match(s)
        }
        "hostname" => check_dns_subdomain(&s.to_ascii_lowercase()).is_ok(),
        "uri" => parse_url(s).is_some(),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("does not parse as {format}"))
    }
}

fn check_dns_label(s: &str) -> Result<(), String> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re =
        RE.get_or_init(|| Regex::new("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$").expect("dns label regex"));
    if s.len() > 63 {
        return Err("must be no more than 63 characters".into());
    }
    if !re.is_match(s) {
        return Err("must be a lowercase RFC 1123 label".into());
    }
    Ok(())
}

fn check_dns_subdomain(s: &str) -> Result<(), String> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
            .expect("dns subdomain regex")
    });
    if s.len() > 253 {
        return Err("must be no more than 253 characters".into());
    }
    if !re.is_match(s) {
        return Err("must be a lowercase RFC 1123 subdomain".into());
    }
    Ok(())
}

fn label_name_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new("^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$").expect("label name regex")
    })
}

/// A label/annotation key: `[prefix/]name`.
fn check_qualified_name(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        check_dns_subdomain(prefix).map_err(|e| format!("prefix {e}"))?;
    }
    if name.is_empty() || name.len() > 63 || !label_name_regex().is_match(name) {
        return Err("name part must be 1-63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric".into());
    }
    Ok(())
}

fn check_label_value(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Ok(());
    }
    if value.len() > 63 || !label_name_regex().is_match(value) {
        return Err(
            "must be at most 63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric"
                .into(),
        );
    }
    Ok(())
}

// ----- small helpers ---------------------------------------------------------

fn join_field(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_string()
    } else {
        format!("{path}.{field}")
    }
}

fn join_key(path: &str, key: &str) -> String {
    format!("{path}[{key}]")
}

fn is_integer(v: &Json) -> bool {
    match v {
        Json::Number(n) => n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0),
        _ => false,
    }
}

fn json_type(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

/// JSON equality with `1 == 1.0`, as enum and set checks need.
fn json_equal(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.as_f64() == y.as_f64(),
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_equal(a, b))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

/// ` (did you mean "subnetId"?)` for a near miss among the declared fields.
fn did_you_mean<'a>(key: &str, known: impl Iterator<Item = &'a String>) -> String {
    let lower = key.to_ascii_lowercase();
    known
        .map(|k| (edit_distance(&lower, &k.to_ascii_lowercase()), k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map_or(String::new(), |(_, k)| format!(" (did you mean \"{k}\"?)"))
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}
