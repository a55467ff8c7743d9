//! `hybrid-spoke`: render XHybridSpoke compositions with no cluster, and
//! regenerate the package files from the Rust types.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use function_hybrid_spoke::{render, xrd};
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
    },
    /// Write the generated XRDs, Compositions and Input CRD under package/.
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
        } => run_render(xr.as_deref(), observed.as_deref(), input.as_deref()),
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
) -> Result<(), CliError> {
    let xr = match xr {
        Some(path) => single_document(path)?,
        None => parse_documents(Path::new("examples/aws/xr.yaml"), EMBEDDED_XR)?
            .into_iter()
            .next()
            .unwrap_or_default(),
    };
    let input = match input {
        Some(path) => single_document(path)?,
        None => parse_documents(Path::new("examples/input.yaml"), EMBEDDED_INPUT)?
            .into_iter()
            .next()
            .unwrap_or_default(),
    };
    let observed = match observed {
        Some(path) => read_observed(path)?,
        None => Vec::new(),
    };
    let documents = render::render(&xr, &observed, &input)?;
    print!("{}", render::to_yaml_stream(&documents));
    Ok(())
}

fn run_generate(root: &Path, check: bool) -> Result<(), CliError> {
    let input_path = root.join("examples/input.yaml");
    let input = single_document(&input_path)?;
    let mut stale = Vec::new();
    for file in xrd::generated_files(&input) {
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
