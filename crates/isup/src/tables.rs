//! Q.763 tables as data: message types with their formats (Table 4 and Tables 21–50ff), parameter
//! codes with their names (Table 5), and the variant index that resolves a code to its row.
//!
//! A national or ANSI variant is a list of tables searched last-to-first: it names only the rows
//! that differ from the ITU base ([`Variant::ITU`]).

use crate::codes::{MessageType, ParameterCode as P};

/// A mandatory fixed parameter: its code and its length in octets (Q.763 §1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fixed {
    pub code: P,
    pub len: usize,
}

/// The format of one message type: the parameters of its mandatory part in Q.763 order and whether an
/// optional part (with its pointer) follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageFormat {
    pub message_type: MessageType,
    /// Q.763 abbreviation, e.g. `IAM`.
    pub abbreviation: &'static str,
    /// Q.763 name, e.g. `Initial address`.
    pub name: &'static str,
    pub fixed: &'static [Fixed],
    pub variable: &'static [P],
    pub optional_part: bool,
    /// False for messages whose format Q.763 leaves to national specification (CRG) or which embed
    /// another message (PAM): their body is kept as raw octets.
    pub parsed: bool,
}

const fn f(code: P, len: usize) -> Fixed {
    Fixed { code, len }
}

macro_rules! formats {
    ($( $code:ident $abbr:literal $name:literal [$($fc:ident $fl:literal),*] [$($vc:ident),*] $opt:literal $parsed:literal; )*) => {
        /// The ITU-T Q.763 (12/1999) message formats, one row per message type.
        pub static ITU_FORMATS: &[MessageFormat] = &[
            $( MessageFormat {
                message_type: MessageType::$code,
                abbreviation: $abbr,
                name: $name,
                fixed: &[$( f(P::$fc, $fl) ),*],
                variable: &[$( P::$vc ),*],
                optional_part: $opt,
                parsed: $parsed,
            }, )*
        ];
    };
}

// message type, abbreviation, name, [mandatory fixed: code length], [mandatory variable], optional part, parsed
formats! {
    IAM "IAM" "Initial address" [NATURE_OF_CONNECTION_INDICATORS 1, FORWARD_CALL_INDICATORS 2, CALLING_PARTYS_CATEGORY 1, TRANSMISSION_MEDIUM_REQUIREMENT 1] [CALLED_PARTY_NUMBER] true true;
    SAM "SAM" "Subsequent address" [] [SUBSEQUENT_NUMBER] true true;
    INR "INR" "Information request" [INFORMATION_REQUEST_INDICATORS 2] [] true true;
    INF "INF" "Information" [INFORMATION_INDICATORS 2] [] true true;
    COT "COT" "Continuity" [CONTINUITY_INDICATORS 1] [] false true;
    ACM "ACM" "Address complete" [BACKWARD_CALL_INDICATORS 2] [] true true;
    CON "CON" "Connect" [BACKWARD_CALL_INDICATORS 2] [] true true;
    FOT "FOT" "Forward transfer" [] [] true true;
    ANM "ANM" "Answer" [] [] true true;
    REL "REL" "Release" [] [CAUSE_INDICATORS] true true;
    SUS "SUS" "Suspend" [SUSPEND_RESUME_INDICATORS 1] [] true true;
    RES "RES" "Resume" [SUSPEND_RESUME_INDICATORS 1] [] true true;
    RLC "RLC" "Release complete" [] [] true true;
    CCR "CCR" "Continuity check request" [] [] false true;
    RSC "RSC" "Reset circuit" [] [] false true;
    BLO "BLO" "Blocking" [] [] false true;
    UBL "UBL" "Unblocking" [] [] false true;
    BLA "BLA" "Blocking acknowledgement" [] [] false true;
    UBA "UBA" "Unblocking acknowledgement" [] [] false true;
    GRS "GRS" "Circuit group reset" [] [RANGE_AND_STATUS] false true;
    CGB "CGB" "Circuit group blocking" [CIRCUIT_GROUP_SUPERVISION_MESSAGE_TYPE 1] [RANGE_AND_STATUS] false true;
    CGU "CGU" "Circuit group unblocking" [CIRCUIT_GROUP_SUPERVISION_MESSAGE_TYPE 1] [RANGE_AND_STATUS] false true;
    CGBA "CGBA" "Circuit group blocking acknowledgement" [CIRCUIT_GROUP_SUPERVISION_MESSAGE_TYPE 1] [RANGE_AND_STATUS] false true;
    CGUA "CGUA" "Circuit group unblocking acknowledgement" [CIRCUIT_GROUP_SUPERVISION_MESSAGE_TYPE 1] [RANGE_AND_STATUS] false true;
    FAR "FAR" "Facility request" [FACILITY_INDICATOR 1] [] true true;
    FAA "FAA" "Facility accepted" [FACILITY_INDICATOR 1] [] true true;
    FRJ "FRJ" "Facility reject" [FACILITY_INDICATOR 1] [CAUSE_INDICATORS] true true;
    LPA "LPA" "Loop back acknowledgement" [] [] false true;
    PAM "PAM" "Pass-along" [] [] false false;
    GRA "GRA" "Circuit group reset acknowledgement" [] [RANGE_AND_STATUS] false true;
    CQM "CQM" "Circuit group query" [] [RANGE_AND_STATUS] false true;
    CQR "CQR" "Circuit group query response" [] [RANGE_AND_STATUS, CIRCUIT_STATE_INDICATOR] false true;
    CPG "CPG" "Call progress" [EVENT_INFORMATION 1] [] true true;
    USR "USR" "User-to-user information" [] [USER_TO_USER_INFORMATION] true true;
    UCIC "UCIC" "Unequipped CIC" [] [] false true;
    CFN "CFN" "Confusion" [] [CAUSE_INDICATORS] true true;
    OLM "OLM" "Overload" [] [] false true;
    CRG "CRG" "Charge information" [] [] false false;
    NRM "NRM" "Network resource management" [] [] true true;
    FAC "FAC" "Facility" [] [] true true;
    UPT "UPT" "User part test" [] [] true true;
    UPA "UPA" "User part available" [] [] true true;
    IDR "IDR" "Identification request" [] [] true true;
    IRS "IRS" "Identification response" [] [] true true;
    SGM "SGM" "Segmentation" [] [] true true;
    LOP "LOP" "Loop prevention" [] [] true true;
    APM "APM" "Application transport" [] [] true true;
    PRI "PRI" "Pre-release information" [] [] true true;
    SDN "SDN" "Subsequent directory number" [] [] true true;
}

macro_rules! parameter_names {
    ($( $code:ident $value:literal $name:literal; )*) => {
        impl P {
            $( pub const $code: P = P($value); )*
        }
        /// Q.763 Table 5: every parameter code with its snake_case name.
        pub static PARAMETER_NAMES: &[(P, &str)] = &[ $( (P($value), $name), )* ];
    };
}

parameter_names! {
    END_OF_OPTIONAL_PARAMETERS 0x00 "end_of_optional_parameters";
    CALL_REFERENCE 0x01 "call_reference";
    TRANSMISSION_MEDIUM_REQUIREMENT 0x02 "transmission_medium_requirement";
    ACCESS_TRANSPORT 0x03 "access_transport";
    CALLED_PARTY_NUMBER 0x04 "called_party_number";
    SUBSEQUENT_NUMBER 0x05 "subsequent_number";
    NATURE_OF_CONNECTION_INDICATORS 0x06 "nature_of_connection_indicators";
    FORWARD_CALL_INDICATORS 0x07 "forward_call_indicators";
    OPTIONAL_FORWARD_CALL_INDICATORS 0x08 "optional_forward_call_indicators";
    CALLING_PARTYS_CATEGORY 0x09 "calling_partys_category";
    CALLING_PARTY_NUMBER 0x0A "calling_party_number";
    REDIRECTING_NUMBER 0x0B "redirecting_number";
    REDIRECTION_NUMBER 0x0C "redirection_number";
    CONNECTION_REQUEST 0x0D "connection_request";
    INFORMATION_REQUEST_INDICATORS 0x0E "information_request_indicators";
    INFORMATION_INDICATORS 0x0F "information_indicators";
    CONTINUITY_INDICATORS 0x10 "continuity_indicators";
    BACKWARD_CALL_INDICATORS 0x11 "backward_call_indicators";
    CAUSE_INDICATORS 0x12 "cause_indicators";
    REDIRECTION_INFORMATION 0x13 "redirection_information";
    CIRCUIT_GROUP_SUPERVISION_MESSAGE_TYPE 0x15 "circuit_group_supervision_message_type";
    RANGE_AND_STATUS 0x16 "range_and_status";
    FACILITY_INDICATOR 0x18 "facility_indicator";
    CLOSED_USER_GROUP_INTERLOCK_CODE 0x1A "closed_user_group_interlock_code";
    USER_SERVICE_INFORMATION 0x1D "user_service_information";
    SIGNALLING_POINT_CODE 0x1E "signalling_point_code";
    USER_TO_USER_INFORMATION 0x20 "user_to_user_information";
    CONNECTED_NUMBER 0x21 "connected_number";
    SUSPEND_RESUME_INDICATORS 0x22 "suspend_resume_indicators";
    TRANSIT_NETWORK_SELECTION 0x23 "transit_network_selection";
    EVENT_INFORMATION 0x24 "event_information";
    CIRCUIT_ASSIGNMENT_MAP 0x25 "circuit_assignment_map";
    CIRCUIT_STATE_INDICATOR 0x26 "circuit_state_indicator";
    AUTOMATIC_CONGESTION_LEVEL 0x27 "automatic_congestion_level";
    ORIGINAL_CALLED_NUMBER 0x28 "original_called_number";
    OPTIONAL_BACKWARD_CALL_INDICATORS 0x29 "optional_backward_call_indicators";
    USER_TO_USER_INDICATORS 0x2A "user_to_user_indicators";
    ORIGINATION_ISC_POINT_CODE 0x2B "origination_isc_point_code";
    GENERIC_NOTIFICATION_INDICATOR 0x2C "generic_notification_indicator";
    CALL_HISTORY_INFORMATION 0x2D "call_history_information";
    ACCESS_DELIVERY_INFORMATION 0x2E "access_delivery_information";
    NETWORK_SPECIFIC_FACILITY 0x2F "network_specific_facility";
    USER_SERVICE_INFORMATION_PRIME 0x30 "user_service_information_prime";
    PROPAGATION_DELAY_COUNTER 0x31 "propagation_delay_counter";
    REMOTE_OPERATIONS 0x32 "remote_operations";
    SERVICE_ACTIVATION 0x33 "service_activation";
    USER_TELESERVICE_INFORMATION 0x34 "user_teleservice_information";
    TRANSMISSION_MEDIUM_USED 0x35 "transmission_medium_used";
    CALL_DIVERSION_INFORMATION 0x36 "call_diversion_information";
    ECHO_CONTROL_INFORMATION 0x37 "echo_control_information";
    MESSAGE_COMPATIBILITY_INFORMATION 0x38 "message_compatibility_information";
    PARAMETER_COMPATIBILITY_INFORMATION 0x39 "parameter_compatibility_information";
    MLPP_PRECEDENCE 0x3A "mlpp_precedence";
    MCID_REQUEST_INDICATORS 0x3B "mcid_request_indicators";
    MCID_RESPONSE_INDICATORS 0x3C "mcid_response_indicators";
    HOP_COUNTER 0x3D "hop_counter";
    TRANSMISSION_MEDIUM_REQUIREMENT_PRIME 0x3E "transmission_medium_requirement_prime";
    LOCATION_NUMBER 0x3F "location_number";
    REDIRECTION_NUMBER_RESTRICTION 0x40 "redirection_number_restriction";
    CALL_TRANSFER_REFERENCE 0x43 "call_transfer_reference";
    LOOP_PREVENTION_INDICATORS 0x44 "loop_prevention_indicators";
    CALL_TRANSFER_NUMBER 0x45 "call_transfer_number";
    CCSS 0x4B "ccss";
    FORWARD_GVNS 0x4C "forward_gvns";
    BACKWARD_GVNS 0x4D "backward_gvns";
    REDIRECT_CAPABILITY 0x4E "redirect_capability";
    NETWORK_MANAGEMENT_CONTROLS 0x5B "network_management_controls";
    CORRELATION_ID 0x65 "correlation_id";
    SCF_ID 0x66 "scf_id";
    CALL_DIVERSION_TREATMENT_INDICATORS 0x6E "call_diversion_treatment_indicators";
    CALLED_IN_NUMBER 0x6F "called_in_number";
    CALL_OFFERING_TREATMENT_INDICATORS 0x70 "call_offering_treatment_indicators";
    CHARGED_PARTY_IDENTIFICATION 0x71 "charged_party_identification";
    CONFERENCE_TREATMENT_INDICATORS 0x72 "conference_treatment_indicators";
    DISPLAY_INFORMATION 0x73 "display_information";
    UID_ACTION_INDICATORS 0x74 "uid_action_indicators";
    UID_CAPABILITY_INDICATORS 0x75 "uid_capability_indicators";
    REDIRECT_COUNTER 0x77 "redirect_counter";
    APPLICATION_TRANSPORT 0x78 "application_transport";
    COLLECT_CALL_REQUEST 0x79 "collect_call_request";
    CCNR_POSSIBLE_INDICATOR 0x7A "ccnr_possible_indicator";
    PIVOT_CAPABILITY 0x7B "pivot_capability";
    PIVOT_ROUTING_INDICATORS 0x7C "pivot_routing_indicators";
    CALLED_DIRECTORY_NUMBER 0x7D "called_directory_number";
    ORIGINAL_CALLED_IN_NUMBER 0x7F "original_called_in_number";
    CALLING_GEODETIC_LOCATION 0x81 "calling_geodetic_location";
    HTR_INFORMATION 0x82 "htr_information";
    NETWORK_ROUTING_NUMBER 0x84 "network_routing_number";
    QUERY_ON_RELEASE_CAPABILITY 0x85 "query_on_release_capability";
    PIVOT_STATUS 0x86 "pivot_status";
    PIVOT_COUNTER 0x87 "pivot_counter";
    PIVOT_ROUTING_FORWARD_INFORMATION 0x88 "pivot_routing_forward_information";
    PIVOT_ROUTING_BACKWARD_INFORMATION 0x89 "pivot_routing_backward_information";
    REDIRECT_STATUS 0x8A "redirect_status";
    REDIRECT_FORWARD_INFORMATION 0x8B "redirect_forward_information";
    REDIRECT_BACKWARD_INFORMATION 0x8C "redirect_backward_information";
    NUMBER_PORTABILITY_FORWARD_INFORMATION 0x8D "number_portability_forward_information";
    GENERIC_NUMBER 0xC0 "generic_number";
    GENERIC_DIGITS 0xC1 "generic_digits";
}

/// The name of a parameter code; `None` for spare/reserved codes.
pub fn parameter_name(code: P) -> Option<&'static str> {
    PARAMETER_NAME_INDEX[code.0 as usize]
}

/// The parameter code for a snake_case name.
pub fn parameter_by_name(name: &str) -> Option<P> {
    PARAMETER_NAMES
        .iter()
        .find(|(_, n)| *n == name)
        .map(|(c, _)| *c)
}

static PARAMETER_NAME_INDEX: [Option<&str>; 256] = {
    let mut index = [None; 256];
    let mut i = 0;
    while i < PARAMETER_NAMES.len() {
        index[PARAMETER_NAMES[i].0.0 as usize] = Some(PARAMETER_NAMES[i].1);
        i += 1;
    }
    index
};

/// A protocol variant: the message formats in force, resolved through a 256-entry index so that a
/// lookup costs one array access.
pub struct Variant {
    /// Short name, e.g. `itu`.
    pub name: &'static str,
    /// The RFC 3204 `version`/`base` token for this variant, e.g. `itu-t92+`.
    pub rfc3204_version: &'static str,
    /// Width of the CIC field in bits (ITU 12, ANSI 14).
    pub cic_bits: u32,
    index: [Option<&'static MessageFormat>; 256],
}

impl Variant {
    /// ITU-T Q.763 (the `itu-t92+` base of RFC 3204).
    pub const ITU: Variant = Variant::build("itu", "itu-t92+", 12, &[ITU_FORMATS]);

    /// Build a variant from tables searched last-to-first: later tables override earlier rows.
    pub const fn build(
        name: &'static str,
        rfc3204_version: &'static str,
        cic_bits: u32,
        tables: &[&'static [MessageFormat]],
    ) -> Variant {
        let mut index: [Option<&'static MessageFormat>; 256] = [None; 256];
        let mut t = 0;
        while t < tables.len() {
            let table = tables[t];
            let mut i = 0;
            while i < table.len() {
                index[table[i].message_type.0 as usize] = Some(&table[i]);
                i += 1;
            }
            t += 1;
        }
        Variant {
            name,
            rfc3204_version,
            cic_bits,
            index,
        }
    }

    /// The format of a message type, `None` if the variant does not define it.
    #[inline]
    pub fn format(&self, message_type: MessageType) -> Option<&'static MessageFormat> {
        self.index[message_type.0 as usize]
    }

    /// The message type for a Q.763 abbreviation (case-insensitive), e.g. `IAM`.
    pub fn message_type_by_abbreviation(&self, abbreviation: &str) -> Option<MessageType> {
        self.index
            .iter()
            .flatten()
            .find(|f| f.abbreviation.eq_ignore_ascii_case(abbreviation))
            .map(|f| f.message_type)
    }

    /// Every format the variant defines, in code order.
    pub fn formats(&self) -> impl Iterator<Item = &'static MessageFormat> + '_ {
        self.index.iter().flatten().copied()
    }

    /// The largest CIC the variant can carry.
    pub fn max_cic(&self) -> u16 {
        ((1u32 << self.cic_bits) - 1) as u16
    }
}

impl std::fmt::Debug for Variant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Variant").field("name", &self.name).finish()
    }
}
