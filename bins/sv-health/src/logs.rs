//! `sv-health logs`: stream a Worker's live events through the tail API. It creates a tail
//! with the filters, connects its WebSocket (subprotocol `trace-v1`), prints each event as
//! a line (human) or as JSON lines (`--format json`), and deletes the tail on exit (Ctrl-C,
//! `--for`, or the server closing the socket).

#![allow(clippy::print_stdout)] // this module streams events to stdout as they arrive

use std::io::Write as _;

use anyhow::Context as _;
use futures::StreamExt as _;
use serde_json::Value;
use sv_cli::{ExitStatus, Format, GlobalArgs};
use sv_cloudflare::tail::TailFilter;
use sv_config::ResourceKind;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

use crate::args::{LogStatus, LogsArgs};

pub async fn run(global: &GlobalArgs, args: LogsArgs) -> anyhow::Result<ExitStatus> {
    let runner = sv_cli::context::runner();
    let loaded = sv_cli::context::load_config(global)?;
    let env = sv_cli::context::environment(&loaded, global)?;
    let script = match &args.worker {
        Some(w) => w.clone(),
        None => {
            let workers: Vec<String> = env
                .resources_of(ResourceKind::Worker)
                .map(|r| r.name.clone())
                .collect();
            match workers.as_slice() {
                [only] => only.clone(),
                _ => {
                    return Err(sv_cli::InputError::new(anyhow::anyhow!(
                        "choose a worker with --worker: {}",
                        if workers.is_empty() {
                            "the environment has none".to_owned()
                        } else {
                            workers.join(", ")
                        }
                    ))
                    .into());
                }
            }
        }
    };
    let client = sv_cli::context::cloudflare(&args.cloudflare, &runner)?;
    let filters = filters(&args);
    let tail = client
        .tail()
        .create(&script, &filters)
        .await
        .with_context(|| format!("cannot start a tail of {script}"))?;
    let streamed = stream(&tail.url, global.format, args.duration).await;
    // Always delete the tail, even when streaming failed.
    let deleted = client.tail().delete(&script, &tail.id).await;
    streamed?;
    deleted.with_context(|| format!("cannot delete tail {} of {script}", tail.id))?;
    Ok(ExitStatus::Success)
}

fn filters(args: &LogsArgs) -> Vec<TailFilter> {
    let mut f = Vec::new();
    if let Some(rate) = args.sample {
        f.push(TailFilter::SamplingRate(rate));
    }
    if !args.status.is_empty() {
        let mut outcomes = Vec::new();
        for s in &args.status {
            let names: &[&str] = match s {
                LogStatus::Ok => &["ok"],
                LogStatus::Error => &["exception", "exceededCpu", "exceededMemory", "unknown"],
                LogStatus::Canceled => &["canceled"],
            };
            outcomes.extend(names.iter().map(|n| (*n).to_owned()));
        }
        f.push(TailFilter::Outcome(outcomes));
    }
    if !args.method.is_empty() {
        f.push(TailFilter::Method(
            args.method.iter().map(|m| m.to_ascii_uppercase()).collect(),
        ));
    }
    if let Some(q) = &args.search {
        f.push(TailFilter::Query(q.clone()));
    }
    if !args.ip.is_empty() {
        f.push(TailFilter::ClientIp(args.ip.clone()));
    }
    f
}

async fn stream(
    url: &str,
    format: Format,
    duration: Option<std::time::Duration>,
) -> anyhow::Result<()> {
    sv_checks::install_crypto_provider();
    let mut request = url
        .into_client_request()
        .context("the tail URL is not a WebSocket URL")?;
    request.headers_mut().insert(
        "sec-websocket-protocol",
        tokio_tungstenite::tungstenite::http::HeaderValue::from_static("trace-v1"),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .context("cannot connect to the tail")?;
    let stop = async {
        match duration {
            Some(d) => tokio::time::sleep(d).await,
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    };
    tokio::pin!(stop);
    let mut out = std::io::stdout();
    loop {
        tokio::select! {
            () = &mut stop => break,
            msg = socket.next() => {
                let text = match msg {
                    None | Some(Ok(Message::Close(_))) => break,
                    Some(Ok(Message::Text(t))) => t.to_string(),
                    Some(Ok(Message::Binary(b))) => String::from_utf8_lossy(&b).into_owned(),
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Err(e).context("the tail connection failed"),
                };
                let Ok(event) = serde_json::from_str::<Value>(&text) else {
                    tracing::debug!("skipping a tail message that is not JSON");
                    continue;
                };
                let line = match format {
                    Format::Json => event.to_string(),
                    Format::Human | Format::Markdown => human(&event),
                };
                writeln!(out, "{line}")?;
                out.flush()?;
            }
        }
    }
    let _ = socket.close(None).await;
    Ok(())
}

/// `2026-11-25T18:00:00Z GET https://… 200 ok: log line | Error: message`.
pub fn human(event: &Value) -> String {
    let time = event["eventTimestamp"]
        .as_i64()
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| "-".to_owned());
    let req = &event["event"]["request"];
    let mut line = format!(
        "{time} {} {} {} {}",
        req["method"].as_str().unwrap_or("-"),
        req["url"].as_str().unwrap_or("-"),
        event["event"]["response"]["status"]
            .as_u64()
            .map_or_else(|| "-".to_owned(), |s| s.to_string()),
        event["outcome"].as_str().unwrap_or("-"),
    );
    let mut details = Vec::new();
    for log in event["logs"].as_array().into_iter().flatten() {
        let message = match &log["message"] {
            Value::Array(parts) => parts
                .iter()
                .map(|p| p.as_str().map_or_else(|| p.to_string(), str::to_owned))
                .collect::<Vec<_>>()
                .join(" "),
            other => other
                .as_str()
                .map_or_else(|| other.to_string(), str::to_owned),
        };
        details.push(message);
    }
    for ex in event["exceptions"].as_array().into_iter().flatten() {
        details.push(format!(
            "{}: {}",
            ex["name"].as_str().unwrap_or("Error"),
            ex["message"].as_str().unwrap_or("")
        ));
    }
    if !details.is_empty() {
        line.push_str(": ");
        line.push_str(&details.join(" | "));
    }
    line
}
