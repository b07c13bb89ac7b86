//! Typed decode/encode errors. Every message-level error names the message (Q.763 abbreviation)
//! and the parameter (snake_case Q.763 name, or the structural part such as `pointer`).

/// Error decoding or encoding an ISUP message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The message ends before the named part.
    #[error("{message}: truncated in {parameter}")]
    Truncated {
        message: &'static str,
        parameter: &'static str,
    },
    /// A pointer designates an octet outside the message or inside the pointer area.
    #[error("{message}: bad pointer to {parameter}")]
    BadPointer {
        message: &'static str,
        parameter: &'static str,
    },
    /// A parameter has a length its format does not allow.
    #[error("{message}: {parameter}: length {actual} octets, expected {expected}")]
    LengthMismatch {
        message: &'static str,
        parameter: &'static str,
        expected: &'static str,
        actual: usize,
    },
    /// A mandatory parameter is absent (zero pointer, or not supplied when encoding).
    #[error("{message}: missing mandatory parameter {parameter}")]
    MissingMandatory {
        message: &'static str,
        parameter: &'static str,
    },
    /// A parameter's content violates its Q.763 format.
    #[error("{message}: {parameter}: bad value: {reason}")]
    BadValue {
        message: &'static str,
        parameter: &'static str,
        reason: &'static str,
    },
    /// The optional part holds more parameters than [`crate::view::MAX_OPTIONAL_PARAMETERS`].
    #[error("{message}: more than {limit} optional parameters")]
    TooManyParameters { message: &'static str, limit: usize },
}

impl Error {
    /// The parameter (or structural part) the error is about.
    pub fn parameter(&self) -> &'static str {
        match self {
            Error::Truncated { parameter, .. }
            | Error::BadPointer { parameter, .. }
            | Error::LengthMismatch { parameter, .. }
            | Error::MissingMandatory { parameter, .. }
            | Error::BadValue { parameter, .. } => parameter,
            Error::TooManyParameters { .. } => "optional part",
        }
    }

    /// The message type abbreviation the error is about.
    pub fn message(&self) -> &'static str {
        match self {
            Error::Truncated { message, .. }
            | Error::BadPointer { message, .. }
            | Error::LengthMismatch { message, .. }
            | Error::MissingMandatory { message, .. }
            | Error::BadValue { message, .. }
            | Error::TooManyParameters { message, .. } => message,
        }
    }
}

/// Error decoding one parameter value, before the message context is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParameterError {
    #[error("truncated")]
    Truncated,
    #[error("length {actual} octets, expected {expected}")]
    LengthMismatch {
        expected: &'static str,
        actual: usize,
    },
    #[error("bad value: {0}")]
    BadValue(&'static str),
}

impl ParameterError {
    /// Attach the message and parameter names.
    pub fn in_message(self, message: &'static str, parameter: &'static str) -> Error {
        match self {
            ParameterError::Truncated => Error::Truncated { message, parameter },
            ParameterError::LengthMismatch { expected, actual } => Error::LengthMismatch {
                message,
                parameter,
                expected,
                actual,
            },
            ParameterError::BadValue(reason) => Error::BadValue {
                message,
                parameter,
                reason,
            },
        }
    }
}

/// Require exactly `n` octets.
pub(crate) fn exact(bytes: &[u8], n: usize, expected: &'static str) -> Result<(), ParameterError> {
    if bytes.len() == n {
        Ok(())
    } else {
        Err(ParameterError::LengthMismatch {
            expected,
            actual: bytes.len(),
        })
    }
}

/// Require at least `n` octets.
pub(crate) fn at_least(
    bytes: &[u8],
    n: usize,
    expected: &'static str,
) -> Result<(), ParameterError> {
    if bytes.len() >= n {
        Ok(())
    } else {
        Err(ParameterError::LengthMismatch {
            expected,
            actual: bytes.len(),
        })
    }
}
