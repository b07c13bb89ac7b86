//! Message type and parameter code newtypes (Q.763 Tables 4 and 5).

use crate::tables::{Variant, parameter_name};

/// An ISUP message type code (Q.763 Table 4). Unknown codes are representable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageType(pub u8);

macro_rules! message_types {
    ($( $abbr:ident = $value:literal; )*) => {
        impl MessageType { $( pub const $abbr: MessageType = MessageType($value); )* }
    };
}

message_types! {
    IAM = 0x01; SAM = 0x02; INR = 0x03; INF = 0x04; COT = 0x05; ACM = 0x06; CON = 0x07; FOT = 0x08;
    ANM = 0x09; REL = 0x0C; SUS = 0x0D; RES = 0x0E; RLC = 0x10; CCR = 0x11; RSC = 0x12; BLO = 0x13;
    UBL = 0x14; BLA = 0x15; UBA = 0x16; GRS = 0x17; CGB = 0x18; CGU = 0x19; CGBA = 0x1A; CGUA = 0x1B;
    FAR = 0x1F; FAA = 0x20; FRJ = 0x21; LPA = 0x24; PAM = 0x28; GRA = 0x29; CQM = 0x2A; CQR = 0x2B;
    CPG = 0x2C; USR = 0x2D; UCIC = 0x2E; CFN = 0x2F; OLM = 0x30; CRG = 0x31; NRM = 0x32; FAC = 0x33;
    UPT = 0x34; UPA = 0x35; IDR = 0x36; IRS = 0x37; SGM = 0x38; LOP = 0x40; APM = 0x41; PRI = 0x42;
    SDN = 0x43;
}

impl MessageType {
    /// The Q.763 abbreviation in the ITU variant, `None` for codes it does not define.
    pub fn abbreviation(self) -> Option<&'static str> {
        Variant::ITU.format(self).map(|f| f.abbreviation)
    }
}

impl std::fmt::Display for MessageType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.abbreviation() {
            Some(a) => f.write_str(a),
            None => write!(f, "message type 0x{:02X}", self.0),
        }
    }
}

/// An ISUP parameter code (Q.763 Table 5). Unknown codes are representable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParameterCode(pub u8);

impl ParameterCode {
    /// The snake_case Q.763 name, or `"unknown"` for spare/reserved codes.
    pub fn name(self) -> &'static str {
        parameter_name(self).unwrap_or("unknown")
    }
}

impl std::fmt::Display for ParameterCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match parameter_name(*self) {
            Some(n) => f.write_str(n),
            None => write!(f, "parameter 0x{:02X}", self.0),
        }
    }
}
