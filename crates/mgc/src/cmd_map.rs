//! `mgc map isup-to-sip CAUSE | sip-to-isup STATUS | tables`: the cause mapping the IWU uses
//! (`iwu::cause`, profiles `rfc3398` and `q1912`), for operators and tooling.

use anyhow::{Result, bail};
use clap::{Subcommand, ValueEnum};
use iwu::cause::{CauseMap, CauseOverride, CauseProfile, cause_text};
use std::process::ExitCode;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ProfileArg {
    /// RFC 3398 §7.2.6.1 / §8.2.6.1.
    Rfc3398,
    /// Q.1912.5 (profile A/C) differences.
    Q1912,
}

impl From<ProfileArg> for CauseProfile {
    fn from(p: ProfileArg) -> Self {
        match p {
            ProfileArg::Rfc3398 => CauseProfile::Rfc3398,
            ProfileArg::Q1912 => CauseProfile::Q1912,
        }
    }
}

#[derive(Subcommand)]
pub enum MapCommand {
    /// Print the SIP status (code and reason phrase) for a Q.850 cause value.
    IsupToSip {
        /// Cause value, 1-127.
        cause: u8,
        #[arg(long, value_enum, default_value = "rfc3398")]
        profile: ProfileArg,
        /// Q.850 location of the cause (0 = user); q1912 maps cause 21 from the user to 603.
        #[arg(long)]
        location: Option<u8>,
    },
    /// Print the ISUP cause value (and its Q.850 name) for a final SIP status.
    SipToIsup {
        /// Status code, 300-699.
        status: u16,
        #[arg(long, value_enum, default_value = "rfc3398")]
        profile: ProfileArg,
        /// First Warning code of the response (488/606 are mapped by it).
        #[arg(long)]
        warning: Option<u16>,
    },
    /// Print both tables of both profiles as Markdown (the text of docs/call-flows.md).
    Tables,
}

/// The line `mgc map` prints, or an error for out-of-range input.
pub fn answer(cmd: &MapCommand) -> Result<String> {
    let none = CauseOverride::default();
    Ok(match *cmd {
        MapCommand::IsupToSip {
            cause,
            profile,
            location,
        } => {
            if !(1..=127).contains(&cause) {
                bail!("cause value {cause} is outside 1-127 (Q.850 §2.2.5)");
            }
            let st = CauseMap::new(profile.into(), &none).isup_to_sip(cause, location);
            format!("{st} {}", sip::status::reason_phrase(st))
        }
        MapCommand::SipToIsup {
            status,
            profile,
            warning,
        } => {
            if !(300..=699).contains(&status) {
                bail!("status {status} is not a final failure status (300-699)");
            }
            match CauseMap::new(profile.into(), &none).sip_to_isup(status, warning) {
                Some(c) => format!("{c} {}", cause_text(c)).trim_end().to_string(),
                None => "none (no REL cause: the caller cancelled, REL already sent)".into(),
            }
        }
        MapCommand::Tables => iwu::cause::render_tables(),
    })
}

pub fn run(cmd: MapCommand) -> Result<ExitCode> {
    println!("{}", answer(&cmd)?.trim_end());
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn i2s(cause: u8, profile: ProfileArg, location: Option<u8>) -> String {
        answer(&MapCommand::IsupToSip {
            cause,
            profile,
            location,
        })
        .unwrap()
    }

    fn s2i(status: u16, profile: ProfileArg, warning: Option<u16>) -> String {
        answer(&MapCommand::SipToIsup {
            status,
            profile,
            warning,
        })
        .unwrap()
    }

    #[test]
    fn rfc3398_examples() {
        assert_eq!(i2s(17, ProfileArg::Rfc3398, None), "486 Busy Here");
        assert_eq!(i2s(1, ProfileArg::Rfc3398, None), "404 Not Found");
        assert_eq!(
            i2s(19, ProfileArg::Rfc3398, None),
            "480 Temporarily Unavailable"
        );
        assert_eq!(
            i2s(34, ProfileArg::Rfc3398, None),
            "503 Service Unavailable"
        );
        assert_eq!(s2i(486, ProfileArg::Rfc3398, None), "17 User busy");
        assert_eq!(s2i(404, ProfileArg::Rfc3398, None), "1 Unallocated number");
        assert_eq!(
            s2i(408, ProfileArg::Rfc3398, None),
            "102 Recovery on timer expiry"
        );
        assert_eq!(
            s2i(488, ProfileArg::Rfc3398, Some(305)),
            "65 Bearer capability not implemented"
        );
        assert!(s2i(487, ProfileArg::Rfc3398, None).starts_with("none"));
    }

    #[test]
    fn q1912_differences() {
        assert_eq!(s2i(480, ProfileArg::Q1912, None), "20 Subscriber absent");
        assert_eq!(
            s2i(403, ProfileArg::Q1912, None),
            "127 Interworking, unspecified"
        );
        assert_eq!(i2s(21, ProfileArg::Q1912, Some(0)), "603 Decline");
        assert_eq!(i2s(21, ProfileArg::Rfc3398, Some(0)), "403 Forbidden");
    }

    #[test]
    fn out_of_range_is_an_error_and_tables_render() {
        assert!(
            answer(&MapCommand::IsupToSip {
                cause: 0,
                profile: ProfileArg::Rfc3398,
                location: None
            })
            .is_err()
        );
        assert!(
            answer(&MapCommand::SipToIsup {
                status: 200,
                profile: ProfileArg::Rfc3398,
                warning: None
            })
            .is_err()
        );
        let t = answer(&MapCommand::Tables).unwrap();
        assert!(t.contains("| 17 | User busy | 486 | 486 |"));
    }
}
