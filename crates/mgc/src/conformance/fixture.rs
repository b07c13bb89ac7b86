//! The fixture format (TOML), documented in docs/conformance.md.

use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// One conformance case: a configuration overlay and ordered steps.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    /// Short title for the table.
    pub name: String,
    /// The clause or test of the standard the case is modelled on (Q.784.1 §…, RFC 3398 §…).
    #[serde(default)]
    pub reference: String,
    #[serde(default)]
    pub description: String,
    /// The gateway is known not to conform here: the reason. The case must still fail (a known
    /// failure that passes is reported, so that the list shrinks).
    #[serde(default)]
    pub known_failure: Option<String>,
    /// Deep-merged over config/default.toml (tables by key, arrays of tables by index).
    #[serde(default)]
    pub config: toml::Table,
    /// `reset` (default): the gateway's start-up GRS is answered with GRA before the steps run.
    /// `none`: the steps see the GRS themselves.
    #[serde(default)]
    pub startup: Startup,
    /// `idle` (default): every circuit idle, no call, no timer at the end. `any`: not checked.
    #[serde(default)]
    pub end_state: EndState,
    /// Point code of the far exchange (OPC of `isup_in`); default: the first trunk group's DPC.
    /// A step's `dpc` names another one.
    #[serde(default)]
    pub opc: Option<u32>,
    /// The SIP peer requests come from; default: the first configured peer.
    #[serde(default)]
    pub peer: Option<String>,
    #[serde(rename = "step", default)]
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Startup {
    #[default]
    Reset,
    None,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EndState {
    #[default]
    Idle,
    Any,
}

/// A SIP start line to expect: a method name or a status code.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum SipWhat {
    Status(u16),
    Method(String),
}

impl std::fmt::Display for SipWhat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SipWhat::Status(s) => write!(f, "{s}"),
            SipWhat::Method(m) => f.write_str(m),
        }
    }
}

/// An ISUP body expectation: a message type that must be there, or `false` (no ISUP part).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum BodyExpect {
    Present(bool),
    Type(String),
}

/// One step: exactly one of the action keys (`isup_in`, `sip_in`, `sip_reply`, `wait`,
/// `expect_isup`, `expect_sip`, `expect_nothing`, `expect_circuit`, `expect_event`,
/// `expect_record`, `operator`), with the modifiers that apply to it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    // ---- actions ----
    /// ISUP from the far exchange: a message type built with the simulator's defaults
    /// (`ss7sim::msg::default_for`), then `parameters`/`remove`; or `message` / `hex`.
    pub isup_in: Option<String>,
    /// SIP from the peer: a message text with `{variables}`; `sdp`/`isup` add a body.
    pub sip_in: Option<String>,
    /// A SIP response from the peer to the gateway's last request of method `to` (INVITE).
    pub sip_reply: Option<u16>,
    /// Advance the virtual clock by this many seconds, firing due timers in order.
    pub wait: Option<f64>,
    pub expect_isup: Option<String>,
    pub expect_sip: Option<SipWhat>,
    pub expect_nothing: Option<bool>,
    /// Circuit summary state (`idle`, `busy_incoming`, `busy_outgoing`, `locally_blocked`,
    /// `remotely_blocked`, `reset_pending`, `unequipped`) of `cic`, or of every circuit.
    pub expect_circuit: Option<String>,
    /// A gateway event: `glare`, `alert`, `discarded`; `contains` checks its text.
    pub expect_event: Option<String>,
    /// A call record: outcome `answered`, `rejected`, `abandoned`, `failed`; `cause` checks it.
    pub expect_record: Option<String>,
    /// An operator or transport action: `transport_up`, `transport_down`, `block`, `unblock`,
    /// `reset` (of `cic`), `reset_group`.
    pub operator: Option<String>,

    // ---- ISUP modifiers ----
    pub cic: Option<u16>,
    /// The exchange at the far end of the circuit: the OPC of `isup_in`, the DPC `expect_isup`
    /// must go to, the circuit of `expect_circuit` and `operator`. Like `cic`, it defaults to the
    /// last circuit sent or expected (at first: the fixture's `opc`).
    pub dpc: Option<u32>,
    /// `isup::json` parameter overrides (merged into a default message's parameters).
    #[serde(default)]
    pub parameters: Vec<Value>,
    #[serde(default)]
    pub remove: Vec<String>,
    /// A whole message in `isup::json` form.
    pub message: Option<Value>,
    /// Raw octets from the message type on (hex; the step's `cic` is prepended), for malformed
    /// or unknown messages.
    pub hex: Option<String>,
    /// `parameter.field` → value, or `parameter` → true/false (ISUP out, or the ISUP body).
    #[serde(default)]
    pub fields: serde_json::Map<String, Value>,

    // ---- SIP modifiers ----
    /// The gateway request `sip_reply` answers (method), default INVITE.
    pub to: Option<String>,
    /// Extra header lines for `sip_reply` (`"Require: 100rel"`).
    #[serde(default)]
    pub add_headers: Vec<String>,
    /// Add (true) the standard SDP answer/offer as body; for expectations: SDP present or not.
    pub sdp: Option<bool>,
    /// An ISUP body to add to `sip_in`/`sip_reply` (SIP-I multipart), in the `isup_in` forms.
    pub isup: Option<IsupBody>,
    /// Expectations on headers: name → true (present), false (absent), or text it must contain.
    #[serde(default)]
    pub headers: BTreeMap<String, Value>,
    /// `Reason: Q.850;cause=N` expected.
    pub reason_cause: Option<u16>,
    /// Expected ISUP part: its message type, or false for none.
    pub isup_body: Option<BodyExpect>,
    /// The Request-URI must contain this.
    pub uri: Option<String>,
    /// Event text must contain this.
    pub contains: Option<String>,
    /// Call record cause.
    pub cause: Option<u8>,
}

/// An ISUP message given in a fixture: by type with overrides, whole JSON, or hex.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IsupBody {
    pub send: Option<String>,
    #[serde(default)]
    pub parameters: Vec<Value>,
    #[serde(default)]
    pub remove: Vec<String>,
    pub message: Option<Value>,
    pub hex: Option<String>,
    /// RFC 3204 `version` parameter (default `itu-t92+`).
    pub version: Option<String>,
    /// RFC 3204 `base` parameter (default `itu-t92+`; empty: none).
    pub base: Option<String>,
    /// RFC 3204 `handling` (`required` or `optional`, default `required`).
    pub handling: Option<String>,
}

impl Step {
    /// The name of the step's action, or an error if not exactly one is given.
    pub fn kind(&self) -> Result<&'static str, String> {
        let kinds = [
            ("isup_in", self.isup_in.is_some()),
            ("sip_in", self.sip_in.is_some()),
            ("sip_reply", self.sip_reply.is_some()),
            ("wait", self.wait.is_some()),
            ("expect_isup", self.expect_isup.is_some()),
            ("expect_sip", self.expect_sip.is_some()),
            ("expect_nothing", self.expect_nothing.is_some()),
            ("expect_circuit", self.expect_circuit.is_some()),
            ("expect_event", self.expect_event.is_some()),
            ("expect_record", self.expect_record.is_some()),
            ("operator", self.operator.is_some()),
        ];
        let given: Vec<_> = kinds.iter().filter(|k| k.1).map(|k| k.0).collect();
        match given.as_slice() {
            [one] => Ok(one),
            [] => Err("no action (isup_in, sip_in, sip_reply, wait, expect_…, operator)".into()),
            many => Err(format!("more than one action: {}", many.join(", "))),
        }
    }
}

impl Fixture {
    pub fn from_toml(text: &str) -> Result<Fixture, String> {
        let f: Fixture = toml::from_str(text).map_err(|e| e.to_string())?;
        if f.steps.is_empty() {
            return Err("no steps".into());
        }
        let mut expects = 0;
        for (i, s) in f.steps.iter().enumerate() {
            let k = s.kind().map_err(|e| format!("step {}: {e}", i + 1))?;
            if k.starts_with("expect_") {
                expects += 1;
            }
        }
        // Every fixture must assert something beyond the end state.
        if expects == 0 {
            return Err("no expect_ step: a fixture must assert what comes out".into());
        }
        Ok(f)
    }
}
