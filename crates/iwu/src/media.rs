//! Media endpoints of the PSTN legs (item 4). The IWU asks a [`MediaGateway`] for the RTP endpoint
//! of a circuit; [`StaticMediaGateway`] derives it from configuration (one RTP port per CIC). An
//! MGCP/H.248 controller of a real media gateway can implement the same trait later.

use crate::config::TrunkGroupConfig;
use crate::sdp::Codec;

/// The RTP side of one circuit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaEndpoint {
    pub address: String,
    pub port: u16,
    /// Supported formats in preference order (audio codecs, then telephone-event).
    pub codecs: Vec<Codec>,
    pub ptime: u16,
}

/// Allocation of media endpoints per circuit.
pub trait MediaGateway {
    /// The endpoint for `cic` of trunk group `tg`; `None` if none can be allocated.
    fn allocate(&mut self, tg: &TrunkGroupConfig, cic: u16) -> Option<MediaEndpoint>;
    /// The call no longer uses the endpoint of `cic`.
    fn release(&mut self, tg: &TrunkGroupConfig, cic: u16);
}

/// Static mapping: CIC number i of the trunk group (counting through its ranges from 0) gets RTP
/// port `rtp_port_min + 2*i` (even ports, RTCP on the odd one above, RFC 3550 §11).
#[derive(Debug, Clone, Default)]
pub struct StaticMediaGateway;

impl StaticMediaGateway {
    pub fn port_for(tg: &TrunkGroupConfig, cic: u16) -> Option<u16> {
        let mut index: u32 = 0;
        for &[a, b] in &tg.cics {
            if (a..=b).contains(&cic) {
                index += u32::from(cic - a);
                let port = u32::from(tg.media.rtp_port_min) + 2 * index;
                return (port < u32::from(tg.media.rtp_port_max))
                    .then(|| u16::try_from(port).ok())
                    .flatten();
            }
            index += u32::from(b - a) + 1;
        }
        None
    }

    pub fn codecs(tg: &TrunkGroupConfig) -> Vec<Codec> {
        let mut v: Vec<Codec> = tg
            .media
            .codecs
            .iter()
            .filter_map(|c| Codec::by_name(c))
            .collect();
        if let Some(pt) = tg.media.telephone_event {
            v.push(Codec::telephone_event(pt));
        }
        v
    }
}

impl MediaGateway for StaticMediaGateway {
    fn allocate(&mut self, tg: &TrunkGroupConfig, cic: u16) -> Option<MediaEndpoint> {
        Some(MediaEndpoint {
            address: tg.media.address.clone(),
            port: Self::port_for(tg, cic)?,
            codecs: Self::codecs(tg),
            ptime: tg.media.ptime,
        })
    }
    fn release(&mut self, _tg: &TrunkGroupConfig, _cic: u16) {}
}
