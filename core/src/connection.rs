//! The Realtime connection as a sans-IO state machine: one socket, many channels.
//!
//! The adapter feeds it what happened (socket opened or closed, a frame arrived, the page became
//! visible, the network came back, the clock reached [`Connection::next_deadline`]) and carries out
//! the [`Action`]s it queues: open or close the socket, send a frame, publish a state, deliver a
//! change. Nothing here touches a browser, a clock or a random source of its own, so the native
//! tests drive it through hours of virtual time in microseconds.

use std::collections::{BTreeMap, VecDeque};

use serde_json::Value;

use crate::backoff::{Backoff, BackoffPolicy, Jitter};
use crate::codec::{self, Change, ChangeFilter, ClientMessage, ReplyStatus, ServerMessage};
use crate::Millis;

/// Timings and limits of the connection.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionConfig {
    /// How often a heartbeat is sent. Defaults to 25 000 ms (the server drops a socket 60 s after
    /// the last client frame).
    pub heartbeat_interval_ms: Millis,
    /// How long a heartbeat may go unanswered before the socket is taken for half-open and
    /// replaced. Defaults to 10 000 ms.
    pub heartbeat_timeout_ms: Millis,
    /// How long a join may go unanswered. Defaults to 10 000 ms.
    pub join_timeout_ms: Millis,
    /// Reconnect and rejoin backoff. Defaults to full jitter from 1 s, capped at 15 s.
    pub backoff: BackoffPolicy,
    /// A connection that stayed open this long resets the backoff. Defaults to 10 000 ms.
    pub stable_after_ms: Millis,
    /// Give up after this many failed reconnects in a row. Defaults to `None` (never).
    pub max_attempts: Option<u32>,
    /// Ask for a fresh token this long before the current one expires. Defaults to 60 000 ms.
    pub token_refresh_margin_ms: Millis,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        Self {
            heartbeat_interval_ms: 25_000,
            heartbeat_timeout_ms: 10_000,
            join_timeout_ms: 10_000,
            backoff: BackoffPolicy::default(),
            stable_after_ms: 10_000,
            max_attempts: None,
            token_refresh_margin_ms: 60_000,
        }
    }
}

/// What the user should be told about Realtime.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnectionState {
    /// Not started, or stopped on purpose (signed out).
    Idle,
    /// Opening the socket or joining channels.
    Connecting,
    /// Socket open, every channel joined and "Subscribed to PostgreSQL" seen.
    Live,
    /// Lost; the next attempt is due at `retry_at` (on the caller's clock).
    Reconnecting {
        /// Failed attempts in a row so far.
        attempt: u32,
        /// When the next attempt is due.
        retry_at: Millis,
    },
    /// The browser reports no network; waiting for it to come back.
    Offline,
    /// Given up, with a reason a user can read.
    Failed(String),
}

impl ConnectionState {
    /// True only for [`ConnectionState::Live`].
    pub fn is_live(&self) -> bool {
        matches!(self, Self::Live)
    }
}

/// What to do with a join error, per the Realtime protocol reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinErrorClass {
    /// Transient (rate limits, database starting, restarts): back off and rejoin.
    Retry,
    /// The token expired: get a fresh one, then rejoin.
    RefreshTokenThenRetry,
    /// Configuration or credential errors that retrying cannot fix.
    GiveUp,
}

/// Classifies a join error reason such as `InvalidJWTToken: Token has expired 3 seconds ago`.
pub fn classify_join_error(reason: &str) -> JoinErrorClass {
    let lower = reason.to_ascii_lowercase();
    if lower.contains("expired") {
        return JoinErrorClass::RefreshTokenThenRetry;
    }
    const FATAL: [&str; 10] = [
        "malformedjwt",
        "jwtsignatureerror",
        "invalidjwttoken",
        "unauthorized",
        "privateonly",
        "topicnamerequired",
        "unmatched topic",
        "realtimedisabledfortenant",
        "tenantnotfound",
        "mismatch between server and client bindings",
    ];
    if FATAL.iter().any(|marker| lower.contains(marker)) {
        JoinErrorClass::GiveUp
    } else {
        JoinErrorClass::Retry
    }
}

/// Something for the adapter to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Open a new socket; report back with this id.
    OpenSocket {
        /// Identifies this socket in later reports, so events of a replaced one are ignored.
        socket_id: u64,
    },
    /// Close the current socket.
    CloseSocket {
        /// Why, for the log.
        reason: String,
    },
    /// Send this text frame on the open socket.
    Send(String),
    /// The public state changed.
    State(ConnectionState),
    /// A channel is (again) subscribed and changes flow: refetch to catch up on what was missed.
    Subscribed {
        /// The channel's topic.
        topic: String,
    },
    /// A database change for a channel.
    Change {
        /// The channel's topic.
        topic: String,
        /// The change.
        change: Change,
    },
    /// A channel stopped for good (its state says why).
    ChannelFailed {
        /// The channel's topic.
        topic: String,
        /// The server's reason.
        reason: String,
    },
    /// The token is about to expire or was refused as expired: refresh it and call
    /// [`Connection::set_access_token`].
    RefreshToken,
}

#[derive(Debug, Clone, PartialEq)]
enum ChannelPhase {
    /// Waiting for the socket.
    Closed,
    Joining {
        join_ref: String,
        deadline: Millis,
    },
    Joined {
        join_ref: String,
        subscribed: bool,
    },
    /// Waiting to rejoin at a time.
    Backoff {
        at: Millis,
    },
    /// Waiting for a fresh token (or the fallback time).
    AwaitingToken {
        at: Millis,
    },
    Failed(String),
}

#[derive(Debug, Clone)]
struct Channel {
    filters: Vec<ChangeFilter>,
    /// The token changed while the join was in flight: push it once the join is accepted.
    token_changed_while_joining: bool,
    binding_ids: Vec<i64>,
    phase: ChannelPhase,
    backoff: Backoff,
}

#[derive(Debug, Clone, PartialEq)]
enum Socket {
    Closed,
    Opening { id: u64 },
    Open { id: u64, opened_at: Millis },
}

#[derive(Debug, Clone, PartialEq)]
enum Link {
    Idle,
    Connecting,
    Reconnecting { attempt: u32, retry_at: Millis },
    Offline,
    Failed(String),
}

/// The Realtime connection state machine.
#[derive(Debug, Clone)]
pub struct Connection {
    config: ConnectionConfig,
    socket: Socket,
    link: Link,
    next_socket_id: u64,
    next_ref: u64,
    channels: BTreeMap<String, Channel>,
    reconnect: Backoff,
    heartbeat_at: Option<Millis>,
    heartbeat_pending: Option<(String, Millis)>,
    visible: bool,
    online: bool,
    token: Option<String>,
    token_expires_at: Option<Millis>,
    refresh_requested: bool,
    published: ConnectionState,
    actions: VecDeque<Action>,
    jitter: Jitter,
}

impl Connection {
    /// A connection that has not started; `seed` feeds the jitter.
    pub fn new(config: ConnectionConfig, seed: u64) -> Self {
        let reconnect = Backoff::new(config.backoff);
        Self {
            config,
            socket: Socket::Closed,
            link: Link::Idle,
            next_socket_id: 1,
            next_ref: 1,
            channels: BTreeMap::new(),
            reconnect,
            heartbeat_at: None,
            heartbeat_pending: None,
            visible: true,
            online: true,
            token: None,
            token_expires_at: None,
            refresh_requested: false,
            published: ConnectionState::Idle,
            actions: VecDeque::new(),
            jitter: Jitter::new(seed),
        }
    }

    /// The state last published.
    pub fn state(&self) -> &ConnectionState {
        &self.published
    }

    /// Takes the next action to carry out.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Topics currently wanted.
    pub fn topics(&self) -> impl Iterator<Item = &str> {
        self.channels.keys().map(String::as_str)
    }

    /// True when the channel is joined and its database subscription is confirmed.
    pub fn is_subscribed(&self, topic: &str) -> bool {
        matches!(
            self.channels.get(topic).map(|channel| &channel.phase),
            Some(ChannelPhase::Joined {
                subscribed: true,
                ..
            })
        )
    }

    /// Starts connecting (no-op while connected or connecting).
    pub fn connect(&mut self, now: Millis) {
        if matches!(self.socket, Socket::Closed) {
            self.open_socket(now);
        }
        self.publish();
    }

    /// Closes everything on purpose (sign-out); channels stay registered but idle.
    pub fn disconnect(&mut self) {
        if !matches!(self.socket, Socket::Closed) {
            self.actions.push_back(Action::CloseSocket {
                reason: "disconnect requested".into(),
            });
        }
        self.socket = Socket::Closed;
        self.link = Link::Idle;
        self.heartbeat_at = None;
        self.heartbeat_pending = None;
        for channel in self.channels.values_mut() {
            channel.phase = ChannelPhase::Closed;
        }
        self.publish();
    }

    /// Wants changes for `topic` (`realtime:<name>`); joins now if the socket is open.
    pub fn subscribe(&mut self, now: Millis, topic: &str, filters: Vec<ChangeFilter>) {
        let channel = Channel {
            filters,
            token_changed_while_joining: false,
            binding_ids: Vec::new(),
            phase: ChannelPhase::Closed,
            backoff: Backoff::new(self.config.backoff),
        };
        self.channels.insert(topic.to_string(), channel);
        if matches!(self.socket, Socket::Open { .. }) {
            self.join(now, topic);
        }
        self.publish();
    }

    /// No longer wants `topic`: leaves it if joined and forgets it.
    pub fn unsubscribe(&mut self, topic: &str) {
        if let Some(channel) = self.channels.remove(topic) {
            if let ChannelPhase::Joined { join_ref, .. } | ChannelPhase::Joining { join_ref, .. } =
                channel.phase
            {
                if matches!(self.socket, Socket::Open { .. }) {
                    let reference = self.take_ref();
                    let frame =
                        codec::encode(&ClientMessage::Leave { topic }, &reference, Some(&join_ref));
                    self.actions.push_back(Action::Send(frame));
                }
            }
        }
        self.publish();
    }

    /// Sets the user's token; pushes it to every joined channel and wakes channels waiting for
    /// it. `expires_at` is on the caller's clock.
    pub fn set_access_token(
        &mut self,
        now: Millis,
        token: Option<String>,
        expires_at: Option<Millis>,
    ) {
        let changed = token != self.token;
        self.token = token;
        self.token_expires_at = expires_at;
        self.refresh_requested = false;
        if !changed {
            return;
        }
        let socket_open = matches!(self.socket, Socket::Open { .. });
        let topics: Vec<String> = self.channels.keys().cloned().collect();
        for topic in topics {
            let Some(phase) = self
                .channels
                .get(&topic)
                .map(|channel| channel.phase.clone())
            else {
                continue;
            };
            match phase {
                ChannelPhase::Joined { join_ref, .. } if socket_open => {
                    if let Some(token) = self.token.clone() {
                        let reference = self.take_ref();
                        let frame = codec::encode(
                            &ClientMessage::AccessToken {
                                topic: &topic,
                                access_token: &token,
                            },
                            &reference,
                            Some(&join_ref),
                        );
                        self.actions.push_back(Action::Send(frame));
                    }
                }
                ChannelPhase::Joining { .. } => {
                    if let Some(channel) = self.channels.get_mut(&topic) {
                        channel.token_changed_while_joining = true;
                    }
                }
                ChannelPhase::AwaitingToken { .. } | ChannelPhase::Failed(_) if socket_open => {
                    // A channel refused for its credentials may succeed with new ones.
                    self.join(now, &topic);
                }
                ChannelPhase::AwaitingToken { .. } | ChannelPhase::Failed(_) => {
                    if let Some(channel) = self.channels.get_mut(&topic) {
                        channel.phase = ChannelPhase::Closed;
                    }
                }
                _ => {}
            }
        }
        self.publish();
    }

    /// The page became visible or hidden.
    pub fn set_visible(&mut self, now: Millis, visible: bool) {
        self.visible = visible;
        if visible && matches!(self.link, Link::Reconnecting { .. }) && self.online {
            // A reconnect that waited for the page happens at once.
            self.open_socket(now);
        }
        self.publish();
    }

    /// The browser's `online` / `offline` events.
    pub fn set_online(&mut self, now: Millis, online: bool) {
        self.online = online;
        if online {
            if matches!(self.link, Link::Offline | Link::Reconnecting { .. }) {
                self.reconnect.reset();
                self.open_socket(now);
            }
        } else if !matches!(self.link, Link::Idle | Link::Failed(_)) {
            if !matches!(self.socket, Socket::Closed) {
                self.actions.push_back(Action::CloseSocket {
                    reason: "browser went offline".into(),
                });
            }
            self.drop_socket();
            self.link = Link::Offline;
        }
        self.publish();
    }

    /// The socket with this id opened.
    pub fn socket_opened(&mut self, now: Millis, socket_id: u64) {
        if self.socket != (Socket::Opening { id: socket_id }) {
            return;
        }
        self.socket = Socket::Open {
            id: socket_id,
            opened_at: now,
        };
        self.heartbeat_at = Some(now + self.config.heartbeat_interval_ms);
        self.heartbeat_pending = None;
        let topics: Vec<String> = self.channels.keys().cloned().collect();
        for topic in topics {
            let waiting = matches!(
                self.channels.get(&topic).map(|channel| &channel.phase),
                Some(ChannelPhase::Closed | ChannelPhase::Backoff { .. })
            );
            if waiting {
                self.join(now, &topic);
            }
        }
        self.publish();
    }

    /// The socket with this id closed or failed to open.
    pub fn socket_closed(&mut self, now: Millis, socket_id: u64) {
        let current = match self.socket {
            Socket::Opening { id } | Socket::Open { id, .. } => id == socket_id,
            Socket::Closed => false,
        };
        if !current {
            return;
        }
        if let Socket::Open { opened_at, .. } = self.socket {
            if now.saturating_sub(opened_at) >= self.config.stable_after_ms {
                self.reconnect.reset();
            }
        }
        self.drop_socket();
        self.schedule_reconnect(now);
        self.publish();
    }

    /// A text frame arrived on the socket with this id.
    pub fn frame_received(&mut self, now: Millis, socket_id: u64, text: &str) {
        if !matches!(self.socket, Socket::Open { id, .. } if id == socket_id) {
            return;
        }
        let Ok(message) = codec::decode(text) else {
            return;
        };
        match message {
            ServerMessage::Reply {
                topic,
                reference,
                status,
                response,
            } => self.on_reply(now, &topic, reference, status, &response),
            ServerMessage::System {
                topic,
                extension,
                ok,
                message,
            } => self.on_system(now, &topic, &extension, ok, &message),
            ServerMessage::Change { topic, change } => {
                if let Some(channel) = self.channels.get(&topic) {
                    let joined = matches!(channel.phase, ChannelPhase::Joined { .. });
                    let ours = change.ids.is_empty()
                        || channel.binding_ids.is_empty()
                        || change.ids.iter().any(|id| channel.binding_ids.contains(id));
                    if joined && ours {
                        self.actions.push_back(Action::Change { topic, change });
                    }
                }
            }
            ServerMessage::Close { topic, reference }
            | ServerMessage::ChannelError { topic, reference } => {
                let current_join = match self.channels.get(&topic).map(|channel| &channel.phase) {
                    Some(
                        ChannelPhase::Joined { join_ref, .. }
                        | ChannelPhase::Joining { join_ref, .. },
                    ) => Some(join_ref.clone()),
                    _ => None,
                };
                // A close for an earlier join of the same topic is stale.
                if let Some(join_ref) = current_join {
                    if reference.is_none() || reference.as_deref() == Some(join_ref.as_str()) {
                        self.rejoin_later(now, &topic);
                    }
                }
            }
            ServerMessage::Unknown { .. } => {}
        }
        self.publish();
    }

    /// The clock reached (or passed) [`Connection::next_deadline`].
    pub fn tick(&mut self, now: Millis) {
        if let Some((_, deadline)) = &self.heartbeat_pending {
            if now >= *deadline {
                // No reply: the socket is half-open. Replace it.
                self.actions.push_back(Action::CloseSocket {
                    reason: "heartbeat timeout".into(),
                });
                self.drop_socket();
                self.schedule_reconnect(now);
            }
        }
        if matches!(self.socket, Socket::Open { .. }) {
            if let Some(at) = self.heartbeat_at {
                if now >= at {
                    let reference = self.take_ref();
                    let frame = codec::encode(&ClientMessage::Heartbeat, &reference, None);
                    self.actions.push_back(Action::Send(frame));
                    if self.heartbeat_pending.is_none() {
                        self.heartbeat_pending =
                            Some((reference, now + self.config.heartbeat_timeout_ms));
                    }
                    self.heartbeat_at = Some(now + self.config.heartbeat_interval_ms);
                }
            }
            let topics: Vec<String> = self.channels.keys().cloned().collect();
            for topic in topics {
                let due = match self.channels.get(&topic).map(|channel| &channel.phase) {
                    Some(ChannelPhase::Joining { deadline, .. }) if now >= *deadline => Some(true),
                    Some(ChannelPhase::Backoff { at } | ChannelPhase::AwaitingToken { at })
                        if now >= *at =>
                    {
                        Some(false)
                    }
                    _ => None,
                };
                match due {
                    Some(true) => self.rejoin_later(now, &topic),
                    Some(false) => self.join(now, &topic),
                    None => {}
                }
            }
        }
        if let Link::Reconnecting { retry_at, .. } = self.link {
            if now >= retry_at && self.visible && self.online {
                self.open_socket(now);
            }
        }
        if let Some(expires_at) = self.token_expires_at {
            let due = expires_at.saturating_sub(self.config.token_refresh_margin_ms);
            if now >= due && !self.refresh_requested && self.token.is_some() {
                self.refresh_requested = true;
                self.actions.push_back(Action::RefreshToken);
            }
        }
        self.publish();
    }

    /// The earliest time [`Connection::tick`] has work to do.
    pub fn next_deadline(&self) -> Option<Millis> {
        let mut deadline: Option<Millis> = None;
        let mut consider = |at: Millis| {
            deadline = Some(deadline.map_or(at, |current| current.min(at)));
        };
        if matches!(self.socket, Socket::Open { .. }) {
            if let Some(at) = self.heartbeat_at {
                consider(at);
            }
            if let Some((_, at)) = &self.heartbeat_pending {
                consider(*at);
            }
            for channel in self.channels.values() {
                match channel.phase {
                    ChannelPhase::Joining { deadline, .. } => consider(deadline),
                    ChannelPhase::Backoff { at } | ChannelPhase::AwaitingToken { at } => {
                        consider(at)
                    }
                    _ => {}
                }
            }
        }
        if let (Link::Reconnecting { retry_at, .. }, Socket::Closed) = (&self.link, &self.socket) {
            if self.visible && self.online {
                consider(*retry_at);
            }
        }
        if let (Some(expires_at), false, true) = (
            self.token_expires_at,
            self.refresh_requested,
            self.token.is_some(),
        ) {
            consider(expires_at.saturating_sub(self.config.token_refresh_margin_ms));
        }
        deadline
    }

    fn take_ref(&mut self) -> String {
        let reference = self.next_ref.to_string();
        self.next_ref += 1;
        reference
    }

    fn open_socket(&mut self, _now: Millis) {
        if !matches!(self.socket, Socket::Closed) {
            return;
        }
        let id = self.next_socket_id;
        self.next_socket_id += 1;
        self.socket = Socket::Opening { id };
        if !matches!(self.link, Link::Reconnecting { .. }) {
            self.link = Link::Connecting;
        }
        self.actions.push_back(Action::OpenSocket { socket_id: id });
    }

    fn drop_socket(&mut self) {
        self.socket = Socket::Closed;
        self.heartbeat_at = None;
        self.heartbeat_pending = None;
        for channel in self.channels.values_mut() {
            if !matches!(channel.phase, ChannelPhase::Failed(_)) {
                channel.phase = ChannelPhase::Closed;
            }
        }
    }

    fn schedule_reconnect(&mut self, now: Millis) {
        if !self.online {
            self.link = Link::Offline;
            return;
        }
        let attempt = self.reconnect.attempt() + 1;
        if let Some(max) = self.config.max_attempts {
            if attempt > max {
                self.link = Link::Failed(format!(
                    "Realtime could not be reached after {max} attempts"
                ));
                return;
            }
        }
        let unit = self.jitter.unit();
        let delay = self.reconnect.next_delay(unit);
        self.link = Link::Reconnecting {
            attempt,
            retry_at: now + delay,
        };
    }

    fn join(&mut self, now: Millis, topic: &str) {
        if let Some(channel) = self.channels.get_mut(topic) {
            // This join carries the current token.
            channel.token_changed_while_joining = false;
        }
        let Some(filters) = self
            .channels
            .get(topic)
            .map(|channel| channel.filters.clone())
        else {
            return;
        };
        let reference = self.take_ref();
        let frame = codec::encode(
            &ClientMessage::Join {
                topic,
                filters: &filters,
                access_token: self.token.as_deref(),
            },
            &reference,
            Some(&reference),
        );
        self.actions.push_back(Action::Send(frame));
        if let Some(channel) = self.channels.get_mut(topic) {
            channel.phase = ChannelPhase::Joining {
                join_ref: reference,
                deadline: now + self.config.join_timeout_ms,
            };
        }
    }

    fn rejoin_later(&mut self, now: Millis, topic: &str) {
        let unit = self.jitter.unit();
        if let Some(channel) = self.channels.get_mut(topic) {
            let delay = channel.backoff.next_delay(unit);
            channel.phase = ChannelPhase::Backoff { at: now + delay };
        }
    }

    fn on_reply(
        &mut self,
        now: Millis,
        topic: &str,
        reference: Option<String>,
        status: ReplyStatus,
        response: &Value,
    ) {
        if topic == codec::PHOENIX_TOPIC {
            if let Some((pending, _)) = &self.heartbeat_pending {
                if reference.as_deref() == Some(pending.as_str()) {
                    self.heartbeat_pending = None;
                    if let Socket::Open { opened_at, .. } = self.socket {
                        if now.saturating_sub(opened_at) >= self.config.stable_after_ms {
                            self.reconnect.reset();
                        }
                    }
                }
            }
            return;
        }
        let Some(channel) = self.channels.get_mut(topic) else {
            return;
        };
        let ChannelPhase::Joining { join_ref, .. } = &channel.phase else {
            return;
        };
        if reference.as_deref() != Some(join_ref.as_str()) {
            return;
        }
        let join_ref = join_ref.clone();
        match status {
            ReplyStatus::Ok => match codec::binding_ids(response, &channel.filters) {
                Some(ids) => {
                    channel.binding_ids = ids;
                    let push_token = std::mem::take(&mut channel.token_changed_while_joining);
                    channel.phase = ChannelPhase::Joined {
                        join_ref: join_ref.clone(),
                        subscribed: false,
                    };
                    if let (true, Some(token)) = (push_token, self.token.clone()) {
                        let reference = self.take_ref();
                        let frame = codec::encode(
                            &ClientMessage::AccessToken {
                                topic,
                                access_token: &token,
                            },
                            &reference,
                            Some(&join_ref),
                        );
                        self.actions.push_back(Action::Send(frame));
                    }
                }
                None => {
                    let reason = "mismatch between server and client bindings for postgres changes"
                        .to_string();
                    channel.phase = ChannelPhase::Failed(reason.clone());
                    self.actions.push_back(Action::ChannelFailed {
                        topic: topic.to_string(),
                        reason,
                    });
                }
            },
            ReplyStatus::Error(reason) => match classify_join_error(&reason) {
                JoinErrorClass::Retry => self.rejoin_later(now, topic),
                JoinErrorClass::RefreshTokenThenRetry => self.await_token(now, topic),
                JoinErrorClass::GiveUp => {
                    channel.phase = ChannelPhase::Failed(reason.clone());
                    self.actions.push_back(Action::ChannelFailed {
                        topic: topic.to_string(),
                        reason,
                    });
                }
            },
            ReplyStatus::Other(_) => self.rejoin_later(now, topic),
        }
    }

    fn await_token(&mut self, now: Millis, topic: &str) {
        let unit = self.jitter.unit();
        if let Some(channel) = self.channels.get_mut(topic) {
            // If no fresh token comes, try again anyway after a backoff.
            let delay = channel.backoff.next_delay(unit);
            channel.phase = ChannelPhase::AwaitingToken { at: now + delay };
        }
        self.refresh_requested = true;
        self.actions.push_back(Action::RefreshToken);
    }

    fn on_system(&mut self, now: Millis, topic: &str, extension: &str, ok: bool, message: &str) {
        let Some(channel) = self.channels.get_mut(topic) else {
            return;
        };
        let ChannelPhase::Joined { subscribed, .. } = &mut channel.phase else {
            return;
        };
        if ok {
            if extension == "postgres_changes" && !*subscribed {
                *subscribed = true;
                channel.backoff.reset();
                self.actions.push_back(Action::Subscribed {
                    topic: topic.to_string(),
                });
            }
            return;
        }
        *subscribed = false;
        if message.to_ascii_lowercase().contains("expired") {
            self.await_token(now, topic);
        } else {
            // The server closes the channel after a system error; join it afresh after a pause.
            self.rejoin_later(now, topic);
        }
    }

    /// Derives the public state and queues it if it changed.
    fn publish(&mut self) {
        let state = if let Some(reason) = self.channels.values().find_map(|channel| match &channel
            .phase
        {
            ChannelPhase::Failed(reason) => Some(reason.clone()),
            _ => None,
        }) {
            ConnectionState::Failed(reason)
        } else {
            match (&self.socket, &self.link) {
                (_, Link::Failed(reason)) => ConnectionState::Failed(reason.clone()),
                (Socket::Open { .. }, _) => {
                    let all_live = !self.channels.is_empty()
                        && self.channels.values().all(|channel| {
                            matches!(
                                channel.phase,
                                ChannelPhase::Joined {
                                    subscribed: true,
                                    ..
                                }
                            )
                        });
                    if all_live {
                        ConnectionState::Live
                    } else {
                        ConnectionState::Connecting
                    }
                }
                (_, Link::Offline) => ConnectionState::Offline,
                (_, Link::Idle) => ConnectionState::Idle,
                (_, Link::Reconnecting { attempt, retry_at }) => ConnectionState::Reconnecting {
                    attempt: *attempt,
                    retry_at: *retry_at,
                },
                (_, Link::Connecting) => ConnectionState::Connecting,
            }
        };
        if matches!(state, ConnectionState::Live) {
            self.link = Link::Connecting;
        }
        if state != self.published {
            self.published = state.clone();
            self.actions.push_back(Action::State(state));
        }
    }
}

#[cfg(test)]
mod tests;
