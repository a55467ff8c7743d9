//! examples/gitops: the claims-per-region repository layout and its Argo CD
//! objects. The ApplicationSets, Applications and AppProjects validate with
//! `crossplane beta validate` against the vendored Argo CD v3.5.1 CRDs; the
//! two generators are expanded over the example tree and sample cluster
//! Secrets by a small re-implementation (below) whose parameter names are
//! checked against Argo CD's documented ones; every claim renders through
//! the function and validates against the XRD.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use function_hybrid_spoke::render;
use serde_json::{Map, Value, json};

#[path = "support/yaml_docs.rs"]
mod yaml_docs;
use yaml_docs::{beta_validate, read_documents, vendor_crd, yaml_files};

fn gitops() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/gitops")
}

fn one(path: &str) -> Value {
    read_documents(&gitops().join(path)).remove(0)
}

fn argo_crds() -> Vec<PathBuf> {
    [
        "argoproj.io_application-crd.yaml",
        "argoproj.io_applicationset-crd.yaml",
        "argoproj.io_appproject-crd.yaml",
    ]
    .map(vendor_crd)
    .to_vec()
}

fn validate_argo(what: &str, resources: &[Value]) {
    let crds = argo_crds();
    let refs: Vec<&Path> = crds.iter().map(PathBuf::as_path).collect();
    beta_validate(what, &refs, resources);
}

// ---------------------------------------------------------------------------
// A re-implementation of the two ApplicationSet generators used here, with
// `goTemplate: true` and `missingkey=error`. Parameters as documented in
// Argo CD v3.5.1 (docs/operator-manual/applicationset/Generators-Git.md,
// Generators-Cluster.md; summarized with sources in
// ../shared/reference/cloud-crds.md §7.4, which a test below reads).
// Templates may use `{{.a.b}}` and `{{index .a.b N}}` / `{{index .a.b "k"}}`;
// anything else is refused rather than guessed.
// ---------------------------------------------------------------------------

/// Argo CD's `utils.SanitizeName`: lowercase, `[^-a-z0-9.]` -> `-`, at most
/// 253 characters, no leading or trailing `-`/`.`.
fn sanitize_name(name: &str) -> String {
    let lower: String = name
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .take(253)
        .collect();
    lower.trim_matches(|c| c == '-' || c == '.').to_string()
}

/// Go's `path.Match` for the patterns used here: `*` matches within one
/// path segment.
fn glob_match(pattern: &str, path: &str) -> bool {
    let (p, s): (Vec<&str>, Vec<&str>) = (pattern.split('/').collect(), path.split('/').collect());
    p.len() == s.len()
        && p.iter().zip(&s).all(|(p, s)| match p.split_once('*') {
            None => p == s,
            Some((pre, post)) => {
                s.len() >= pre.len() + post.len() && s.starts_with(pre) && s.ends_with(post)
            }
        })
}

/// Directories of `repo` (relative paths) the git directory generator
/// selects: matching an include, no exclude, no `.`-prefixed segment.
fn directory_generator(repo: &Path, directories: &[Value]) -> Vec<String> {
    fn dirs(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("read a directory") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                let rel = path.strip_prefix(root).expect("under root");
                out.push(rel.display().to_string());
                dirs(root, &path, out);
            }
        }
    }
    let mut all = Vec::new();
    dirs(repo, repo, &mut all);
    all.sort();
    all.into_iter()
        .filter(|d| !d.split('/').any(|s| s.starts_with('.')))
        .filter(|d| {
            let matching = |exclude: bool| {
                directories.iter().any(|rule| {
                    rule["exclude"].as_bool().unwrap_or(false) == exclude
                        && glob_match(rule["path"].as_str().unwrap_or_default(), d)
                })
            };
            matching(false) && !matching(true)
        })
        .collect()
}

/// The parameters of one directory (Generators-Git.md, goTemplate form).
fn directory_params(dir: &str) -> Value {
    let segments: Vec<&str> = dir.split('/').collect();
    let basename = segments.last().copied().unwrap_or_default();
    json!({"path": {
        "path": dir,
        "basename": basename,
        "basenameNormalized": sanitize_name(basename),
        "segments": segments,
    }})
}

/// The parameters of one Argo CD cluster Secret (Generators-Cluster.md).
fn cluster_params(secret: &Value) -> Value {
    let data = &secret["stringData"];
    let name = data["name"].as_str().unwrap_or_default();
    json!({
        "name": name,
        "nameNormalized": sanitize_name(name),
        "server": data["server"],
        "project": data["project"].as_str().unwrap_or_default(),
        "metadata": {
            "labels": secret["metadata"]["labels"],
            "annotations": secret["metadata"].get("annotations").cloned().unwrap_or(json!({})),
        },
    })
}

/// Whether a Secret's labels satisfy a `LabelSelector` (matchLabels, and
/// matchExpressions with In/NotIn/Exists/DoesNotExist).
fn selects(selector: &Value, labels: &Map<String, Value>) -> bool {
    let match_labels = selector["matchLabels"].as_object().into_iter().flatten();
    let expressions = selector["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten();
    match_labels
        .into_iter()
        .all(|(k, v)| labels.get(k) == Some(v))
        && expressions.into_iter().all(|e| {
            let value = labels.get(e["key"].as_str().unwrap_or_default());
            let values = e["values"].as_array().cloned().unwrap_or_default();
            match e["operator"].as_str() {
                Some("In") => value.is_some_and(|v| values.contains(v)),
                Some("NotIn") => value.is_none_or(|v| !values.contains(v)),
                Some("Exists") => value.is_some(),
                Some("DoesNotExist") => value.is_none(),
                other => panic!("unknown selector operator {other:?}"),
            }
        })
}

/// One `{{ ... }}` action of a Go template.
fn evaluate(action: &str, params: &Value) -> Result<String, String> {
    let lookup = |path: &str| -> Result<Value, String> {
        let path = path
            .strip_prefix('.')
            .ok_or_else(|| format!("unsupported template action {action:?}"))?;
        path.split('.').try_fold(params.clone(), |v, key| {
            v.get(key).cloned().ok_or_else(|| {
                format!("map has no entry for key {key:?} (missingkey=error) in {action:?}")
            })
        })
    };
    let words: Vec<&str> = action.split_whitespace().collect();
    let value = match words.as_slice() {
        [path] => lookup(path)?,
        ["index", path, key] => {
            let base = lookup(path)?;
            let found = match key.parse::<usize>() {
                Ok(i) => base.get(i).cloned(),
                Err(_) => base.get(key.trim_matches('"')).cloned(),
            };
            found
                .ok_or_else(|| format!("index {key} not found (missingkey=error) in {action:?}"))?
        }
        _ => return Err(format!("unsupported template action {action:?}")),
    };
    Ok(match value {
        Value::String(s) => s,
        other => other.to_string(),
    })
}

fn render_string(template: &str, params: &Value) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find("}}")
            .ok_or_else(|| format!("unclosed action in {template:?}"))?;
        out.push_str(&evaluate(rest[start + 2..start + end].trim(), params)?);
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Renders every string of the ApplicationSet's `template` into an Application
/// in the ApplicationSet's namespace, as the controller does.
fn application(appset: &Value, params: &Value) -> Result<Value, String> {
    fn walk(v: &Value, params: &Value) -> Result<Value, String> {
        Ok(match v {
            Value::String(s) => Value::String(render_string(s, params)?),
            Value::Array(a) => Value::Array(
                a.iter()
                    .map(|x| walk(x, params))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, x)| Ok((k.clone(), walk(x, params)?)))
                    .collect::<Result<_, String>>()?,
            ),
            other => other.clone(),
        })
    }
    assert_eq!(appset["spec"]["goTemplate"], true, "goTemplate");
    assert_eq!(
        appset["spec"]["goTemplateOptions"],
        json!(["missingkey=error"])
    );
    let template = walk(&appset["spec"]["template"], params)?;
    let mut metadata = template["metadata"].clone();
    metadata["namespace"] = appset["metadata"]["namespace"].clone();
    Ok(json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": metadata,
        "spec": template["spec"],
    }))
}

/// Flattened parameter names: `path.basename`, `metadata.labels.<key>`...
fn param_names(params: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match params.as_object() {
        Some(map) if prefix != "metadata.labels" && prefix != "metadata.annotations" => {
            for (k, v) in map {
                let name = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                param_names(v, &name, out);
            }
        }
        _ => {
            out.insert(prefix.to_string());
        }
    }
}

/// The backticked parameter names of the §7.4 bullet that starts with `lead`
/// in the project's Argo CD reference notes.
fn documented_params(lead: &str) -> BTreeSet<String> {
    let notes = std::fs::read_to_string(
        hybrid_spoke_test_peers::shared_dir().join("reference/cloud-crds.md"),
    )
    .expect("reference/cloud-crds.md");
    let section = &notes[notes.find("### 7.4 ApplicationSet").expect("§7.4")..];
    let bullet = section
        .split("\n- ")
        .find(|b| b.starts_with(lead))
        .unwrap_or_else(|| panic!("no §7.4 bullet starting with {lead:?}"));
    let params = &bullet[bullet.find("params").expect("a params list")..];
    let params = &params[..params.find(';').unwrap_or(params.len())];
    params
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|p| !p.contains(char::is_whitespace))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_generator_parameters_are_the_ones_argo_cd_documents() {
    let mut dir = BTreeSet::new();
    param_names(&directory_params("claims/eu-west-1"), "", &mut dir);
    assert_eq!(dir, documented_params("Git directory generator"));
    let mut cluster = BTreeSet::new();
    let secret =
        json!({"metadata": {"labels": {}}, "stringData": {"name": "a", "server": "https://a"}});
    param_names(&cluster_params(&secret), "", &mut cluster);
    let documented: BTreeSet<String> = documented_params("Cluster generator")
        .into_iter()
        .map(|p| p.trim_end_matches(".<key>").to_string())
        .collect();
    assert_eq!(cluster, documented);
}

// ---------------------------------------------------------------------------

fn claim_dirs() -> Vec<String> {
    let appset = one("apps/claims.yaml");
    let git = &appset["spec"]["generators"][0]["git"];
    directory_generator(
        &gitops(),
        git["directories"].as_array().expect("directories"),
    )
}

#[test]
fn git_directory_generator_makes_one_application_per_region_syncing_its_claims() {
    let appset = one("apps/claims.yaml");
    let dirs = claim_dirs();
    let regions: Vec<String> = std::fs::read_dir(gitops().join("claims"))
        .expect("claims/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(
        dirs.len(),
        regions.len(),
        "one directory per region: {dirs:?}"
    );
    let apps: Vec<Value> = dirs
        .iter()
        .map(|d| application(&appset, &directory_params(d)).expect("the template renders"))
        .collect();
    for (dir, app) in dirs.iter().zip(&apps) {
        let region = dir.trim_start_matches("claims/");
        assert_eq!(app["metadata"]["name"], format!("spokes-{region}"));
        assert_eq!(app["metadata"]["namespace"], "argocd");
        assert_eq!(app["spec"]["source"]["path"], dir.as_str());
        assert_eq!(app["spec"]["project"], "hybrid-spoke", "a fixed project");
        assert_eq!(app["spec"]["destination"]["name"], "in-cluster");
        let sync = &app["spec"]["syncPolicy"];
        for option in [
            "ServerSideApply=true",
            "RespectIgnoreDifferences=true",
            "CreateNamespace=true",
        ] {
            assert!(
                sync["syncOptions"]
                    .as_array()
                    .expect("syncOptions")
                    .contains(&json!(option)),
                "{option} in {sync}"
            );
        }
        assert!(
            sync["retry"]["backoff"]["duration"].is_string(),
            "retry backoff"
        );
        let ignored = &app["spec"]["ignoreDifferences"][0];
        assert_eq!(ignored["kind"], "XHybridSpoke");
        assert!(
            ignored["jsonPointers"]
                .as_array()
                .expect("jsonPointers")
                .contains(&json!("/spec/crossplane/resourceRefs")),
            "Crossplane's resourceRefs are ignored"
        );
    }
    // missingkey=error: a parameter the generator does not make fails.
    let mut broken = appset.clone();
    broken["spec"]["template"]["spec"]["source"]["path"] = json!("{{.path.dirname}}");
    assert!(
        application(&broken, &directory_params("claims/eu-west-1"))
            .is_err_and(|e| e.contains("dirname")),
        "an unknown parameter must fail, as missingkey=error does"
    );

    let mut resources = read_documents(&gitops().join("bootstrap/root.yaml"));
    for file in yaml_files(&gitops().join("apps")) {
        resources.extend(read_documents(&file));
    }
    let kinds: BTreeSet<&str> = resources
        .iter()
        .filter_map(|r| r["kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        ["AppProject", "Application", "ApplicationSet"].into()
    );
    resources.extend(apps);
    validate_argo(
        "examples/gitops Argo CD objects and generated Applications",
        &resources,
    );
}

/// Sync waves: the Crossplane packages before the claims, the claims
/// before the spoke agents.
#[test]
fn sync_waves_install_the_configuration_before_the_claims() {
    let wave = |file: &str| -> i64 {
        one(file)["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"]
            .as_str()
            .expect("a sync-wave annotation")
            .parse()
            .expect("a number")
    };
    assert!(wave("apps/platform.yaml") < wave("apps/claims.yaml"));
    assert!(wave("apps/claims.yaml") < wave("apps/spoke-agents.yaml"));
    let platform = one("apps/platform.yaml");
    let configuration = read_documents(
        &gitops()
            .join(platform["spec"]["source"]["path"].as_str().expect("path"))
            .join("configuration.yaml"),
    );
    assert_eq!(configuration[0]["kind"], "Configuration");
    assert_eq!(
        configuration[0]["metadata"]["name"], "configuration-hybrid-spoke-namespaced",
        "the platform Application installs the namespaced configuration the claims need"
    );
    let root = read_documents(&gitops().join("bootstrap/root.yaml"));
    let bootstrap = root
        .iter()
        .find(|d| d["kind"] == "Application")
        .expect("root Application");
    assert_eq!(
        bootstrap["spec"]["source"]["path"], "apps",
        "the root app syncs apps/"
    );
}

fn input() -> Value {
    read_documents(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/input.yaml")).remove(0)
}

#[test]
fn cluster_generator_selects_the_spokes_by_the_labels_the_function_puts_on_them() {
    let appset = one("apps/spoke-agents.yaml");
    let selector = &appset["spec"]["generators"][0]["clusters"]["selector"];
    let input = input();
    let keys = &input["labelKeys"];
    let (module_key, env_key, spoke_key) = (
        keys["module"].as_str().expect("module key"),
        keys["environment"].as_str().expect("environment key"),
        keys["spoke"].as_str().expect("spoke key"),
    );
    // Argo CD cluster Secrets as the hub holds them: two spokes, a cluster
    // of something else, and a spoke whose Secret lacks the environment.
    let secret = |name: &str, labels: Value| {
        json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": "argocd", "labels": labels},
            "stringData": {"name": name, "server": format!("https://{name}.example.com")},
        })
    };
    let spoke_labels = |name: &str, env: &str| {
        let mut l = Map::new();
        l.insert("argocd.argoproj.io/secret-type".into(), json!("cluster"));
        l.insert(module_key.into(), input["module"].clone());
        l.insert(env_key.into(), json!(env));
        l.insert(spoke_key.into(), json!(name));
        Value::Object(l)
    };
    let secrets = [
        secret("eu-payments", spoke_labels("eu-payments", "prod")),
        secret("we-analytics", spoke_labels("we-analytics", "staging")),
        secret(
            "legacy-ci",
            json!({"argocd.argoproj.io/secret-type": "cluster"}),
        ),
        secret("no-env", {
            let mut l = spoke_labels("no-env", "dev");
            l.as_object_mut().expect("labels").remove(env_key);
            l
        }),
    ];
    let apps: Vec<Value> = secrets
        .iter()
        .filter(|s| {
            selects(
                selector,
                s["metadata"]["labels"].as_object().expect("labels"),
            )
        })
        .map(|s| application(&appset, &cluster_params(s)).expect("the template renders"))
        .collect();
    let names: Vec<&str> = apps
        .iter()
        .filter_map(|a| a["metadata"]["name"].as_str())
        .collect();
    assert_eq!(names, ["agents-eu-payments", "agents-we-analytics"]);
    assert_eq!(apps[0]["spec"]["source"]["path"], "agents/prod");
    assert_eq!(
        apps[1]["spec"]["destination"]["server"],
        "https://we-analytics.example.com"
    );
    for app in &apps {
        let path = app["spec"]["source"]["path"].as_str().expect("path");
        assert!(
            gitops().join(path).join("kustomization.yaml").is_file(),
            "{path} exists"
        );
    }
    // An agents overlay for every environment the XRD allows.
    let xrd = read_documents(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("package/configuration/namespaced/definition.yaml"),
    )
    .remove(0);
    let envs = &xrd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
        ["environment"]["enum"];
    for env in envs.as_array().expect("environment enum") {
        let env = env.as_str().expect("a string");
        assert!(
            gitops()
                .join("agents")
                .join(env)
                .join("kustomization.yaml")
                .is_file(),
            "agents/{env}"
        );
    }
    validate_argo("spoke-agents Applications", &apps);

    // The function puts the selector's labels on what it composes for a
    // spoke (and so on the spoke's Argo CD cluster Secret).
    let xr = read_documents(&gitops().join("claims/eu-west-1/payments.yaml")).remove(0);
    let composed = rendered(&xr, "eu-west-1");
    assert!(!composed.is_empty());
    for resource in &composed {
        let labels = resource["metadata"]["labels"].as_object().expect("labels");
        assert_eq!(labels.get(module_key), Some(&input["module"]), "{resource}");
        assert_eq!(
            labels.get(env_key),
            Some(&xr["spec"]["environment"]),
            "{resource}"
        );
    }
}

/// The composed resources of a claim, rendered in namespace `spokes` (the
/// claims Applications' destination) through the function.
fn rendered(claim: &Value, region_dir: &str) -> Vec<Value> {
    let mut xr = claim.clone();
    xr["metadata"]["namespace"] = json!("spokes");
    let documents =
        render::render(&xr, &[], &input()).unwrap_or_else(|e| panic!("claims/{region_dir}: {e}"));
    documents
        .into_iter()
        .skip(1)
        .filter(|d| d["kind"] != "Result")
        .collect()
}

#[test]
fn every_claim_is_in_its_region_directory_renders_and_validates_against_the_xrd() {
    let mut claims = Vec::new();
    let mut per_region: BTreeMap<String, usize> = BTreeMap::new();
    for dir in claim_dirs() {
        let region = dir.trim_start_matches("claims/").to_string();
        for file in yaml_files(&gitops().join(&dir)) {
            for claim in read_documents(&file) {
                assert_eq!(claim["kind"], "XHybridSpoke", "{}", file.display());
                assert_eq!(
                    claim["spec"]["region"],
                    region.as_str(),
                    "{}: a claim lives in the directory of its region",
                    file.display()
                );
                assert!(
                    claim["metadata"].get("namespace").is_none(),
                    "{}: the Application's destination namespace applies",
                    file.display()
                );
                let composed = rendered(&claim, &region);
                assert!(
                    composed.len() > 5,
                    "{}: {} composed",
                    file.display(),
                    composed.len()
                );
                *per_region.entry(region.clone()).or_default() += 1;
                let mut claim = claim;
                claim["metadata"]["namespace"] = json!("spokes");
                claims.push(claim);
            }
        }
    }
    println!("claims per region: {per_region:?}");
    assert!(per_region.len() >= 3 && per_region.values().all(|n| *n >= 1));
    let xrd = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("package/configuration/namespaced/definition.yaml");
    beta_validate("examples/gitops claims", &[&xrd], &claims);
}
