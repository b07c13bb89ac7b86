//! Typed decode errors. Each maps to the RFC 4666 §3.8.1 error code an ERR would carry.

use crate::wire::{ErrorCode, Tag};

/// Why octets are not a valid M3UA message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Fewer octets than the 8-octet common header.
    #[error("truncated: {0} octets, the common header needs 8")]
    Truncated(usize),
    /// RFC 4666 §3.1.1: only version 1 is defined.
    #[error("invalid version {0}")]
    InvalidVersion(u8),
    /// The Message Length field is below 8, not a multiple of 4 or does not match the octets.
    #[error("message length {declared} does not fit {available} octets")]
    BadLength { declared: u32, available: usize },
    /// Class not defined for M3UA (RFC 4666 §3.1.2).
    #[error("unsupported message class {0}")]
    UnsupportedMessageClass(u8),
    /// Type not defined in a known class.
    #[error("unsupported message type {msg_type} in class {class}")]
    UnsupportedMessageType { class: u8, msg_type: u8 },
    /// A TLV whose length is below 4, overruns the message, is duplicated or is the wrong size for its tag.
    #[error("parameter field error in {tag} at offset {offset}")]
    ParameterFieldError { tag: Tag, offset: usize },
    /// A parameter not defined for this message.
    #[error("unexpected parameter {tag}")]
    UnexpectedParameter { tag: Tag },
    /// A mandatory parameter is absent.
    #[error("missing parameter {tag}")]
    MissingParameter { tag: Tag },
    /// The parameter is well formed but its value is not allowed.
    #[error("invalid value of parameter {tag}")]
    InvalidParameterValue { tag: Tag },
}

impl DecodeError {
    /// The ERR error code to report this to the peer with (RFC 4666 §3.8.1).
    pub fn error_code(&self) -> ErrorCode {
        match self {
            DecodeError::Truncated(_) | DecodeError::BadLength { .. } => ErrorCode::PROTOCOL_ERROR,
            DecodeError::InvalidVersion(_) => ErrorCode::INVALID_VERSION,
            DecodeError::UnsupportedMessageClass(_) => ErrorCode::UNSUPPORTED_MESSAGE_CLASS,
            DecodeError::UnsupportedMessageType { .. } => ErrorCode::UNSUPPORTED_MESSAGE_TYPE,
            DecodeError::ParameterFieldError { .. } => ErrorCode::PARAMETER_FIELD_ERROR,
            DecodeError::UnexpectedParameter { .. } => ErrorCode::UNEXPECTED_PARAMETER,
            DecodeError::MissingParameter { .. } => ErrorCode::MISSING_PARAMETER,
            DecodeError::InvalidParameterValue { .. } => ErrorCode::INVALID_PARAMETER_VALUE,
        }
    }
}
