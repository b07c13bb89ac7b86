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
    /// Run against a real `mgc run` process per fixture (ss7sim over M3UA, a UDP SIP peer,
    /// wall clock) instead of the in-process gateway.
    #[arg(long)]
    pub live: bool,
    /// With --live: skip fixtures that wait longer than this in total (seconds).
    #[arg(long, default_value_t = 30.0)]
    pub max_wait: f64,
    /// With --live: the mgc binary to run (default: this one).
    #[arg(long)]
    pub mgc: Option<PathBuf>,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let shared = a.shared.is_dir().then_some(a.shared.as_path());
    let live = if a.live {
        Some(super::live::LiveOptions {
            mgc: match a.mgc.clone() {
                Some(m) => m,
                None => std::env::current_exe()?,
            },
            max_wait: a.max_wait,
        })
    } else {
        None
    };
    let results = super::run_dir_with(&a.dir, shared, live.as_ref(), a.only.as_deref())
        .map_err(|e| anyhow::anyhow!("{}: {e}", a.dir.display()))?;
    if shared.is_none() {
        eprintln!(
            "note: {} absent: the kancom trace fixture is skipped",
            a.shared.display()
        );
    }
    if a.verbose {
        for r in &results {
            if (a.only.is_none() && r.verdict.ok()) || r.verdict == super::Verdict::Skipped {
                continue;
            }
            let path = a.dir.join(&r.file);
            if let Ok(text) = std::fs::read_to_string(&path)
                && let Ok(fx) = super::Fixture::from_toml(&text)
            {
                println!("== {} ==", r.file);
                for line in super::run_with(&fx, live.as_ref()).trace {
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
