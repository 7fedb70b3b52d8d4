//! One Realtime socket: channels, heartbeats, token checks and change fan-out.
//!
//! [`serve_socket`] is generic over a `Sink` of [`Outgoing`] and a `Stream` of [`Incoming`],
//! so tests can drive it with in-memory channels as well as a real WebSocket.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::{Sink, SinkExt, Stream, StreamExt};
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

use super::binding::{parse_binding, primary_key_only, Binding};
use super::protocol::{self, ClientMessage, Incoming, Outgoing};
use crate::auth::jwt::{unix_now, Actor, TokenError, VerifiedToken};
use crate::state::AppState;
use crate::store::{Change, ChangeKind};

/// A joined channel.
#[derive(Debug)]
struct Channel {
    join_ref: Option<String>,
    bindings: Vec<Binding>,
    actor: Actor,
    token: String,
    exp: i64,
    check_at: Instant,
}

/// Why the loop ended, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    ClientClosed,
    IdleTimeout,
    Dropped,
    SendFailed,
}

/// Serves one socket until the client leaves, goes idle, or sockets are dropped.
///
/// `connection_token` is the verified `apikey` of the upgrade; channels use it when their join
/// carries no user token.
pub async fn serve_socket<Tx, Rx>(
    mut sink: Tx,
    mut stream: Rx,
    state: AppState,
    connection_token: String,
) where
    Tx: Sink<Outgoing> + Unpin,
    Rx: Stream<Item = Incoming> + Unpin,
{
    let mut session = Session {
        state: state.clone(),
        connection_token,
        channels: HashMap::new(),
        outbox: Vec::new(),
    };
    let mut changes = state.store.subscribe();
    let mut changes_open = true;
    let mut drops = state.faults.drop_signal();
    drops.mark_unchanged();
    let idle_timeout = state.config.socket_idle_timeout;
    let mut idle_deadline = Instant::now() + idle_timeout;

    let ending = loop {
        let token_deadline = session.next_token_check();
        tokio::select! {
            frame = stream.next() => match frame {
                None | Some(Incoming::Close) => break Ending::ClientClosed,
                Some(Incoming::Other) => idle_deadline = Instant::now() + idle_timeout,
                Some(Incoming::Text(text)) => {
                    idle_deadline = Instant::now() + idle_timeout;
                    if state.faults.realtime_silent() {
                        tracing::trace!("silent fault: dropped a client frame");
                    } else {
                        session.handle_text(&text);
                    }
                }
            },
            change = changes.recv(), if changes_open => match change {
                Ok(change) => {
                    if !state.faults.realtime_silent() {
                        session.fan_out(&change);
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "a slow socket missed changes");
                }
                Err(RecvError::Closed) => changes_open = false,
            },
            changed = drops.changed() => {
                if changed.is_ok() {
                    break Ending::Dropped;
                }
            }
            () = tokio::time::sleep_until(idle_deadline) => {
                // Best effort: the client may already be gone.
                let _ = sink.send(Outgoing::Close).await;
                break Ending::IdleTimeout;
            }
            () = sleep_until_some(token_deadline) => session.check_tokens(),
        }
        let mut failed = false;
        for text in session.outbox.drain(..) {
            tracing::trace!(frame = %text, "realtime frame out");
            if sink.send(Outgoing::Text(text)).await.is_err() {
                failed = true;
                break;
            }
        }
        if failed {
            break Ending::SendFailed;
        }
    };
    tracing::debug!(
        ?ending,
        channels = session.channels.len(),
        "realtime socket ended"
    );
}

async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The socket's channels and the frames waiting to be sent.
struct Session {
    state: AppState,
    connection_token: String,
    channels: HashMap<String, Channel>,
    outbox: Vec<String>,
}

impl Session {
    fn next_token_check(&self) -> Option<Instant> {
        self.channels.values().map(|channel| channel.check_at).min()
    }

    fn verify(&self, token: &str) -> Result<VerifiedToken, TokenError> {
        self.state.keys.verify(token, unix_now())
    }

    /// When to look at a token next: at its expiry, or after the check interval if sooner.
    fn check_time(&self, exp: i64) -> Instant {
        let until_exp = Duration::from_secs(u64::try_from(exp - unix_now()).unwrap_or(0));
        Instant::now() + until_exp.min(self.state.config.token_check_interval)
    }

    fn handle_text(&mut self, text: &str) {
        tracing::trace!(frame = %text, "realtime frame in");
        let Some(message) = protocol::decode(text) else {
            tracing::debug!("ignored a frame that is not a Phoenix message");
            return;
        };
        let reference = message.reference.as_deref();
        match (message.topic.as_str(), message.event.as_str()) {
            ("phoenix", "heartbeat") => {
                self.outbox
                    .push(protocol::reply_ok("phoenix", reference, json!({})))
            }
            (_, "phx_join") => self.join(&message),
            (topic, "phx_leave") => {
                if let Some(channel) = self.channels.remove(topic) {
                    self.outbox
                        .push(protocol::reply_ok(topic, reference, json!({})));
                    self.outbox
                        .push(protocol::close(topic, channel.join_ref.as_deref()));
                    tracing::debug!(topic, "channel left");
                } else {
                    self.unmatched(topic, reference);
                }
            }
            (topic, "access_token") => self.refresh_token(topic, &message),
            (topic, event) => {
                if self.channels.contains_key(topic) {
                    // Broadcast and presence are not served; their pushes are ignored.
                    tracing::debug!(topic, event, "ignored an unsupported channel event");
                } else {
                    self.unmatched(topic, reference);
                }
            }
        }
    }

    fn unmatched(&mut self, topic: &str, reference: Option<&str>) {
        self.outbox
            .push(protocol::reply_error(topic, reference, "unmatched topic"));
    }

    fn join(&mut self, message: &ClientMessage) {
        let topic = message.topic.as_str();
        let reference = message.reference.as_deref();
        if !topic.starts_with("realtime:") {
            self.unmatched(topic, reference);
            return;
        }
        if topic == "realtime:" {
            self.outbox.push(protocol::reply_error(
                topic,
                reference,
                "TopicNameRequired: You must provide a topic name",
            ));
            return;
        }
        if let Some(old) = self.channels.remove(topic) {
            // Phoenix closes the old channel instance before it handles a duplicate join.
            self.outbox
                .push(protocol::close(topic, old.join_ref.as_deref()));
        }
        let payload = &message.payload;
        let token = payload
            .get("access_token")
            .or_else(|| payload.get("user_token"))
            .and_then(Value::as_str)
            .filter(|token| !token.starts_with("sb_"))
            .unwrap_or(&self.connection_token)
            .to_owned();
        let verified = match self.verify(&token) {
            Ok(verified) => verified,
            Err(error) => {
                tracing::info!(topic, %error, "refused a channel join");
                self.outbox
                    .push(protocol::reply_error(topic, reference, &error.to_string()));
                return;
            }
        };

        let raw_bindings: Vec<Value> = payload
            .pointer("/config/postgres_changes")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut echoed = Vec::new();
        let mut bindings = Vec::new();
        let mut failure = None;
        for raw in &raw_bindings {
            let mut echo = raw.clone();
            match parse_binding(raw) {
                Ok(binding) => {
                    if let Value::Object(map) = &mut echo {
                        map.insert("id".into(), json!(binding.id));
                    }
                    bindings.push(binding);
                }
                Err(error) => {
                    if let Value::Object(map) = &mut echo {
                        map.insert("id".into(), json!(super::binding::binding_id(raw)));
                    }
                    failure.get_or_insert(error);
                }
            }
            echoed.push(echo);
        }
        self.outbox.push(protocol::reply_ok(
            topic,
            reference,
            json!({"postgres_changes": echoed}),
        ));
        if !raw_bindings.is_empty() {
            match &failure {
                None => self.outbox.push(protocol::system(
                    topic,
                    "postgres_changes",
                    "ok",
                    "Subscribed to PostgreSQL",
                )),
                Some(error) => {
                    tracing::info!(topic, %error, "postgres_changes subscription refused");
                    // The subscription is all or nothing, as on the server.
                    bindings.clear();
                    self.outbox.push(protocol::system(
                        topic,
                        "postgres_changes",
                        "error",
                        &error.to_string(),
                    ));
                }
            }
        }
        tracing::debug!(topic, bindings = bindings.len(), "channel joined");
        let check_at = self.check_time(verified.exp);
        self.channels.insert(
            topic.to_owned(),
            Channel {
                join_ref: message
                    .join_ref
                    .clone()
                    .or_else(|| message.reference.clone()),
                bindings,
                actor: verified.actor,
                token,
                exp: verified.exp,
                check_at,
            },
        );
    }

    fn refresh_token(&mut self, topic: &str, message: &ClientMessage) {
        let Some(current) = self.channels.get(topic).map(|c| c.token.clone()) else {
            self.unmatched(topic, message.reference.as_deref());
            return;
        };
        let Some(token) = message
            .payload
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|token| !token.starts_with("sb_") && *token != current)
            .map(str::to_owned)
        else {
            return;
        };
        match self.verify(&token) {
            Ok(verified) => {
                let check_at = self.check_time(verified.exp);
                if let Some(channel) = self.channels.get_mut(topic) {
                    channel.actor = verified.actor;
                    channel.exp = verified.exp;
                    channel.token = token;
                    channel.check_at = check_at;
                }
                tracing::debug!(topic, "channel token refreshed");
            }
            Err(error) => {
                tracing::info!(topic, %error, "refused a refreshed token; closing the channel");
                self.shut_down(topic, &error);
            }
        }
    }

    fn shut_down(&mut self, topic: &str, error: &TokenError) {
        if let Some(channel) = self.channels.remove(topic) {
            self.outbox.push(protocol::system(
                topic,
                "system",
                "error",
                &error.system_message(),
            ));
            self.outbox
                .push(protocol::close(topic, channel.join_ref.as_deref()));
        }
    }

    fn check_tokens(&mut self) {
        let now = Instant::now();
        let due: Vec<(String, i64)> = self
            .channels
            .iter()
            .filter(|(_, channel)| channel.check_at <= now)
            .map(|(topic, channel)| (topic.clone(), channel.exp))
            .collect();
        for (topic, exp) in due {
            let seconds_left = exp - unix_now();
            if seconds_left <= 0 {
                tracing::info!(topic, "channel token expired; closing the channel");
                self.shut_down(
                    &topic,
                    &TokenError::Expired {
                        seconds_ago: -seconds_left,
                    },
                );
            } else {
                let check_at = self.check_time(exp);
                if let Some(channel) = self.channels.get_mut(&topic) {
                    channel.check_at = check_at;
                }
            }
        }
    }

    fn fan_out(&mut self, change: &Arc<Change>) {
        let mut data: Option<Value> = None;
        for (topic, channel) in &self.channels {
            if !channel.actor.may_see(change.owner.as_deref()) {
                continue;
            }
            let mut ids: Vec<u32> = Vec::new();
            for binding in &channel.bindings {
                if binding.matches(change) && !ids.contains(&binding.id) {
                    ids.push(binding.id);
                }
            }
            if ids.is_empty() {
                continue;
            }
            let data = data.get_or_insert_with(|| change_data(change));
            self.outbox.push(protocol::encode(
                topic,
                "postgres_changes",
                json!({"ids": ids, "data": data}),
                None,
            ));
        }
    }
}

/// The `data` of a `postgres_changes` event.
///
/// `old_record` carries the primary key only, as Supabase sends it for tables with RLS, except
/// for UPDATEs of tables with `REPLICA IDENTITY FULL` (as the migrations set for requests).
pub fn change_data(change: &Change) -> Value {
    let columns: Vec<Value> = change
        .table
        .columns
        .iter()
        .map(|column| json!({"name": column.name, "type": column.pg_type}))
        .collect();
    let mut data = json!({
        "schema": "public",
        "table": change.table.name,
        "type": change.kind.as_str(),
        "commit_timestamp": change.commit_timestamp,
        "columns": columns,
        "errors": null,
    });
    if let Value::Object(map) = &mut data {
        if change.kind != ChangeKind::Delete {
            if let Some(record) = &change.record {
                map.insert("record".into(), Value::Object(record.clone()));
            }
        }
        if change.kind != ChangeKind::Insert {
            if let Some(old) = &change.old_record {
                let full = change.kind == ChangeKind::Update && change.table.replica_identity_full;
                let old = if full {
                    old.clone()
                } else {
                    primary_key_only(old)
                };
                map.insert("old_record".into(), Value::Object(old));
            }
        }
    }
    data
}
