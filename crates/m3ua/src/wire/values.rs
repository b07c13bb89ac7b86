//! Parameter values (RFC 4666 §3.2, §3.3–§3.8).

use std::fmt;

use bytes::Bytes;

use crate::tables;

/// Error Code (RFC 4666 §3.8.1). Unknown codes are kept as they are.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorCode(pub u32);

impl ErrorCode {
    pub const INVALID_VERSION: ErrorCode = ErrorCode(0x01);
    pub const UNSUPPORTED_MESSAGE_CLASS: ErrorCode = ErrorCode(0x03);
    pub const UNSUPPORTED_MESSAGE_TYPE: ErrorCode = ErrorCode(0x04);
    pub const UNSUPPORTED_TRAFFIC_MODE_TYPE: ErrorCode = ErrorCode(0x05);
    pub const UNEXPECTED_MESSAGE: ErrorCode = ErrorCode(0x06);
    pub const PROTOCOL_ERROR: ErrorCode = ErrorCode(0x07);
    pub const INVALID_STREAM_IDENTIFIER: ErrorCode = ErrorCode(0x09);
    pub const REFUSED_MANAGEMENT_BLOCKING: ErrorCode = ErrorCode(0x0d);
    pub const ASP_IDENTIFIER_REQUIRED: ErrorCode = ErrorCode(0x0e);
    pub const INVALID_ASP_IDENTIFIER: ErrorCode = ErrorCode(0x0f);
    pub const INVALID_PARAMETER_VALUE: ErrorCode = ErrorCode(0x11);
    pub const PARAMETER_FIELD_ERROR: ErrorCode = ErrorCode(0x12);
    pub const UNEXPECTED_PARAMETER: ErrorCode = ErrorCode(0x13);
    pub const DESTINATION_STATUS_UNKNOWN: ErrorCode = ErrorCode(0x14);
    pub const INVALID_NETWORK_APPEARANCE: ErrorCode = ErrorCode(0x15);
    pub const MISSING_PARAMETER: ErrorCode = ErrorCode(0x16);
    pub const INVALID_ROUTING_CONTEXT: ErrorCode = ErrorCode(0x19);
    pub const NO_CONFIGURED_AS_FOR_ASP: ErrorCode = ErrorCode(0x1a);

    /// The RFC's name, if the code is defined for M3UA.
    pub fn name(self) -> Option<&'static str> {
        tables::error_code_name(self)
    }
}

impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n} (0x{:02x})", self.0),
            None => write!(f, "0x{:02x}", self.0),
        }
    }
}

/// Traffic Mode Type (RFC 4666 §3.7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TrafficModeType(pub u32);

impl TrafficModeType {
    pub const OVERRIDE: TrafficModeType = TrafficModeType(1);
    pub const LOADSHARE: TrafficModeType = TrafficModeType(2);
    pub const BROADCAST: TrafficModeType = TrafficModeType(3);

    /// The RFC's name, if defined.
    pub fn name(self) -> Option<&'static str> {
        tables::TRAFFIC_MODE_TYPES
            .iter()
            .find(|&&(v, _)| v == self.0)
            .map(|&(_, n)| n)
    }
}

/// Status of a NTFY (RFC 4666 §3.8.2): Status Type and Status Information.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Status {
    pub status_type: u16,
    pub status_info: u16,
}

impl Status {
    pub const AS_INACTIVE: Status = Status::new(1, 2);
    pub const AS_ACTIVE: Status = Status::new(1, 3);
    pub const AS_PENDING: Status = Status::new(1, 4);
    pub const INSUFFICIENT_ASP_RESOURCES: Status = Status::new(2, 1);
    pub const ALTERNATE_ASP_ACTIVE: Status = Status::new(2, 2);
    pub const ASP_FAILURE: Status = Status::new(2, 3);

    pub const fn new(status_type: u16, status_info: u16) -> Self {
        Status {
            status_type,
            status_info,
        }
    }

    /// The RFC's name, if defined.
    pub fn name(self) -> Option<&'static str> {
        tables::status_name(self.status_type, self.status_info)
    }
}

/// One entry of Affected Point Code (RFC 4666 §3.4.1): a mask and a 24-bit point code. The mask
/// is the number of low-order bits of the point code that are wildcarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AffectedPointCode {
    pub mask: u8,
    /// Point code, right-aligned; only the low 24 bits are carried.
    pub point_code: u32,
}

impl AffectedPointCode {
    /// A single point code (mask 0).
    pub const fn new(point_code: u32) -> Self {
        AffectedPointCode {
            mask: 0,
            point_code: point_code & 0x00ff_ffff,
        }
    }

    /// True when `pc` falls within this entry.
    pub fn contains(&self, pc: u32) -> bool {
        let m = self.wildcard_bits();
        (self.point_code >> m) == ((pc & 0x00ff_ffff) >> m)
    }

    /// The mask clamped to the 24-bit field.
    pub fn wildcard_bits(&self) -> u32 {
        u32::from(self.mask).min(24)
    }

    pub(crate) fn from_be(b: [u8; 4]) -> Self {
        AffectedPointCode {
            mask: b[0],
            point_code: u32::from_be_bytes([0, b[1], b[2], b[3]]),
        }
    }

    pub(crate) fn to_be(self) -> [u8; 4] {
        let pc = self.point_code.to_be_bytes();
        [self.mask, pc[1], pc[2], pc[3]]
    }
}

/// User/Cause of DUPU (RFC 4666 §3.4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserCause {
    /// 0 unknown, 1 unequipped remote user, 2 inaccessible remote user.
    pub cause: u16,
    /// The MTP3-User identity, i.e. the service indicator (5 = ISUP).
    pub user: u16,
}

impl UserCause {
    pub const CAUSE_UNKNOWN: u16 = 0;
    pub const CAUSE_UNEQUIPPED_REMOTE_USER: u16 = 1;
    pub const CAUSE_INACCESSIBLE_REMOTE_USER: u16 = 2;
}

/// Congestion level of SCON (RFC 4666 §3.4.4): 0 none, 1–3 congestion level.
pub type CongestionLevel = u8;

/// Service Indicator values of the SIO (ITU-T Q.704 §14.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ServiceIndicator;

impl ServiceIndicator {
    pub const SNM: u8 = 0;
    pub const SCCP: u8 = 3;
    pub const TUP: u8 = 4;
    pub const ISUP: u8 = 5;
}

/// Protocol Data (RFC 4666 §3.3.1): the MTP3 routing label, SIO fields and the user part
/// message (for ISUP starting at the CIC).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProtocolData {
    /// Originating Point Code, right-aligned in 32 bits.
    pub opc: u32,
    /// Destination Point Code, right-aligned in 32 bits.
    pub dpc: u32,
    /// Service Indicator (5 = ISUP).
    pub si: u8,
    /// Network Indicator (0 international, 2 national).
    pub ni: u8,
    /// Message Priority (0 for ITU).
    pub mp: u8,
    /// Signalling Link Selection.
    pub sls: u8,
    /// User Protocol Data.
    pub user_data: Bytes,
}

impl ProtocolData {
    /// Length of the fixed part before the user data.
    pub const FIXED_LEN: usize = 12;

    /// Decodes a Protocol Data value, copying the user data.
    pub fn parse(value: &[u8]) -> Option<ProtocolData> {
        Self::parse_with(value, Bytes::copy_from_slice)
    }

    pub(crate) fn parse_with(
        value: &[u8],
        user: impl FnOnce(&[u8]) -> Bytes,
    ) -> Option<ProtocolData> {
        let fixed = value.get(..Self::FIXED_LEN)?;
        Some(ProtocolData {
            opc: u32::from_be_bytes([fixed[0], fixed[1], fixed[2], fixed[3]]),
            dpc: u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]),
            si: fixed[8],
            ni: fixed[9],
            mp: fixed[10],
            sls: fixed[11],
            user_data: user(&value[Self::FIXED_LEN..]),
        })
    }

    /// Length of the value (without tag, length and padding).
    pub fn value_len(&self) -> usize {
        Self::FIXED_LEN + self.user_data.len()
    }
}
