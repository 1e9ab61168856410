//! Tail sessions: the `…/tails` API and the `trace-v1` WebSocket that streams one JSON
//! event per emulated Worker invocation (or per event injected through the admin surface).

use std::collections::BTreeMap;

use serde_json::Value;
use tokio::sync::broadcast;

use crate::state::lock;

/// One active tail.
#[derive(Debug, Clone)]
pub struct Tail {
    pub id: String,
    pub script: String,
    pub filters: Vec<Value>,
    pub expires_at: String,
    pub expires_at_ms: i64,
}

/// Fan-out of trace events to tail WebSockets.
pub struct TailHub {
    tx: broadcast::Sender<(String, Value)>,
    tails: std::sync::Mutex<BTreeMap<String, Tail>>,
}

impl Default for TailHub {
    fn default() -> Self {
        let (tx, _) = broadcast::channel(1024);
        Self {
            tx,
            tails: std::sync::Mutex::new(BTreeMap::new()),
        }
    }
}

impl TailHub {
    /// Sends `event` to every tail on `script` (dropped when nobody listens).
    pub fn publish(&self, script: &str, event: Value) {
        let _ = self.tx.send((script.to_string(), event));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<(String, Value)> {
        self.tx.subscribe()
    }

    pub fn insert(&self, tail: Tail) {
        lock(&self.tails).insert(tail.id.clone(), tail);
    }

    pub fn get(&self, id: &str) -> Option<Tail> {
        lock(&self.tails).get(id).cloned()
    }

    pub fn remove(&self, id: &str) -> Option<Tail> {
        lock(&self.tails).remove(id)
    }

    pub fn for_script(&self, script: &str) -> Vec<Tail> {
        lock(&self.tails)
            .values()
            .filter(|t| t.script == script)
            .cloned()
            .collect()
    }

    pub fn clear(&self) {
        lock(&self.tails).clear();
    }
}
