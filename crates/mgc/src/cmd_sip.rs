//! `mgc sip parse FILE`: one SIP message as a JSON summary; `application/ISUP`
//! parts are decoded with the isup crate (RFC 3204 body: no CIC).

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use serde_json::{Map, Value, json};
use sip::{Message, SipBody};
use std::io::Read;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum SipCommand {
    /// Parse one SIP message and print `kind`, `method`/`status`, `request_uri`, `call_id`,
    /// `cseq` ({seq, method}), `headers` (count) and `body_parts` (each `content_type`,
    /// `disposition`, `length`, and `isup` for ISUP parts). Exits 1 with the reason if invalid.
    Parse {
        /// A file holding the message as received (datagram semantics), or `-` for stdin.
        file: String,
        /// Print on one line.
        #[arg(long)]
        compact: bool,
    },
}

pub fn run(cmd: SipCommand) -> Result<ExitCode> {
    match cmd {
        SipCommand::Parse { file, compact } => {
            let raw = read_input(&file)?;
            let msg = match Message::parse(&raw) {
                Ok(m) => m,
                Err(e) => bail!(
                    "invalid SIP message ({} {}): {e}",
                    e.status(),
                    sip::status::reason_phrase(e.status())
                ),
            };
            let value = summary(&msg)?;
            let out = if compact {
                serde_json::to_string(&value)?
            } else {
                serde_json::to_string_pretty(&value)?
            };
            println!("{out}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn read_input(path: &str) -> Result<Vec<u8>> {
    if path == "-" {
        let mut v = Vec::new();
        std::io::stdin()
            .read_to_end(&mut v)
            .context("reading stdin")?;
        Ok(v)
    } else {
        std::fs::read(path).with_context(|| format!("reading {path}"))
    }
}

fn summary(msg: &Message) -> Result<Value> {
    let h = msg.headers();
    let mut m = Map::new();
    match msg {
        Message::Request(r) => {
            m.insert("kind".into(), json!("request"));
            m.insert("method".into(), json!(r.method.as_str()));
            m.insert("request_uri".into(), json!(r.uri.to_string()));
        }
        Message::Response(r) => {
            m.insert("kind".into(), json!("response"));
            m.insert("status".into(), json!(r.status));
            m.insert("reason".into(), json!(r.reason));
        }
    }
    m.insert(
        "call_id".into(),
        h.call_id().ok().map_or(Value::Null, |c| json!(c)),
    );
    m.insert(
        "cseq".into(),
        h.cseq().ok().map_or(
            Value::Null,
            |c| json!({"seq": c.seq, "method": c.method.as_str()}),
        ),
    );
    m.insert("headers".into(), json!(h.len()));
    let body = SipBody::parse(h, msg.body()).context("invalid body")?;
    let parts: Vec<Value> = body
        .parts
        .iter()
        .map(|p| {
            let mut o = Map::new();
            o.insert(
                "content_type".into(),
                p.content_type
                    .as_ref()
                    .map_or(Value::Null, |t| json!(t.to_string())),
            );
            o.insert(
                "disposition".into(),
                p.disposition
                    .as_ref()
                    .map_or(Value::Null, |d| json!(d.to_string())),
            );
            o.insert("length".into(), json!(p.data.len()));
            if p.content_type.as_ref().is_some_and(|t| t.is_isup()) {
                let decoded = match isup::Message::parse(p.data) {
                    Ok(im) => isup::json::to_json(&im, None),
                    Err(e) => json!({ "error": e.to_string() }),
                };
                o.insert("isup".into(), decoded);
            }
            Value::Object(o)
        })
        .collect();
    m.insert("body_parts".into(), Value::Array(parts));
    Ok(Value::Object(m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn shared() -> Option<PathBuf> {
        let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
        if p.is_dir() {
            Some(p)
        } else {
            println!(
                "SKIP: {} not found; `mgc sip parse` corpus tests need shared/",
                p.display()
            );
            None
        }
    }

    #[test]
    fn sipt_bye_summary_decodes_isup_rel() {
        let Some(shared) = shared() else { return };
        let raw = std::fs::read(shared.join("corpora/nmusco-sipstack/bye_rel_sipt.sip")).unwrap();
        let v = summary(&Message::parse(&raw).unwrap()).unwrap();
        assert_eq!(v["kind"], "request");
        assert_eq!(v["method"], "BYE");
        assert_eq!(v["request_uri"], "sip:15499@10.208.126.162:5060;user=phone");
        assert_eq!(v["cseq"], json!({"seq": 3, "method": "BYE"}));
        assert_eq!(v["headers"], 12);
        let parts = v["body_parts"].as_array().unwrap();
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0]["length"], 6);
        assert_eq!(parts[0]["disposition"], "signal;handling=optional");
        // the same JSON as `mgc isup decode --no-cic 0c020002839f`
        let expected = isup::json::to_json(
            &isup::Message::parse(&[0x0c, 0x02, 0x00, 0x02, 0x83, 0x9f]).unwrap(),
            None,
        );
        assert_eq!(parts[0]["isup"], expected);
        assert_eq!(parts[0]["isup"]["message_type"], "REL");
    }

    #[test]
    fn rfc4475_corpus_summaries() {
        let Some(shared) = shared() else { return };
        let dir = shared.join("corpora/resiprocate-rfc4475");
        let index = std::fs::read_to_string(dir.join("INDEX.tsv")).unwrap();
        let mut n = 0;
        for line in index
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let cols: Vec<&str> = line.split('\t').collect();
            let raw = std::fs::read(dir.join(cols[0])).unwrap();
            match Message::parse(&raw) {
                Ok(m) => {
                    assert!(!cols[3].starts_with("invalid"), "{}", cols[0]);
                    let v = summary(&m).unwrap();
                    assert!(v["kind"] == "request" || v["kind"] == "response");
                    assert!(v["headers"].as_u64().unwrap() > 0);
                    let parts = v["body_parts"].as_array().unwrap();
                    assert_eq!(parts.is_empty(), m.body().is_empty(), "{}", cols[0]);
                }
                Err(_) => assert!(cols[3].starts_with("invalid"), "{}", cols[0]),
            }
            n += 1;
        }
        assert_eq!(n, 49);
    }
}
