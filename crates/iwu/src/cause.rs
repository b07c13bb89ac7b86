//! Cause mapping as data: ISUP cause value (Q.850) ↔ SIP status code.
//!
//! Profile `rfc3398` is RFC 3398 §8.2.6.1 (ISUP → SIP) and §7.2.6.1 (SIP → ISUP). Profile `q1912`
//! is the RFC 3398 table with the rows Q.1912.5 (profile A/C, TS 29.163) changes: most 4xx/5xx
//! become 127, 480 → 20, and cause 21 from the user → 603. Rows of the Q.1912.5 profile are from
//! shared/reference/sip-isup-mapping.md §5.2 ([mem] there: verify against the Recommendation).
//! Each peer picks a profile and may override single rows in its configuration.

use serde::Deserialize;

/// A cause mapping profile.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum CauseProfile {
    #[default]
    Rfc3398,
    Q1912,
}

impl CauseProfile {
    pub const ALL: [CauseProfile; 2] = [CauseProfile::Rfc3398, CauseProfile::Q1912];

    pub fn name(self) -> &'static str {
        match self {
            CauseProfile::Rfc3398 => "rfc3398",
            CauseProfile::Q1912 => "q1912",
        }
    }

    pub fn parse(s: &str) -> Option<CauseProfile> {
        Self::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
    }
}

/// One ISUP → SIP row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IsupToSip {
    pub cause: u8,
    pub status: u16,
    pub note: &'static str,
}

/// What a SIP status maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SipCause {
    /// This cause value.
    Cause(u8),
    /// RFC 3398: decided by the Warning header (488, 606); the value is used without one.
    ByWarning(u8),
    /// No mapping (487: the caller cancelled; the REL was already sent).
    None,
}

/// One SIP → ISUP row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SipToIsup {
    pub status: u16,
    pub cause: SipCause,
    pub note: &'static str,
}

const fn i(cause: u8, status: u16, note: &'static str) -> IsupToSip {
    IsupToSip {
        cause,
        status,
        note,
    }
}
const fn s(status: u16, cause: u8) -> SipToIsup {
    SipToIsup {
        status,
        cause: SipCause::Cause(cause),
        note: "",
    }
}
const fn sn(status: u16, cause: u8, note: &'static str) -> SipToIsup {
    SipToIsup {
        status,
        cause: SipCause::Cause(cause),
        note,
    }
}

/// RFC 3398 §8.2.6.1 (ISUP cause → SIP status).
pub static RFC3398_ISUP_TO_SIP: &[IsupToSip] = &[
    i(1, 404, "unallocated number"),
    i(2, 404, "no route to network"),
    i(3, 404, "no route to destination"),
    i(
        16,
        480,
        "normal call clearing: BYE/CANCEL normally; no RFC 3398 row when a response is needed",
    ),
    i(17, 486, "user busy"),
    i(18, 408, "no user responding"),
    i(19, 480, "no answer from user"),
    i(20, 480, "subscriber absent"),
    i(21, 403, "call rejected"),
    i(22, 410, "number changed"),
    i(23, 410, "redirection to new destination"),
    i(26, 404, "non-selected user clearing (ANSI)"),
    i(27, 502, "destination out of order"),
    i(28, 484, "address incomplete"),
    i(
        29,
        501,
        "facility rejected (RFC text prints 510, which does not exist)",
    ),
    i(31, 480, "normal, unspecified"),
    i(34, 503, "no circuit available"),
    i(38, 503, "network out of order"),
    i(41, 503, "temporary failure"),
    i(42, 503, "switching equipment congestion"),
    i(47, 503, "resource unavailable"),
    i(55, 403, "incoming calls barred within CUG"),
    i(57, 403, "bearer capability not authorized"),
    i(58, 503, "bearer capability not presently available"),
    i(65, 488, "bearer capability not implemented"),
    i(70, 488, "only restricted digital available"),
    i(79, 501, "service or option not implemented"),
    i(87, 403, "user not member of CUG"),
    i(88, 503, "incompatible destination"),
    i(102, 504, "recovery on timer expiry"),
    i(111, 500, "protocol error"),
    i(127, 500, "interworking, unspecified"),
];

/// Q.1912.5 rows that differ from RFC 3398 (ISUP → SIP).
pub static Q1912_ISUP_TO_SIP: &[IsupToSip] = &[
    i(
        21,
        403,
        "call rejected; 603 Decline when the cause location is user",
    ),
    i(88, 488, "incompatible destination"),
];

/// Status for causes with no row (common practice; not normative).
pub const DEFAULT_STATUS: u16 = 500;

/// RFC 3398 §7.2.6.1 (SIP status → ISUP cause).
pub static RFC3398_SIP_TO_ISUP: &[SipToIsup] = &[
    s(400, 41),
    sn(401, 21, "the gateway may answer the challenge instead"),
    s(402, 21),
    s(403, 21),
    s(404, 1),
    s(405, 63),
    s(406, 79),
    sn(407, 21, "the gateway may answer the challenge instead"),
    s(408, 102),
    s(410, 22),
    s(413, 127),
    s(414, 127),
    s(415, 79),
    s(416, 127),
    s(420, 127),
    s(421, 127),
    s(423, 127),
    s(480, 18),
    s(481, 41),
    s(482, 25),
    s(483, 25),
    s(484, 28),
    s(485, 1),
    s(486, 17),
    SipToIsup {
        status: 487,
        cause: SipCause::None,
        note: "request terminated: the caller cancelled",
    },
    SipToIsup {
        status: 488,
        cause: SipCause::ByWarning(127),
        note: "Warning 304/305/306/307 (media) → 65, else 127",
    },
    s(500, 41),
    s(501, 79),
    s(502, 38),
    s(503, 41),
    s(504, 102),
    s(505, 127),
    s(513, 127),
    s(600, 17),
    s(603, 21),
    s(604, 1),
    SipToIsup {
        status: 606,
        cause: SipCause::ByWarning(127),
        note: "Warning 304/305/306/307 (media) → 65, else 127",
    },
];

/// Q.1912.5 rows that differ from RFC 3398 (SIP → ISUP): most 4xx/5xx → 127 interworking.
pub static Q1912_SIP_TO_ISUP: &[SipToIsup] = &[
    s(400, 127),
    s(401, 127),
    s(402, 127),
    s(403, 127),
    s(405, 127),
    s(406, 127),
    s(407, 127),
    s(408, 127),
    s(415, 127),
    s(480, 20),
    s(481, 127),
    s(482, 127),
    s(483, 127),
    s(485, 127),
    s(500, 127),
    s(501, 127),
    s(502, 127),
    s(503, 127),
    s(504, 127),
];

/// Cause for statuses with no row (class default practice).
pub const DEFAULT_CAUSE: u8 = 127;

/// REL cause for a CANCEL without Reason: RFC 3398 §7.2.4 uses 16; Q.1912.5 uses 31.
pub fn cancel_cause(p: CauseProfile) -> u8 {
    match p {
        CauseProfile::Rfc3398 => 16,
        CauseProfile::Q1912 => 31,
    }
}

/// Overrides of single rows, per peer.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct CauseOverride {
    pub isup_to_sip: Vec<IsupToSipOverride>,
    pub sip_to_isup: Vec<SipToIsupOverride>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IsupToSipOverride {
    pub cause: u8,
    pub status: u16,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SipToIsupOverride {
    pub status: u16,
    pub cause: u8,
}

/// A resolved mapping: profile rows, then profile differences, then per-peer overrides.
#[derive(Debug, Clone)]
pub struct CauseMap {
    pub profile: CauseProfile,
    isup_to_sip: [u16; 128],
    sip_to_isup: Vec<(u16, SipCause)>,
}

impl CauseMap {
    pub fn new(profile: CauseProfile, overrides: &CauseOverride) -> CauseMap {
        let mut isup_to_sip = [DEFAULT_STATUS; 128];
        let mut sip_to_isup: Vec<(u16, SipCause)> = Vec::new();
        let put = |v: &mut Vec<(u16, SipCause)>, st: u16, c: SipCause| match v
            .iter_mut()
            .find(|(s, _)| *s == st)
        {
            Some(r) => r.1 = c,
            None => v.push((st, c)),
        };
        for r in RFC3398_ISUP_TO_SIP {
            isup_to_sip[r.cause as usize & 0x7F] = r.status;
        }
        for r in RFC3398_SIP_TO_ISUP {
            put(&mut sip_to_isup, r.status, r.cause);
        }
        if profile == CauseProfile::Q1912 {
            for r in Q1912_ISUP_TO_SIP {
                isup_to_sip[r.cause as usize & 0x7F] = r.status;
            }
            for r in Q1912_SIP_TO_ISUP {
                put(&mut sip_to_isup, r.status, r.cause);
            }
        }
        for o in &overrides.isup_to_sip {
            if (300..700).contains(&o.status) {
                isup_to_sip[o.cause as usize & 0x7F] = o.status;
            }
        }
        for o in &overrides.sip_to_isup {
            put(&mut sip_to_isup, o.status, SipCause::Cause(o.cause & 0x7F));
        }
        sip_to_isup.sort_by_key(|r| r.0);
        CauseMap {
            profile,
            isup_to_sip,
            sip_to_isup,
        }
    }

    /// The SIP status for an ISUP cause. `location` is the Q.850 location of the cause
    /// indicators (0 = user) if known.
    pub fn isup_to_sip(&self, cause: u8, location: Option<u8>) -> u16 {
        let st = self.isup_to_sip[cause as usize & 0x7F];
        // Q.1912.5: cause 21 generated by the user → 603 Decline (RFC 3398 §8.2.6.1 (+) allows 6xx).
        if self.profile == CauseProfile::Q1912 && cause == 21 && location == Some(0) && st == 403 {
            return 603;
        }
        st
    }

    /// The ISUP cause for a final SIP status (≥ 300) and the first Warning code, if any.
    /// `None` for 487 (no mapping: the REL went out with the CANCEL).
    pub fn sip_to_isup(&self, status: u16, warning: Option<u16>) -> Option<u8> {
        match self.row(status) {
            Some(SipCause::Cause(c)) => Some(c),
            // RFC 3398 §7.2.6.1: 488/606 by Warning; media warnings (RFC 3261 §20.43 codes
            // 304-307) → 65 bearer capability not implemented.
            Some(SipCause::ByWarning(d)) => match warning {
                Some(304..=307) => Some(65),
                _ => Some(d),
            },
            Some(SipCause::None) => None,
            None => Some(DEFAULT_CAUSE),
        }
    }

    fn row(&self, status: u16) -> Option<SipCause> {
        self.sip_to_isup
            .binary_search_by_key(&status, |r| r.0)
            .ok()
            .map(|i| self.sip_to_isup[i].1)
    }
}

/// Q.850 cause names for Reason `text` and the rendered tables.
pub fn cause_text(cause: u8) -> &'static str {
    match cause {
        1 => "Unallocated number",
        2 => "No route to network",
        3 => "No route to destination",
        16 => "Normal call clearing",
        17 => "User busy",
        18 => "No user responding",
        19 => "No answer from user",
        20 => "Subscriber absent",
        21 => "Call rejected",
        22 => "Number changed",
        23 => "Redirection to new destination",
        25 => "Exchange routing error",
        26 => "Non-selected user clearing",
        27 => "Destination out of order",
        28 => "Invalid number format",
        29 => "Facility rejected",
        31 => "Normal, unspecified",
        34 => "No circuit/channel available",
        38 => "Network out of order",
        41 => "Temporary failure",
        42 => "Switching equipment congestion",
        47 => "Resource unavailable, unspecified",
        55 => "Incoming calls barred within CUG",
        57 => "Bearer capability not authorized",
        58 => "Bearer capability not presently available",
        63 => "Service or option not available, unspecified",
        65 => "Bearer capability not implemented",
        70 => "Only restricted digital information bearer capability is available",
        79 => "Service or option not implemented, unspecified",
        87 => "User not member of CUG",
        88 => "Incompatible destination",
        102 => "Recovery on timer expiry",
        111 => "Protocol error, unspecified",
        127 => "Interworking, unspecified",
        _ => "",
    }
}

/// Markdown tables of both profiles in both directions, rendered from the data above
/// (docs/call-flows.md embeds this text; a test keeps them equal).
pub fn render_tables() -> String {
    use std::fmt::Write;
    let none = CauseOverride::default();
    let r = CauseMap::new(CauseProfile::Rfc3398, &none);
    let q = CauseMap::new(CauseProfile::Q1912, &none);
    let mut out = String::new();
    out.push_str("### ISUP cause → SIP status\n\n");
    out.push_str("| cause | meaning | rfc3398 | q1912 | note |\n|---|---|---|---|---|\n");
    let mut causes: Vec<u8> = RFC3398_ISUP_TO_SIP
        .iter()
        .chain(Q1912_ISUP_TO_SIP)
        .map(|r| r.cause)
        .collect();
    causes.sort_unstable();
    causes.dedup();
    for c in causes {
        let note = RFC3398_ISUP_TO_SIP
            .iter()
            .chain(Q1912_ISUP_TO_SIP)
            .filter(|x| x.cause == c)
            .map(|x| x.note)
            .next_back()
            .unwrap_or("");
        let qs = if c == 21 {
            "403 / 603 (location user)".to_string()
        } else {
            q.isup_to_sip(c, None).to_string()
        };
        let _ = writeln!(
            out,
            "| {c} | {} | {} | {qs} | {note} |",
            cause_text(c),
            r.isup_to_sip(c, None)
        );
    }
    let _ = writeln!(
        out,
        "| other | | {DEFAULT_STATUS} | {DEFAULT_STATUS} | no row: safe default |"
    );
    out.push_str("\n### SIP status → ISUP cause\n\n");
    out.push_str("| status | reason | rfc3398 | q1912 | note |\n|---|---|---|---|---|\n");
    let fmt = |m: &CauseMap, st: u16| match m.row(st) {
        Some(SipCause::Cause(c)) => c.to_string(),
        Some(SipCause::ByWarning(d)) => format!("65 by Warning, else {d}"),
        Some(SipCause::None) => "—".to_string(),
        None => DEFAULT_CAUSE.to_string(),
    };
    let mut statuses: Vec<u16> = RFC3398_SIP_TO_ISUP
        .iter()
        .chain(Q1912_SIP_TO_ISUP)
        .map(|r| r.status)
        .collect();
    statuses.sort_unstable();
    statuses.dedup();
    for st in statuses {
        let note = RFC3398_SIP_TO_ISUP
            .iter()
            .find(|x| x.status == st)
            .map(|x| x.note)
            .unwrap_or("");
        let _ = writeln!(
            out,
            "| {st} | {} | {} | {} | {note} |",
            sip::status::reason_phrase(st),
            fmt(&r, st),
            fmt(&q, st)
        );
    }
    let _ = writeln!(
        out,
        "| other | | {DEFAULT_CAUSE} | {DEFAULT_CAUSE} | no row: interworking, unspecified |"
    );
    let _ = writeln!(
        out,
        "\nCANCEL without Reason → REL cause {} (rfc3398) / {} (q1912). SIP transaction timeout \
         (timer B/F) → cause 102 in both profiles. Precedence on SIP → ISUP: encapsulated REL \
         (SIP-I/SIP-T) > `Reason: Q.850;cause=N` > table.",
        cancel_cause(CauseProfile::Rfc3398),
        cancel_cause(CauseProfile::Q1912)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3398_rows() {
        let m = CauseMap::new(CauseProfile::Rfc3398, &CauseOverride::default());
        assert_eq!(m.isup_to_sip(17, None), 486);
        assert_eq!(m.isup_to_sip(1, None), 404);
        assert_eq!(m.isup_to_sip(19, None), 480);
        assert_eq!(m.isup_to_sip(34, None), 503);
        assert_eq!(m.isup_to_sip(102, None), 504);
        assert_eq!(m.isup_to_sip(99, None), 500);
        assert_eq!(m.isup_to_sip(21, Some(0)), 403);
        assert_eq!(m.sip_to_isup(486, None), Some(17));
        assert_eq!(m.sip_to_isup(404, None), Some(1));
        assert_eq!(m.sip_to_isup(480, None), Some(18));
        assert_eq!(m.sip_to_isup(487, None), None);
        assert_eq!(m.sip_to_isup(488, Some(305)), Some(65));
        assert_eq!(m.sip_to_isup(488, None), Some(127));
        assert_eq!(m.sip_to_isup(409, None), Some(127));
    }

    #[test]
    fn q1912_rows_and_overrides() {
        let o = CauseOverride {
            isup_to_sip: vec![IsupToSipOverride {
                cause: 17,
                status: 600,
            }],
            sip_to_isup: vec![SipToIsupOverride {
                status: 503,
                cause: 34,
            }],
        };
        let m = CauseMap::new(CauseProfile::Q1912, &o);
        assert_eq!(m.sip_to_isup(480, None), Some(20));
        assert_eq!(m.sip_to_isup(403, None), Some(127));
        assert_eq!(m.sip_to_isup(486, None), Some(17));
        assert_eq!(m.sip_to_isup(503, None), Some(34));
        assert_eq!(m.isup_to_sip(17, None), 600);
        assert_eq!(m.isup_to_sip(21, Some(0)), 603);
        assert_eq!(m.isup_to_sip(21, Some(2)), 403);
        assert_eq!(CauseProfile::parse("Q1912"), Some(CauseProfile::Q1912));
    }

    #[test]
    fn every_mapped_status_is_a_final_sip_status() {
        for r in RFC3398_ISUP_TO_SIP.iter().chain(Q1912_ISUP_TO_SIP) {
            assert!((300..700).contains(&r.status), "{r:?}");
            assert_ne!(sip::status::reason_phrase(r.status), "", "{r:?}");
        }
    }
}
