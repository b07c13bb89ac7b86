//! Scripted scenarios, like SIPp's: a TOML file of steps run in order.
//!
//! ```toml
//! name = "busy subscriber"
//! cic = 5                 # CIC of the steps (default 1)
//! timeout = "5s"          # default for expect steps
//!
//! [[step]]
//! send = "IAM"
//! parameters = [{ name = "called_party_number", digits = "4930666" }]
//!
//! [[step]]
//! expect = "REL"
//! fields = { "cause_indicators.cause_value" = 17 }
//!
//! [[step]]
//! send = "RLC"
//! ```
//!
//! - `send`: a message type (Q.763 abbreviation) built with the simulator's defaults, then
//!   `parameters` overrides (the `isup::json` parameter form; fields of a present parameter are
//!   merged) and `remove` (parameter names). `message` gives a whole message in `isup::json`
//!   form instead.
//! - `expect`: the next received message (on the step's CIC) must have this type, and each
//!   `fields` entry (`parameter_name.field` → value, or `parameter_name` → true for presence)
//!   must hold, within `timeout`. Message types in `ignore` (scenario or step) are skipped while
//!   waiting; any other message fails the step. `any_cic = true` accepts any CIC and makes it the
//!   CIC of the following steps (for calls the peer originates).
//! - `pc` (scenario or step): the exchange of the step when the simulator plays several: sends
//!   come from that point code, and `expect` takes only messages to it. Without it, sends come
//!   from the first exchange and `expect` takes messages to any of them. An `any_cic` match
//!   also makes its point code that of the following steps.
//! - `pause`: wait.
//!
//! The run passes only if every step held.

use std::time::Duration;

use isup::{Message, MessageType, Variant};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

use crate::config::{Config, dur};
use crate::msg;
use crate::sim::{MsgDir, SimEvent, SimHandle};

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("scenario: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("scenario step {step}: {reason}")]
    Step { step: usize, reason: String },
}

/// Message types answered automatically by the maintenance procedures: skipped while waiting.
pub const DEFAULT_IGNORE: &[&str] = &["GRS", "RSC", "BLO", "UBL", "CGB", "CGU", "CQM"];

fn default_ignore() -> Vec<String> {
    DEFAULT_IGNORE.iter().map(|s| s.to_string()).collect()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    #[serde(default)]
    pub name: String,
    #[serde(default = "one")]
    pub cic: u16,
    /// The exchange (own point code) of the steps, when the simulator plays several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pc: Option<u32>,
    #[serde(default = "five_s", with = "dur")]
    pub timeout: Duration,
    #[serde(default = "default_ignore")]
    pub ignore: Vec<String>,
    /// Override the config's `auto_maintenance` (false: the scenario answers GRS, BLO … itself).
    #[serde(default)]
    pub auto_maintenance: Option<bool>,
    #[serde(rename = "step", default)]
    pub steps: Vec<Step>,
}

fn one() -> u16 {
    1
}
fn five_s() -> Duration {
    Duration::from_secs(5)
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub send: Option<String>,
    /// A whole message in `isup::json` form (instead of `send`).
    pub message: Option<Value>,
    pub expect: Option<String>,
    #[serde(default, with = "dur::option", skip_serializing_if = "Option::is_none")]
    pub pause: Option<Duration>,
    pub cic: Option<u16>,
    /// The step's exchange (own point code); default: the scenario's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pc: Option<u32>,
    #[serde(default)]
    pub any_cic: bool,
    #[serde(default)]
    pub parameters: Vec<Value>,
    #[serde(default)]
    pub remove: Vec<String>,
    #[serde(default)]
    pub fields: serde_json::Map<String, Value>,
    #[serde(default, with = "dur::option", skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    #[serde(default)]
    pub ignore: Vec<String>,
}

impl Scenario {
    pub fn from_toml(text: &str) -> Result<Scenario, ScenarioError> {
        let sc: Scenario = toml::from_str(text)?;
        sc.validate()?;
        Ok(sc)
    }

    fn validate(&self) -> Result<(), ScenarioError> {
        for (i, s) in self.steps.iter().enumerate() {
            let err = |reason: String| ScenarioError::Step {
                step: i + 1,
                reason,
            };
            let kinds = s.send.is_some() as u8
                + s.message.is_some() as u8
                + s.expect.is_some() as u8
                + s.pause.is_some() as u8;
            if kinds != 1 {
                return Err(err(
                    "give exactly one of send, message, expect, pause".into()
                ));
            }
            for t in s.send.iter().chain(&s.expect).chain(&s.ignore) {
                if Variant::ITU.message_type_by_abbreviation(t).is_none() {
                    return Err(err(format!("unknown message type {t:?}")));
                }
            }
        }
        Ok(())
    }
}

/// Outcome of one step.
#[derive(Debug, Clone, Serialize)]
pub struct StepResult {
    pub step: usize,
    pub what: String,
    pub ok: bool,
    pub detail: String,
    pub elapsed_ms: f64,
}

/// Outcome of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub name: String,
    pub passed: bool,
    pub steps: Vec<StepResult>,
}

/// Checks `fields` against a message; returns the first mismatch.
pub fn check_fields(m: &Message, fields: &serde_json::Map<String, Value>) -> Result<(), String> {
    let j = isup::json::to_json(m, None);
    let params = j["parameters"].as_array().cloned().unwrap_or_default();
    for (path, want) in fields {
        let (pname, field) = match path.split_once('.') {
            Some((p, f)) => (p, Some(f)),
            None => (path.as_str(), None),
        };
        let p = params.iter().find(|p| p["name"] == pname);
        match (p, field) {
            (None, _) if want == &Value::Bool(false) => {}
            (None, _) => return Err(format!("{pname} absent")),
            (Some(_), None) if want == &Value::Bool(false) => {
                return Err(format!("{pname} present"));
            }
            (Some(_), None) => {}
            (Some(p), Some(f)) => {
                let got = p.get(f).cloned().unwrap_or(Value::Null);
                let same = match (&got, want) {
                    (Value::String(a), Value::String(b)) => a.eq_ignore_ascii_case(b),
                    (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
                    (a, b) => a == b,
                };
                if !same {
                    return Err(format!("{path} is {got}, expected {want}"));
                }
            }
        }
    }
    Ok(())
}

/// Runs a scenario on a simulator (ideally spawned with `auto_calls = false`); messages count
/// from now on.
pub async fn run(sim: &SimHandle, sc: &Scenario, cfg: &Config) -> Report {
    run_from(sim, sim.subscribe(), sc, cfg).await
}

/// Runs a scenario with a subscription taken earlier, e.g. right after spawning and before the
/// peer came up, so that a message the peer sends at once is not missed.
pub async fn run_from(
    sim: &SimHandle,
    mut rx: tokio::sync::broadcast::Receiver<SimEvent>,
    sc: &Scenario,
    cfg: &Config,
) -> Report {
    let mut cic = sc.cic;
    let mut pc = sc.pc;
    let mut steps = Vec::new();
    for (i, step) in sc.steps.iter().enumerate() {
        let t0 = Instant::now();
        let step_cic = step.cic.unwrap_or(cic);
        let step_pc = step.pc.or(pc);
        let at = step_pc.map(|p| format!("pc {p} ")).unwrap_or_default();
        let (what, res) = if let Some(p) = step.pause {
            tokio::time::sleep(p).await;
            (format!("pause {}", dur::format(&p)), Ok(String::new()))
        } else if step.send.is_some() || step.message.is_some() {
            let built = build(step, step_cic, cfg);
            let what = match &built {
                Ok((c, m)) => format!("send {} {at}cic {c}", m.message_type),
                Err(_) => "send".into(),
            };
            let from = match step_pc {
                Some(p) => sim.exchange(p),
                None => sim.clone(),
            };
            let r = match built {
                Ok((c, m)) => from
                    .send(c, m)
                    .await
                    .map(|_| String::new())
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e),
            };
            (what, r)
        } else {
            let want = step.expect.clone().unwrap_or_default();
            let what = if step.any_cic {
                format!("expect {want} {at}any cic")
            } else {
                format!("expect {want} {at}cic {step_cic}")
            };
            let r = expect(&mut rx, sc, step, &want, step_pc, step_cic).await;
            if let Ok((p, c, _)) = &r
                && step.any_cic
            {
                cic = *c;
                pc = Some(*p);
            }
            (what, r.map(|(_, _, d)| d))
        };
        let ok = res.is_ok();
        steps.push(StepResult {
            step: i + 1,
            what,
            ok,
            detail: res.unwrap_or_else(|e| e),
            elapsed_ms: t0.elapsed().as_secs_f64() * 1000.0,
        });
        if !ok {
            break;
        }
    }
    let passed = steps.len() == sc.steps.len() && steps.iter().all(|s| s.ok);
    Report {
        name: sc.name.clone(),
        passed,
        steps,
    }
}

fn build(step: &Step, cic: u16, cfg: &Config) -> Result<(u16, Message), String> {
    if let Some(v) = &step.message {
        let (c, m) = isup::json::from_json(v, &Variant::ITU).map_err(|e| e.to_string())?;
        return Ok((c.unwrap_or(cic), m));
    }
    let abbr = step.send.as_deref().unwrap_or_default();
    let t = Variant::ITU
        .message_type_by_abbreviation(abbr)
        .ok_or_else(|| format!("unknown message type {abbr}"))?;
    let mut m = msg::default_for(t, &cfg.originate, cfg.cause_location).unwrap_or_else(|| {
        // Types without a default: start empty, the overrides must supply the parameters.
        Message::new(t)
    });
    msg::apply_overrides(&mut m, &step.parameters, &step.remove)?;
    Ok((cic, m))
}

async fn expect(
    rx: &mut tokio::sync::broadcast::Receiver<SimEvent>,
    sc: &Scenario,
    step: &Step,
    want: &str,
    pc: Option<u32>,
    cic: u16,
) -> Result<(u32, u16, String), String> {
    let want_t: MessageType = Variant::ITU
        .message_type_by_abbreviation(want)
        .ok_or_else(|| format!("unknown message type {want}"))?;
    let timeout = step.timeout.unwrap_or(sc.timeout);
    let deadline = Instant::now() + timeout;
    let ignored = |t: MessageType| {
        sc.ignore
            .iter()
            .chain(&step.ignore)
            .any(|a| Variant::ITU.message_type_by_abbreviation(a) == Some(t))
    };
    loop {
        let ev = match tokio::time::timeout_at(deadline, rx.recv()).await {
            Err(_) => return Err(format!("timeout after {}", dur::format(&timeout))),
            Ok(Err(RecvError::Lagged(n))) => return Err(format!("{n} events lost (lagged)")),
            Ok(Err(RecvError::Closed)) => return Err("simulator stopped".into()),
            Ok(Ok(ev)) => ev,
        };
        let (p, c, m) = match ev {
            SimEvent::Message {
                dir: MsgDir::Received,
                dpc,
                cic,
                message,
                ..
            } if pc.is_none_or(|pc| pc == dpc) => (dpc, cic, message),
            SimEvent::BadMessage { error, .. } => {
                return Err(format!("undecodable message received: {error}"));
            }
            _ => continue,
        };
        let cic_ok = step.any_cic || c == cic;
        if m.message_type == want_t && cic_ok {
            check_fields(&m, &step.fields)?;
            let at = pc.map(|p| format!("pc {p} ")).unwrap_or_default();
            return Ok((p, c, format!("{} {at}cic {c}", m.message_type)));
        }
        if ignored(m.message_type) {
            continue;
        }
        return Err(format!(
            "received {} on cic {c} while expecting {want} on cic {}",
            m.message_type,
            if step.any_cic {
                "any".to_string()
            } else {
                cic.to_string()
            }
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_validates() {
        let sc = Scenario::from_toml(
            r#"
            name = "x"
            cic = 3
            [[step]]
            send = "IAM"
            parameters = [{ name = "called_party_number", digits = "4930" }]
            [[step]]
            expect = "ACM"
            timeout = "2s"
            fields = { "backward_call_indicators.called_party_status" = 1 }
            [[step]]
            pause = "10ms"
            "#,
        )
        .unwrap();
        assert_eq!(sc.steps.len(), 3);
        assert_eq!(sc.cic, 3);
        assert!(Scenario::from_toml("[[step]]\nsend = \"XYZ\"").is_err());
        assert!(Scenario::from_toml("[[step]]\nsend = \"IAM\"\nexpect = \"ACM\"").is_err());
    }

    #[test]
    fn steps_build_messages() {
        let cfg = Config::default();
        let sc = Scenario::from_toml(
            r#"
            [[step]]
            message = { cic = 9, message_type = "REL", parameters = [{ name = "cause_indicators", cause_value = 34, location = 3 }] }
            [[step]]
            send = "ACM"
            cic = 4
            parameters = [{ name = "backward_call_indicators", called_party_status = 2 }]
            [[step]]
            send = "IAM"
            remove = ["calling_party_number", "user_service_information"]
            "#,
        )
        .unwrap();
        let (cic, rel) = build(&sc.steps[0], 1, &cfg).unwrap();
        assert_eq!(cic, 9);
        assert_eq!(rel.get::<isup::CauseIndicators>().unwrap().cause_value, 34);
        let (cic, acm) = build(&sc.steps[1], 4, &cfg).unwrap();
        assert_eq!(cic, 4);
        let bci = acm.get::<isup::BackwardCallIndicators>().unwrap();
        assert_eq!((bci.called_party_status, bci.charge_indicator), (2, 2));
        let (_, iam) = build(&sc.steps[2], 1, &cfg).unwrap();
        assert_eq!(iam.parameters.len(), 5, "mandatory parameters only");
        let mut b = Vec::new();
        iam.emit_with_cic(1, &mut b).unwrap();
    }

    #[test]
    fn field_checks() {
        let m = msg::rel(17, 2);
        let mut f = serde_json::Map::new();
        f.insert("cause_indicators.cause_value".into(), 17.into());
        f.insert("cause_indicators".into(), true.into());
        f.insert("calling_party_number".into(), false.into());
        assert!(check_fields(&m, &f).is_ok());
        f.insert("cause_indicators.location".into(), 3.into());
        assert!(check_fields(&m, &f).unwrap_err().contains("location"));
        let o = Config::default().originate;
        let iam = msg::iam(&o, &o.called);
        let mut g = serde_json::Map::new();
        g.insert("called_party_number.digits".into(), "4930123456".into());
        assert!(check_fields(&iam, &g).is_ok());
    }
}
