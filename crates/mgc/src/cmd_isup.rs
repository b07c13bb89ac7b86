//! `mgc isup decode|encode`: one message between hex and the JSON form of `isup::json`.

use anyhow::{Context, Result, bail};
use clap::{Subcommand, ValueEnum};
use isup::{Variant, json};
use std::io::Read;
use std::process::ExitCode;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum VariantArg {
    /// ITU-T Q.763 (RFC 3204 base `itu-t92+`).
    Itu,
}

impl VariantArg {
    fn variant(self) -> &'static Variant {
        match self {
            VariantArg::Itu => &Variant::ITU,
        }
    }
}

#[derive(Subcommand)]
pub enum IsupCommand {
    /// Decode one message from hex and print it as a JSON object.
    Decode {
        #[arg(long, value_enum, default_value = "itu")]
        variant: VariantArg,
        /// The octets start at the message type (RFC 3204 body), not at the CIC.
        #[arg(long)]
        no_cic: bool,
        /// Print on one line.
        #[arg(long)]
        compact: bool,
        /// The message in hex (spaces, colons and a 0x prefix are allowed); `-` reads stdin.
        #[arg(required = true, num_args = 1..)]
        hex: Vec<String>,
    },
    /// Encode one message from its JSON form (as `decode` prints it) and print the hex.
    Encode {
        #[arg(long, value_enum, default_value = "itu")]
        variant: VariantArg,
        /// Encode without CIC (RFC 3204 body).
        #[arg(long)]
        no_cic: bool,
        /// A JSON file, or `-` for stdin.
        file: String,
    },
}

pub fn run(cmd: IsupCommand) -> Result<ExitCode> {
    match cmd {
        IsupCommand::Decode {
            variant,
            no_cic,
            compact,
            hex,
        } => {
            let text = if hex == ["-"] {
                read_input("-")?
            } else {
                hex.join("")
            };
            let bytes = parse_hex(&text)?;
            let v = variant.variant();
            let value = if no_cic {
                json::to_json(&v.parse(&bytes)?, None)
            } else {
                let (cic, msg) = v.parse_with_cic(&bytes)?;
                json::to_json(&msg, Some(cic))
            };
            let out = if compact {
                serde_json::to_string(&value)?
            } else {
                serde_json::to_string_pretty(&value)?
            };
            println!("{out}");
        }
        IsupCommand::Encode {
            variant,
            no_cic,
            file,
        } => {
            let text = read_input(&file)?;
            let value: serde_json::Value =
                serde_json::from_str(&text).with_context(|| format!("{file}: not JSON"))?;
            let v = variant.variant();
            let (cic, msg) = json::from_json(&value, v)?;
            let mut out = Vec::new();
            match (no_cic, cic) {
                (true, None) => v.emit(&msg, &mut out)?,
                (false, Some(cic)) => v.emit_with_cic(cic, &msg, &mut out)?,
                (true, Some(_)) => bail!("the JSON has a cic but --no-cic was given"),
                (false, None) => bail!("the JSON has no cic: give one, or use --no-cic"),
            }
            println!("{}", hex::encode(out));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn read_input(path: &str) -> Result<String> {
    let mut s = String::new();
    if path == "-" {
        std::io::stdin().read_to_string(&mut s)?;
    } else {
        s = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    }
    Ok(s)
}

/// Hex with optional whitespace, `:` separators and a `0x` prefix.
fn parse_hex(text: &str) -> Result<Vec<u8>> {
    let t = text.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    let clean: String = t
        .chars()
        .filter(|c| !c.is_ascii_whitespace() && *c != ':')
        .collect();
    hex::decode(&clean).context("not a hex string")
}
