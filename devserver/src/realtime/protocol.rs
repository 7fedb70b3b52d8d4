//! Phoenix vsn 1.0.0 framing: one JSON object per text frame, as Supabase Realtime speaks it.

use serde::Deserialize;
use serde_json::{json, Value};

/// A frame read from the socket, independent of the WebSocket library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A text frame.
    Text(String),
    /// Any other frame (ping, pong, binary): traffic, but nothing to handle.
    Other,
    /// The client closed, or the connection failed.
    Close,
}

/// A frame to write to the socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// A text frame.
    Text(String),
    /// A close frame (normal closure), after which the socket ends.
    Close,
}

/// A client message: `{topic, event, payload, ref, join_ref?}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ClientMessage {
    /// The topic, e.g. `realtime:room1` or `phoenix`.
    pub topic: String,
    /// The event, e.g. `phx_join`.
    pub event: String,
    /// The payload; Phoenix requires an object.
    #[serde(default)]
    pub payload: Value,
    /// The client's ref, echoed in the reply.
    #[serde(rename = "ref", default, deserialize_with = "ref_text")]
    pub reference: Option<String>,
    /// The ref of the join this message belongs to.
    #[serde(default, deserialize_with = "ref_text")]
    pub join_ref: Option<String>,
}

/// Refs are strings in realtime-js, but accept numbers too rather than fail the frame.
fn ref_text<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::Null => None,
        Value::String(text) => Some(text),
        other => Some(other.to_string()),
    })
}

/// Decodes a text frame; `None` for anything that is not a well-formed message.
pub fn decode(text: &str) -> Option<ClientMessage> {
    serde_json::from_str(text).ok()
}

/// Encodes a server message; vsn 1.0.0 writes only `topic`, `event`, `payload` and `ref`.
pub fn encode(topic: &str, event: &str, payload: Value, reference: Option<&str>) -> String {
    json!({"topic": topic, "event": event, "payload": payload, "ref": reference}).to_string()
}

/// A `phx_reply` with status `ok`.
pub fn reply_ok(topic: &str, reference: Option<&str>, response: Value) -> String {
    encode(
        topic,
        "phx_reply",
        json!({"status": "ok", "response": response}),
        reference,
    )
}

/// A `phx_reply` with status `error` and a `reason`.
pub fn reply_error(topic: &str, reference: Option<&str>, reason: &str) -> String {
    encode(
        topic,
        "phx_reply",
        json!({"status": "error", "response": {"reason": reason}}),
        reference,
    )
}

/// A `system` message for a channel (`channel` is the topic without `realtime:`).
pub fn system(topic: &str, extension: &str, status: &str, message: &str) -> String {
    let channel = topic.strip_prefix("realtime:").unwrap_or(topic);
    encode(
        topic,
        "system",
        json!({"extension": extension, "status": status, "message": message, "channel": channel}),
        None,
    )
}

/// A `phx_close` for a channel; its `ref` is the channel's join ref.
pub fn close(topic: &str, join_ref: Option<&str>) -> String {
    encode(topic, "phx_close", json!({}), join_ref)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_realtime_js_frames() {
        let message = decode(
            r#"{"topic":"realtime:x","event":"phx_join","payload":{},"ref":"1","join_ref":"1"}"#,
        )
        .expect("decodes");
        assert_eq!(message.reference.as_deref(), Some("1"));
        assert_eq!(message.join_ref.as_deref(), Some("1"));
        let heartbeat = decode(r#"{"topic":"phoenix","event":"heartbeat","payload":{},"ref":7}"#)
            .expect("decodes");
        assert_eq!(heartbeat.reference.as_deref(), Some("7"));
        assert!(decode("[1,2]").is_none());
        assert!(decode("not json").is_none());
    }

    #[test]
    fn encodes_without_join_ref() {
        let text = reply_ok("phoenix", Some("2"), json!({}));
        let value: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(
            value,
            json!({"topic":"phoenix","event":"phx_reply","payload":{"status":"ok","response":{}},"ref":"2"})
        );
        let system: Value = serde_json::from_str(&super::system(
            "realtime:inv",
            "postgres_changes",
            "ok",
            "Subscribed to PostgreSQL",
        ))
        .expect("json");
        assert_eq!(system["payload"]["channel"], "inv");
        assert_eq!(system["ref"], Value::Null);
    }
}
