//! `hybrid-spoke`: render XHybridSpoke compositions with no cluster, and
//! regenerate the package files from the Rust types.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod backstage;
use function_hybrid_spoke::{fleet, render, spoke, strict, validate, xrd};
use serde_json::Value;

/// The example rendered when `render` is given no XR.
const EMBEDDED_XR: &str = include_str!("../examples/aws/xr.yaml");
/// The platform Input of the example Compositions.
const EMBEDDED_INPUT: &str = include_str!("../examples/input.yaml");

#[derive(Parser)]
#[command(
    name = "hybrid-spoke",
    version,
    about = "Render and package the XHybridSpoke composition function"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Render an XHybridSpoke the way `crossplane render` does, in-process:
    /// no cluster, no network. Prints the XR with its status, the composed
    /// resources and the function's results as a YAML stream.
    Render {
        /// The XR (YAML). Default: the embedded example, examples/aws/xr.yaml.
        xr: Option<PathBuf>,
        /// A file or directory of observed composed resources (YAML).
        #[arg(long, short = 'o')]
        observed: Option<PathBuf>,
        /// The function Input (YAML). Default: examples/input.yaml, embedded.
        #[arg(long)]
        input: Option<PathBuf>,
        /// Files or directories of objects offered to the function's
        /// requirements, as `crossplane render --required-resources`: e.g.
        /// the fleet's XHybridSpokes, to see the block a new spoke gets.
        #[arg(long = "required-resources", short = 'e')]
        required_resources: Vec<PathBuf>,
        /// Refuse an XR with fields its XRD does not define, as
        /// `kubectl --validate=strict` does. Without it they are warnings
        /// (the API server would silently drop them).
        #[arg(long)]
        strict: bool,
    },
    /// Print the fleet's address map from a file or directory of
    /// XHybridSpoke YAMLs: every range held (explicit, settled, unsettled,
    /// the Input's hub and legacy routes), the block each spoke without one
    /// would get, and every overlap. Exits non-zero when there are problems.
    Plan {
        /// A file or directory of XHybridSpokes (YAML, with status).
        fleet: PathBuf,
        /// The function Input (YAML). Default: examples/input.yaml, embedded.
        #[arg(long)]
        input: Option<PathBuf>,
    },
    /// Write the generated XRDs, Compositions and Input CRD under package/,
    /// and the Backstage template under examples/backstage/.
    Generate {
        /// Repository root to write into.
        #[arg(long, default_value = ".")]
        root: PathBuf,
        /// Only check that the files on disk are up to date.
        #[arg(long)]
        check: bool,
    },
}

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot parse {path} as YAML: {source}")]
    Yaml {
        path: PathBuf,
        source: serde_yaml::Error,
    },
    #[error(transparent)]
    Render(#[from] render::RenderError),
    #[error("cannot read the function Input {path}: {source}")]
    InputFile {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("invalid function input: {0}")]
    Input(String),
    #[error("the XR has {0} unknown field(s), listed above (--strict)")]
    Strict(usize),
    #[error("the address map has {0} problem(s), listed above")]
    Plan(usize),
    #[error("generated files are stale (run `cargo run -- generate`): {0}")]
    Stale(String),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Render {
            xr,
            observed,
            input,
            required_resources,
            strict,
        } => run_render(
            xr.as_deref(),
            observed.as_deref(),
            input.as_deref(),
            &required_resources,
            strict,
        ),
        Command::Plan { fleet, input } => run_plan(&fleet, input.as_deref()),
        Command::Generate { root, check } => run_generate(&root, check),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hybrid-spoke: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_render(
    xr: Option<&Path>,
    observed: Option<&Path>,
    input: Option<&Path>,
    required_resources: &[PathBuf],
    strict: bool,
) -> Result<(), CliError> {
    let xr = match xr {
        Some(path) => single_document(path)?,
        None => parse_documents(Path::new("examples/aws/xr.yaml"), EMBEDDED_XR)?
            .into_iter()
            .next()
            .unwrap_or_default(),
    };
    check_unknown_fields(&xr, strict)?;
    let input = read_input(input)?;
    let observed = match observed {
        Some(path) => read_observed(path)?,
        None => Vec::new(),
    };
    let mut required = Vec::new();
    for path in required_resources {
        required.extend(read_observed(path)?);
    }
    let documents = render::render_with_required(&xr, &observed, &input, &required)?;
    print!("{}", render::to_yaml_stream(&documents));
    Ok(())
}

/// Fields the XRD does not define: the API server would drop them, so the
/// claim does not mean what its author thinks. Warned about, or with
/// `--strict` refused.
fn check_unknown_fields(xr: &Value, strict: bool) -> Result<(), CliError> {
    let unknown = strict::xr(xr).unknown;
    let level = if strict { "error" } else { "warning" };
    for field in &unknown {
        eprintln!("hybrid-spoke: {level}: {field}");
    }
    if strict && !unknown.is_empty() {
        return Err(CliError::Strict(unknown.len()));
    }
    Ok(())
}

fn read_input(input: Option<&Path>) -> Result<Value, CliError> {
    Ok(match input {
        Some(path) => single_document(path)?,
        None => parse_documents(Path::new("examples/input.yaml"), EMBEDDED_INPUT)?
            .into_iter()
            .next()
            .unwrap_or_default(),
    })
}

fn run_plan(fleet: &Path, input: Option<&Path>) -> Result<(), CliError> {
    let input = validate::input(Some(read_input(input)?))
        .map_err(|errors| CliError::Input(function_hybrid_spoke::fatal_message(&errors)))?;
    let spokes: Vec<Value> = read_observed(fleet)?
        .into_iter()
        .filter(|d| d["kind"] == spoke::KIND)
        .collect();
    let (rows, problems) = fleet::address_map(&spokes, &input);
    println!("{:<20} {:<10} {:<34} FIELD", "RANGE", "STATE", "OWNER");
    for row in &rows {
        println!(
            "{:<20} {:<10} {:<34} {}",
            row.range.to_string(),
            row.state,
            row.owner,
            row.field
        );
    }
    for problem in &problems {
        eprintln!("problem: {problem}");
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(CliError::Plan(problems.len()))
    }
}

fn run_generate(root: &Path, check: bool) -> Result<(), CliError> {
    let input_path = root.join("examples/input.yaml");
    let input = single_document(&input_path)?;
    let mut files = xrd::generated_files(&input);
    files.extend(
        backstage::generated_files(&input).map_err(|source| CliError::InputFile {
            path: input_path.clone(),
            source,
        })?,
    );
    let mut stale = Vec::new();
    for file in files {
        let path = root.join(file.path);
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        if current == file.content {
            continue;
        }
        if check {
            stale.push(file.path);
            continue;
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| CliError::Write {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        std::fs::write(&path, &file.content).map_err(|source| CliError::Write {
            path: path.clone(),
            source,
        })?;
        println!("wrote {}", file.path);
    }
    if stale.is_empty() {
        Ok(())
    } else {
        Err(CliError::Stale(stale.join(", ")))
    }
}

fn read(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|source| CliError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn single_document(path: &Path) -> Result<Value, CliError> {
    Ok(parse_documents(path, &read(path)?)?
        .into_iter()
        .next()
        .unwrap_or_default())
}

/// Every non-empty document of a YAML stream.
fn parse_documents(path: &Path, text: &str) -> Result<Vec<Value>, CliError> {
    let mut documents = Vec::new();
    for document in serde_yaml::Deserializer::from_str(text) {
        let value: Value =
            serde::Deserialize::deserialize(document).map_err(|source| CliError::Yaml {
                path: path.to_path_buf(),
                source,
            })?;
        if !value.is_null() {
            documents.push(value);
        }
    }
    Ok(documents)
}

/// Observed resources from a file, or from every `.yaml`/`.yml` file of a
/// directory in name order.
fn read_observed(path: &Path) -> Result<Vec<Value>, CliError> {
    if !path.is_dir() {
        return parse_documents(path, &read(path)?);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|source| CliError::Read {
            path: path.to_path_buf(),
            source,
        })?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    let mut documents = Vec::new();
    for file in files {
        documents.extend(parse_documents(&file, &read(&file)?)?);
    }
    Ok(documents)
}
