//! Supabase Realtime over Phoenix channels, vsn 1.0.0: JSON object frames, encode and decode.
//!
//! Decoding takes any text and never panics: a frame that is not a Phoenix message becomes a
//! [`DecodeError`], and a well-formed message with an event or field we do not know becomes
//! [`ServerMessage::Unknown`] or is tolerated field by field.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// The topic of socket-level messages (heartbeats).
pub const PHOENIX_TOPIC: &str = "phoenix";

/// One Phoenix message as it travels on the wire in vsn 1.0.0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    /// `realtime:<name>` or `phoenix`.
    pub topic: String,
    /// `phx_join`, `phx_reply`, `postgres_changes`, ...
    pub event: String,
    /// Always an object on the wire.
    pub payload: Value,
    /// Client-chosen reference, echoed in replies; `null` on server pushes.
    #[serde(rename = "ref")]
    pub reference: Option<String>,
    /// The join's reference, on client pushes to a joined channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join_ref: Option<String>,
}

/// Why a frame could not be decoded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    /// The text is not JSON.
    #[error("frame is not JSON")]
    NotJson,
    /// JSON, but not a Phoenix message object.
    #[error("frame is not a Phoenix message: {0}")]
    NotAMessage(String),
}

/// One `postgres_changes` binding as sent in `phx_join` and echoed in the reply.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChangeFilter {
    /// `*`, `INSERT`, `UPDATE` or `DELETE`.
    pub event: String,
    /// Usually `public`.
    pub schema: String,
    /// The table watched.
    pub table: String,
    /// `column=op.value`, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
}

impl ChangeFilter {
    /// Every change of `table` in `public`, optionally narrowed by a filter.
    pub fn table(table: &str, filter: Option<String>) -> Self {
        Self {
            event: "*".into(),
            schema: "public".into(),
            table: table.into(),
            filter,
        }
    }
}

/// What a change did to a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeKind {
    /// A row was inserted.
    Insert,
    /// A row was updated.
    Update,
    /// A row was deleted.
    Delete,
    /// A kind this build does not know.
    Unknown(String),
}

/// One committed database change delivered by Realtime.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Binding ids of this channel that the change matched.
    pub ids: Vec<i64>,
    /// Schema of the table.
    pub schema: String,
    /// Table name.
    pub table: String,
    /// Insert, update or delete.
    pub kind: ChangeKind,
    /// Commit time as sent (ISO 8601).
    pub commit_timestamp: Option<String>,
    /// The new row (insert and update).
    pub record: Option<Value>,
    /// The old row (update and delete; primary key only under RLS).
    pub old_record: Option<Value>,
    /// Server-side errors attached to the change (e.g. payload too large).
    pub errors: Vec<String>,
}

/// The status in a `phx_reply`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyStatus {
    /// `ok`.
    Ok,
    /// `error`, with the server's reason if it gave one.
    Error(String),
    /// `timeout` or anything else.
    Other(String),
}

/// A message from the server, decoded into what the client acts on.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerMessage {
    /// A reply to one of our pushes.
    Reply {
        /// Topic the push went to.
        topic: String,
        /// The push's ref.
        reference: Option<String>,
        /// Ok or error.
        status: ReplyStatus,
        /// The `response` object.
        response: Value,
    },
    /// A `system` message (e.g. "Subscribed to PostgreSQL").
    System {
        /// Channel topic.
        topic: String,
        /// `postgres_changes` or `system`.
        extension: String,
        /// True when `status` is `ok`.
        ok: bool,
        /// Human text from the server.
        message: String,
    },
    /// A database change.
    Change {
        /// Channel topic.
        topic: String,
        /// The change.
        change: Change,
    },
    /// The server closed a channel.
    Close {
        /// Channel topic.
        topic: String,
        /// The join ref of the channel instance closed.
        reference: Option<String>,
    },
    /// The channel crashed on the server.
    ChannelError {
        /// Channel topic.
        topic: String,
        /// The join ref of the channel instance.
        reference: Option<String>,
    },
    /// Anything else (broadcast, presence, a future event): tolerated and ignored.
    Unknown {
        /// Topic.
        topic: String,
        /// Event name.
        event: String,
    },
}

/// Decodes one text frame.
pub fn decode(text: &str) -> Result<ServerMessage, DecodeError> {
    let value: Value = serde_json::from_str(text).map_err(|_| DecodeError::NotJson)?;
    let Value::Object(mut object) = value else {
        return Err(DecodeError::NotAMessage("not an object".into()));
    };
    let topic = match object.remove("topic") {
        Some(Value::String(topic)) => topic,
        _ => return Err(DecodeError::NotAMessage("topic missing".into())),
    };
    let event = match object.remove("event") {
        Some(Value::String(event)) => event,
        _ => return Err(DecodeError::NotAMessage("event missing".into())),
    };
    let payload = match object.remove("payload") {
        Some(Value::Object(payload)) => payload,
        Some(Value::Null) | None => Map::new(),
        Some(_) => return Err(DecodeError::NotAMessage("payload is not an object".into())),
    };
    let reference = match object.remove("ref") {
        Some(Value::String(reference)) => Some(reference),
        Some(Value::Number(number)) => Some(number.to_string()),
        _ => None,
    };
    Ok(match event.as_str() {
        "phx_reply" => decode_reply(topic, reference, payload),
        "system" => ServerMessage::System {
            topic,
            extension: string_field(&payload, "extension"),
            ok: payload.get("status").and_then(Value::as_str) == Some("ok"),
            message: string_field(&payload, "message"),
        },
        "postgres_changes" => match decode_change(&payload) {
            Some(change) => ServerMessage::Change { topic, change },
            None => ServerMessage::Unknown { topic, event },
        },
        "phx_close" => ServerMessage::Close { topic, reference },
        "phx_error" => ServerMessage::ChannelError { topic, reference },
        _ => ServerMessage::Unknown { topic, event },
    })
}

fn string_field(object: &Map<String, Value>, key: &str) -> String {
    object
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn decode_reply(
    topic: String,
    reference: Option<String>,
    payload: Map<String, Value>,
) -> ServerMessage {
    let response = payload.get("response").cloned().unwrap_or(Value::Null);
    let status = match payload.get("status").and_then(Value::as_str) {
        Some("ok") => ReplyStatus::Ok,
        Some("error") => ReplyStatus::Error(
            response
                .get("reason")
                .and_then(Value::as_str)
                .unwrap_or("Unknown Error on Channel")
                .to_string(),
        ),
        Some(other) => ReplyStatus::Other(other.to_string()),
        None => ReplyStatus::Other(String::new()),
    };
    ServerMessage::Reply {
        topic,
        reference,
        status,
        response,
    }
}

fn decode_change(payload: &Map<String, Value>) -> Option<Change> {
    let data = payload.get("data")?.as_object()?;
    let ids = payload
        .get("ids")
        .and_then(Value::as_array)
        .map(|ids| ids.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default();
    let kind = match data.get("type").and_then(Value::as_str) {
        Some(kind) => match kind.to_ascii_uppercase().as_str() {
            "INSERT" => ChangeKind::Insert,
            "UPDATE" => ChangeKind::Update,
            "DELETE" => ChangeKind::Delete,
            _ => ChangeKind::Unknown(kind.to_string()),
        },
        None => ChangeKind::Unknown(String::new()),
    };
    let object_field = |key: &str| data.get(key).filter(|value| value.is_object()).cloned();
    Some(Change {
        ids,
        schema: string_field(data, "schema"),
        table: string_field(data, "table"),
        kind,
        commit_timestamp: data
            .get("commit_timestamp")
            .and_then(Value::as_str)
            .map(str::to_string),
        record: object_field("record"),
        old_record: object_field("old_record"),
        errors: data
            .get("errors")
            .and_then(Value::as_array)
            .map(|errors| {
                errors
                    .iter()
                    .filter_map(|error| error.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// A push from the client.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientMessage<'a> {
    /// Join a channel with its `postgres_changes` bindings and the user's token.
    Join {
        /// Topic, `realtime:<name>`.
        topic: &'a str,
        /// Bindings, in registration order.
        filters: &'a [ChangeFilter],
        /// The user's JWT, if signed in.
        access_token: Option<&'a str>,
    },
    /// Leave a joined channel.
    Leave {
        /// Topic.
        topic: &'a str,
    },
    /// Socket-level keepalive on topic `phoenix`.
    Heartbeat,
    /// Hand a refreshed token to a joined channel.
    AccessToken {
        /// Topic.
        topic: &'a str,
        /// The new JWT.
        access_token: &'a str,
    },
}

/// Encodes a push as one vsn 1.0.0 text frame. `join_ref` is the channel's join ref (for a join,
/// the same as `reference`); heartbeats carry none.
pub fn encode(message: &ClientMessage<'_>, reference: &str, join_ref: Option<&str>) -> String {
    let (topic, event, payload) = match message {
        ClientMessage::Join {
            topic,
            filters,
            access_token,
        } => {
            let mut payload = json!({
                "config": {
                    "broadcast": {"ack": false, "self": false},
                    "presence": {"enabled": false, "key": ""},
                    "postgres_changes": filters,
                    "private": false,
                }
            });
            if let (Some(token), Some(object)) = (access_token, payload.as_object_mut()) {
                object.insert("access_token".into(), Value::String((*token).to_string()));
            }
            (*topic, "phx_join", payload)
        }
        ClientMessage::Leave { topic } => (*topic, "phx_leave", json!({})),
        ClientMessage::Heartbeat => (PHOENIX_TOPIC, "heartbeat", json!({})),
        ClientMessage::AccessToken {
            topic,
            access_token,
        } => (
            *topic,
            "access_token",
            json!({ "access_token": access_token }),
        ),
    };
    let frame = Frame {
        topic: topic.to_string(),
        event: event.to_string(),
        payload,
        reference: Some(reference.to_string()),
        join_ref: join_ref.map(str::to_string),
    };
    // Serializing a struct of strings and `Value`s cannot fail.
    serde_json::to_string(&frame).unwrap_or_default()
}

/// Binding ids from an ok join reply, paired by index with the filters we sent. Returns `None`
/// when the server's echo does not match what we asked for (realtime-js treats that as a channel
/// error, and so do we).
pub fn binding_ids(response: &Value, sent: &[ChangeFilter]) -> Option<Vec<i64>> {
    let echoed = match response.get("postgres_changes") {
        Some(Value::Array(items)) => items,
        None | Some(Value::Null) if sent.is_empty() => return Some(Vec::new()),
        _ => return None,
    };
    if echoed.len() != sent.len() {
        return None;
    }
    echoed
        .iter()
        .zip(sent)
        .map(|(item, filter)| {
            let same = item.get("event").and_then(Value::as_str) == Some(filter.event.as_str())
                && item.get("schema").and_then(Value::as_str) == Some(filter.schema.as_str())
                && item.get("table").and_then(Value::as_str) == Some(filter.table.as_str())
                && item.get("filter").and_then(Value::as_str) == filter.filter.as_deref();
            if same {
                item.get("id").and_then(Value::as_i64)
            } else {
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn join_frame_has_the_reference_shape() {
        let filters = [ChangeFilter::table(
            "redemption_requests",
            Some("investor_id=eq.1".into()),
        )];
        let text = encode(
            &ClientMessage::Join {
                topic: "realtime:redemptions",
                filters: &filters,
                access_token: Some("jwt"),
            },
            "1",
            Some("1"),
        );
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["event"], "phx_join");
        assert_eq!(value["ref"], "1");
        assert_eq!(value["join_ref"], "1");
        assert_eq!(value["payload"]["access_token"], "jwt");
        assert_eq!(
            value["payload"]["config"]["postgres_changes"][0]["filter"],
            "investor_id=eq.1"
        );
    }

    #[test]
    fn heartbeat_has_no_join_ref() {
        let text = encode(&ClientMessage::Heartbeat, "7", None);
        assert_eq!(
            text,
            r#"{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"7"}"#
        );
    }

    #[test]
    fn decodes_the_reference_transcript() {
        let reply = decode(r#"{"topic":"realtime:inv","event":"phx_reply","payload":{"status":"ok","response":{"postgres_changes":[{"id":30636876,"event":"*","schema":"public","table":"investments","filter":"investor_id=eq.123"}]}},"ref":"1"}"#).unwrap();
        let ServerMessage::Reply {
            status, response, ..
        } = reply
        else {
            panic!("not a reply")
        };
        assert_eq!(status, ReplyStatus::Ok);
        let sent = [ChangeFilter::table(
            "investments",
            Some("investor_id=eq.123".into()),
        )];
        assert_eq!(binding_ids(&response, &sent), Some(vec![30636876]));
        let other = [ChangeFilter::table("investments", None)];
        assert_eq!(binding_ids(&response, &other), None);

        let system = decode(r#"{"topic":"realtime:inv","event":"system","payload":{"extension":"postgres_changes","status":"ok","message":"Subscribed to PostgreSQL","channel":"inv"},"ref":null}"#).unwrap();
        assert!(matches!(system, ServerMessage::System { ok: true, .. }));

        let change = decode(r#"{"topic":"realtime:inv","event":"postgres_changes","ref":null,"payload":{"ids":[30636876],"data":{"schema":"public","table":"investments","type":"UPDATE","commit_timestamp":"2025-11-19T00:22:40.877Z","columns":[{"name":"id","type":"int8"}],"record":{"id":7},"old_record":{"id":7},"errors":null}}}"#).unwrap();
        let ServerMessage::Change { change, .. } = change else {
            panic!("not a change")
        };
        assert_eq!(change.kind, ChangeKind::Update);
        assert_eq!(change.ids, vec![30636876]);
        assert_eq!(change.record, Some(json!({"id": 7})));

        let error = decode(r#"{"topic":"realtime:inv","event":"phx_reply","payload":{"status":"error","response":{"reason":"InvalidJWTToken: Token has expired 12 seconds ago"}},"ref":"1"}"#).unwrap();
        assert!(matches!(
            error,
            ServerMessage::Reply { status: ReplyStatus::Error(reason), .. } if reason.contains("expired")
        ));
    }

    #[test]
    fn unknown_events_and_fields_are_tolerated() {
        let message = decode(
            r#"{"topic":"realtime:x","event":"presence_diff","payload":{"joins":{}},"ref":null,"extra":1}"#,
        )
        .unwrap();
        assert!(matches!(message, ServerMessage::Unknown { .. }));
        assert!(decode("[1,2]").is_err());
        assert!(decode("not json").is_err());
        assert!(decode(r#"{"topic":"t","event":"e","payload":3,"ref":null}"#).is_err());
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_text_never_panics(text in ".{0,300}") {
            let _ = decode(&text);
        }

        #[test]
        fn decoding_arbitrary_json_never_panics(value in arbitrary_json()) {
            let _ = decode(&value.to_string());
            let mut envelope = json!({"topic": "realtime:x", "event": "postgres_changes", "ref": null});
            envelope["payload"] = json!({"data": value.clone(), "ids": value.clone()});
            let _ = decode(&envelope.to_string());
            envelope["event"] = json!("phx_reply");
            envelope["payload"] = json!({"status": "ok", "response": value.clone()});
            if let Ok(ServerMessage::Reply { response, .. }) = decode(&envelope.to_string()) {
                let _ = binding_ids(&response, &[ChangeFilter::table("t", None)]);
            }
        }

        #[test]
        fn encoded_frames_decode_as_frames(topic in "realtime:[a-z0-9:_-]{1,20}", token in "[A-Za-z0-9._-]{0,40}") {
            let text = encode(&ClientMessage::AccessToken { topic: &topic, access_token: &token }, "3", Some("1"));
            let frame: Frame = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(frame.topic, topic);
            prop_assert_eq!(frame.payload["access_token"].as_str(), Some(token.as_str()));
        }
    }

    fn arbitrary_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(|n| json!(n)),
            ".{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::hash_map(
                    prop_oneof![
                        Just("type".to_string()),
                        Just("record".to_string()),
                        Just("id".to_string()),
                        Just("postgres_changes".to_string()),
                        "[a-z]{1,6}"
                    ],
                    inner,
                    0..6
                )
                .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }
}
