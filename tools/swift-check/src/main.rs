//! `swift-check`: syntax and FFI-contract checks for the iOS app's Swift.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use swift_check::{contract, decls::Module, manifest, syntax};

#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse Swift files (directories: every *.swift inside, recursively);
    /// print file:line:col for every syntax error; fail if there is any.
    Parse {
        /// Files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Check the app's use of dd-mobile against the generated bindings.
    Contract {
        /// The generated bindings (dd_mobile.swift).
        #[arg(long)]
        bindings: PathBuf,
        /// The app's Swift sources (files or directories).
        #[arg(long, required = true, num_args = 1..)]
        sources: Vec<PathBuf>,
        /// The manifest of every FFI symbol the app uses.
        #[arg(long, default_value = "apps/ios/ffi-contract.txt")]
        manifest: PathBuf,
    },
    /// Print the syntax tree of one file (for debugging the checks).
    Dump {
        /// The file.
        path: PathBuf,
    },
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("swift-check: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<bool> {
    match Cli::parse().command {
        Command::Parse { paths } => parse(&paths),
        Command::Contract {
            bindings,
            sources,
            manifest,
        } => run_contract(&bindings, &sources, &manifest),
        Command::Dump { path } => {
            let source = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let tree = syntax::parse_source(&source).context("tree-sitter failed")?;
            println!("{}", tree.root_node().to_sexp());
            Ok(true)
        }
    }
}

fn parse(paths: &[PathBuf]) -> Result<bool> {
    let files = syntax::swift_files(paths)?;
    if files.is_empty() {
        bail!("no Swift files found");
    }
    let mut bad = 0usize;
    for file in &files {
        let problems = syntax::check_file(file)?;
        if !problems.is_empty() {
            bad += 1;
        }
        for problem in problems {
            println!("{problem}");
        }
    }
    eprintln!(
        "swift-check parse: {} files, {} with syntax errors",
        files.len(),
        bad
    );
    Ok(bad == 0)
}

fn load(paths: &[PathBuf], strict: bool) -> Result<Module> {
    let mut module = Module::default();
    for file in syntax::swift_files(paths)? {
        let source = std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.display()))?;
        let tree = syntax::parse_source(&source).context("tree-sitter failed")?;
        let problems = syntax::problems(&tree, &file);
        if strict && !problems.is_empty() {
            bail!(
                "{} does not parse (run `swift-check parse`): {}",
                file.display(),
                problems[0]
            );
        }
        for p in problems {
            eprintln!("warning: {p}");
        }
        module.add(&file.display().to_string(), &source, &tree);
    }
    Ok(module)
}

fn run_contract(bindings: &PathBuf, sources: &[PathBuf], manifest_path: &PathBuf) -> Result<bool> {
    if !bindings.is_file() {
        bail!("bindings file {} not found", bindings.display());
    }
    // Generated code may use constructs the grammar lags behind on: warn only.
    let bindings_module = load(std::slice::from_ref(bindings), false)?;
    let sources_module = load(sources, true)?;
    let text = std::fs::read_to_string(manifest_path)
        .with_context(|| format!("reading {}", manifest_path.display()))?;
    let entries = manifest::parse(&text)?;
    if entries.is_empty() {
        bail!("manifest {} lists no symbols", manifest_path.display());
    }
    let findings = contract::check(&bindings_module, &sources_module, &entries);
    for f in &findings {
        println!("{f}");
    }
    eprintln!(
        "swift-check contract: {} manifest symbols, {} calls checked, {} problems",
        entries.len(),
        sources_module.calls.len(),
        findings.len()
    );
    Ok(findings.is_empty())
}
