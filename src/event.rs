//! The one event type that flows through the stages: a source fills the header fields and the
//! message, `keys` adds the key and its parameters, later stages add the user and the score.

use crate::keys::KeyId;
use chrono::{DateTime, FixedOffset};
use serde::Serialize;

/// One log line as it moves through dante.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Event {
    /// When the line was written, when its header says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<DateTime<FixedOffset>>,
    /// The host that wrote it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The program that wrote it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// The process id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<String>,
    /// The user the event is about: given by the source (HTTP `user`) or found by the user stage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The message, without its header once the keys stage decoded it.
    pub message: String,
    /// `message` is still the whole line, header included (line sources); the keys stage
    /// decodes it.
    #[serde(skip)]
    pub header_pending: bool,
    /// The log key of the message (0 until the keys stage ran).
    pub key: KeyId,
    /// The values the template's `<*>` stand for, in order.
    pub params: Vec<Param>,
    /// The line was longer than the limit and was cut.
    pub truncated: bool,
    /// The line did not match its header format and was mined whole.
    pub unmatched: bool,
}

/// One parameter value of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Param {
    /// The text the `<*>` stands for.
    pub value: String,
    /// What kind of value it is, where that is obvious.
    pub kind: ParamKind,
}

/// The kind of a parameter value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamKind {
    /// An integer or decimal number.
    Number,
    /// An IPv4 or IPv6 address, possibly with a port.
    Ip,
    /// Hexadecimal: `0x1f`, object ids, hashes.
    Hex,
    /// A UUID.
    Uuid,
    /// A file system path.
    Path,
    /// A URL.
    Url,
    /// An e-mail address.
    Email,
    /// A date, a time or a timestamp.
    Time,
    /// A duration such as `12ms`.
    Duration,
    /// A size such as `3.5MB`.
    Size,
    /// A user name, known from the words around it.
    User,
    /// Anything else.
    Text,
}
