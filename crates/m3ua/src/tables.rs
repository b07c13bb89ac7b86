//! Code tables of RFC 4666 kept as data: message classes and types with the parameters each
//! carries, parameter tags, error codes, status codes and traffic mode types.

use crate::wire::{ErrorCode, Tag};

/// Whether a parameter must, may or may conditionally appear (RFC 4666 §3.3–§3.8 message formats).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    Mandatory,
    Optional,
    Conditional,
}

/// One message definition: class, type, names and its parameters in the RFC's order.
#[derive(Debug, Clone, Copy)]
pub struct MessageSpec {
    pub class: u8,
    pub msg_type: u8,
    /// The RFC's abbreviation, e.g. `ASPUP_ACK`.
    pub abbr: &'static str,
    /// The RFC's name, e.g. `ASP Up Acknowledgement`.
    pub name: &'static str,
    /// Parameters in emission order.
    pub params: &'static [(Tag, Presence)],
}

use Presence::{Conditional as C, Mandatory as M, Optional as O};

const NA: Tag = Tag::NETWORK_APPEARANCE;
const RC: Tag = Tag::ROUTING_CONTEXT;
const INFO: Tag = Tag::INFO_STRING;
const APC: Tag = Tag::AFFECTED_POINT_CODE;

/// Message classes (RFC 4666 §3.1.2).
pub const MESSAGE_CLASSES: &[(u8, &str)] = &[
    (0, "MGMT"),
    (1, "Transfer"),
    (2, "SSNM"),
    (3, "ASPSM"),
    (4, "ASPTM"),
    (9, "RKM"),
];

/// Every message an ASP and an SGP exchange (RFC 4666 §3.1.2, formats in §3.3–§3.8).
pub const MESSAGES: &[MessageSpec] = &[
    // RFC 4666 §3.8.1 Error (ERR)
    MessageSpec {
        class: 0,
        msg_type: 0,
        abbr: "ERR",
        name: "Error",
        params: &[
            (Tag::ERROR_CODE, M),
            (RC, C),
            (NA, C),
            (APC, C),
            (Tag::DIAGNOSTIC_INFORMATION, C),
        ],
    },
    // RFC 4666 §3.8.2 Notify (NTFY)
    MessageSpec {
        class: 0,
        msg_type: 1,
        abbr: "NTFY",
        name: "Notify",
        params: &[
            (Tag::STATUS, M),
            (Tag::ASP_IDENTIFIER, C),
            (RC, O),
            (INFO, O),
        ],
    },
    // RFC 4666 §3.3.1 Payload Data (DATA)
    MessageSpec {
        class: 1,
        msg_type: 1,
        abbr: "DATA",
        name: "Payload Data",
        params: &[
            (NA, O),
            (RC, C),
            (Tag::PROTOCOL_DATA, M),
            (Tag::CORRELATION_ID, O),
        ],
    },
    // RFC 4666 §3.4.1 Destination Unavailable (DUNA)
    MessageSpec {
        class: 2,
        msg_type: 1,
        abbr: "DUNA",
        name: "Destination Unavailable",
        params: &[(NA, O), (RC, C), (APC, M), (INFO, O)],
    },
    // RFC 4666 §3.4.2 Destination Available (DAVA)
    MessageSpec {
        class: 2,
        msg_type: 2,
        abbr: "DAVA",
        name: "Destination Available",
        params: &[(NA, O), (RC, C), (APC, M), (INFO, O)],
    },
    // RFC 4666 §3.4.3 Destination State Audit (DAUD)
    MessageSpec {
        class: 2,
        msg_type: 3,
        abbr: "DAUD",
        name: "Destination State Audit",
        params: &[(NA, O), (RC, C), (APC, M), (INFO, O)],
    },
    // RFC 4666 §3.4.4 Signalling Congestion (SCON)
    MessageSpec {
        class: 2,
        msg_type: 4,
        abbr: "SCON",
        name: "Signalling Congestion",
        params: &[
            (NA, O),
            (RC, C),
            (APC, M),
            (Tag::CONCERNED_DESTINATION, O),
            (Tag::CONGESTION_INDICATIONS, O),
            (INFO, O),
        ],
    },
    // RFC 4666 §3.4.5 Destination User Part Unavailable (DUPU)
    MessageSpec {
        class: 2,
        msg_type: 5,
        abbr: "DUPU",
        name: "Destination User Part Unavailable",
        params: &[(NA, O), (RC, C), (APC, M), (Tag::USER_CAUSE, M), (INFO, O)],
    },
    // RFC 4666 §3.4.6 Destination Restricted (DRST)
    MessageSpec {
        class: 2,
        msg_type: 6,
        abbr: "DRST",
        name: "Destination Restricted",
        params: &[(NA, O), (RC, C), (APC, M), (INFO, O)],
    },
    // RFC 4666 §3.5.1 ASP Up (ASPUP)
    MessageSpec {
        class: 3,
        msg_type: 1,
        abbr: "ASPUP",
        name: "ASP Up",
        params: &[(Tag::ASP_IDENTIFIER, O), (INFO, O)],
    },
    // RFC 4666 §3.5.3 ASP Down (ASPDN)
    MessageSpec {
        class: 3,
        msg_type: 2,
        abbr: "ASPDN",
        name: "ASP Down",
        params: &[(INFO, O)],
    },
    // RFC 4666 §3.5.5 Heartbeat (BEAT)
    MessageSpec {
        class: 3,
        msg_type: 3,
        abbr: "BEAT",
        name: "Heartbeat",
        params: &[(Tag::HEARTBEAT_DATA, O)],
    },
    // RFC 4666 §3.5.2 ASP Up Acknowledgement (ASPUP ACK)
    MessageSpec {
        class: 3,
        msg_type: 4,
        abbr: "ASPUP_ACK",
        name: "ASP Up Acknowledgement",
        params: &[(Tag::ASP_IDENTIFIER, O), (INFO, O)],
    },
    // RFC 4666 §3.5.4 ASP Down Acknowledgement (ASPDN ACK)
    MessageSpec {
        class: 3,
        msg_type: 5,
        abbr: "ASPDN_ACK",
        name: "ASP Down Acknowledgement",
        params: &[(INFO, O)],
    },
    // RFC 4666 §3.5.6 Heartbeat Acknowledgement (BEAT ACK)
    MessageSpec {
        class: 3,
        msg_type: 6,
        abbr: "BEAT_ACK",
        name: "Heartbeat Acknowledgement",
        params: &[(Tag::HEARTBEAT_DATA, O)],
    },
    // RFC 4666 §3.7.1 ASP Active (ASPAC)
    MessageSpec {
        class: 4,
        msg_type: 1,
        abbr: "ASPAC",
        name: "ASP Active",
        params: &[(Tag::TRAFFIC_MODE_TYPE, O), (RC, O), (INFO, O)],
    },
    // RFC 4666 §3.7.3 ASP Inactive (ASPIA)
    MessageSpec {
        class: 4,
        msg_type: 2,
        abbr: "ASPIA",
        name: "ASP Inactive",
        params: &[(RC, O), (INFO, O)],
    },
    // RFC 4666 §3.7.2 ASP Active Acknowledgement (ASPAC ACK)
    MessageSpec {
        class: 4,
        msg_type: 3,
        abbr: "ASPAC_ACK",
        name: "ASP Active Acknowledgement",
        params: &[(Tag::TRAFFIC_MODE_TYPE, O), (RC, O), (INFO, O)],
    },
    // RFC 4666 §3.7.4 ASP Inactive Acknowledgement (ASPIA ACK)
    MessageSpec {
        class: 4,
        msg_type: 4,
        abbr: "ASPIA_ACK",
        name: "ASP Inactive Acknowledgement",
        params: &[(RC, O), (INFO, O)],
    },
];

/// Looks up a message definition by class and type.
pub fn message_spec(class: u8, msg_type: u8) -> Option<&'static MessageSpec> {
    MESSAGES
        .iter()
        .find(|m| m.class == class && m.msg_type == msg_type)
}

/// True when RFC 4666 §3.1.2 defines the class for M3UA.
pub fn class_known(class: u8) -> bool {
    MESSAGE_CLASSES.iter().any(|&(c, _)| c == class)
}

/// Parameter tags (RFC 4666 §3.2: common 0x0000–0x003F, M3UA-specific 0x0200–0x02FF).
pub const PARAMETERS: &[(u16, &str)] = &[
    (0x0004, "Info String"),
    (0x0006, "Routing Context"),
    (0x0007, "Diagnostic Information"),
    (0x0009, "Heartbeat Data"),
    (0x000b, "Traffic Mode Type"),
    (0x000c, "Error Code"),
    (0x000d, "Status"),
    (0x0011, "ASP Identifier"),
    (0x0012, "Affected Point Code"),
    (0x0013, "Correlation ID"),
    (0x0200, "Network Appearance"),
    (0x0204, "User/Cause"),
    (0x0205, "Congestion Indications"),
    (0x0206, "Concerned Destination"),
    (0x0207, "Routing Key"),
    (0x0208, "Registration Result"),
    (0x0209, "Deregistration Result"),
    (0x020a, "Local Routing Key Identifier"),
    (0x020b, "Destination Point Code"),
    (0x020c, "Service Indicators"),
    (0x020e, "Originating Point Code List"),
    (0x0210, "Protocol Data"),
    (0x0212, "Registration Status"),
    (0x0213, "Deregistration Status"),
];

/// Error codes (RFC 4666 §3.8.1).
pub const ERROR_CODES: &[(ErrorCode, &str)] = &[
    (ErrorCode::INVALID_VERSION, "Invalid Version"),
    (
        ErrorCode::UNSUPPORTED_MESSAGE_CLASS,
        "Unsupported Message Class",
    ),
    (
        ErrorCode::UNSUPPORTED_MESSAGE_TYPE,
        "Unsupported Message Type",
    ),
    (
        ErrorCode::UNSUPPORTED_TRAFFIC_MODE_TYPE,
        "Unsupported Traffic Mode Type",
    ),
    (ErrorCode::UNEXPECTED_MESSAGE, "Unexpected Message"),
    (ErrorCode::PROTOCOL_ERROR, "Protocol Error"),
    (
        ErrorCode::INVALID_STREAM_IDENTIFIER,
        "Invalid Stream Identifier",
    ),
    (
        ErrorCode::REFUSED_MANAGEMENT_BLOCKING,
        "Refused - Management Blocking",
    ),
    (
        ErrorCode::ASP_IDENTIFIER_REQUIRED,
        "ASP Identifier Required",
    ),
    (ErrorCode::INVALID_ASP_IDENTIFIER, "Invalid ASP Identifier"),
    (
        ErrorCode::INVALID_PARAMETER_VALUE,
        "Invalid Parameter Value",
    ),
    (ErrorCode::PARAMETER_FIELD_ERROR, "Parameter Field Error"),
    (ErrorCode::UNEXPECTED_PARAMETER, "Unexpected Parameter"),
    (
        ErrorCode::DESTINATION_STATUS_UNKNOWN,
        "Destination Status Unknown",
    ),
    (
        ErrorCode::INVALID_NETWORK_APPEARANCE,
        "Invalid Network Appearance",
    ),
    (ErrorCode::MISSING_PARAMETER, "Missing Parameter"),
    (
        ErrorCode::INVALID_ROUTING_CONTEXT,
        "Invalid Routing Context",
    ),
    (
        ErrorCode::NO_CONFIGURED_AS_FOR_ASP,
        "No Configured AS for ASP",
    ),
];

/// Status types and information of NTFY (RFC 4666 §3.8.2).
pub const STATUS_CODES: &[(u16, u16, &str)] = &[
    (1, 2, "AS-INACTIVE"),
    (1, 3, "AS-ACTIVE"),
    (1, 4, "AS-PENDING"),
    (2, 1, "Insufficient ASP Resources Active in AS"),
    (2, 2, "Alternate ASP Active"),
    (2, 3, "ASP Failure"),
];

/// Traffic mode types (RFC 4666 §3.7.1).
pub const TRAFFIC_MODE_TYPES: &[(u32, &str)] =
    &[(1, "Override"), (2, "Loadshare"), (3, "Broadcast")];

/// User/Cause causes (RFC 4666 §3.4.5).
pub const UNAVAILABILITY_CAUSES: &[(u16, &str)] = &[
    (0, "Unknown"),
    (1, "Unequipped Remote User"),
    (2, "Inaccessible Remote User"),
];

/// Name of a parameter tag, if known.
pub fn parameter_name(tag: u16) -> Option<&'static str> {
    PARAMETERS.iter().find(|&&(t, _)| t == tag).map(|&(_, n)| n)
}

/// Name of an error code, if known.
pub fn error_code_name(code: ErrorCode) -> Option<&'static str> {
    ERROR_CODES
        .iter()
        .find(|&&(c, _)| c == code)
        .map(|&(_, n)| n)
}

/// Name of a NTFY status, if known.
pub fn status_name(status_type: u16, info: u16) -> Option<&'static str> {
    STATUS_CODES
        .iter()
        .find(|&&(t, i, _)| t == status_type && i == info)
        .map(|&(_, _, n)| n)
}
