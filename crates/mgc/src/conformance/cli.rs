//! `mgc conformance [DIR]`: the fixtures of a directory as a pass/fail table.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Directory of fixtures (`*.toml`; names starting with `_` are skipped).
    #[arg(default_value = "isup-fixtures")]
    pub dir: PathBuf,
    /// The shared corpora directory; the kancom trace is replayed when it is there.
    #[arg(long, default_value = "../shared")]
    pub shared: PathBuf,
    /// Run only fixtures whose file name contains this.
    #[arg(long)]
    pub only: Option<String>,
    /// Print each fixture's input/output trace (of failed fixtures only, unless with --only).
    #[arg(long, short)]
    pub verbose: bool,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let shared = a.shared.is_dir().then_some(a.shared.as_path());
    let mut results =
        super::run_dir(&a.dir, shared).map_err(|e| anyhow::anyhow!("{}: {e}", a.dir.display()))?;
    if let Some(o) = &a.only {
        results.retain(|r| r.file.contains(o.as_str()));
    }
    if shared.is_none() {
        eprintln!(
            "note: {} absent: the kancom trace fixture is skipped",
            a.shared.display()
        );
    }
    if a.verbose {
        for r in &results {
            if a.only.is_none() && r.verdict.ok() {
                continue;
            }
            let path = a.dir.join(&r.file);
            if let Ok(text) = std::fs::read_to_string(&path)
                && let Ok(fx) = super::Fixture::from_toml(&text)
            {
                println!("== {} ==", r.file);
                for line in super::run(&fx).trace {
                    println!("  {line}");
                }
            }
        }
    }
    let mut out = std::io::stdout().lock();
    let ok = super::print_table(&results, &mut out)?;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
