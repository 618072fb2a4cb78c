//! Virtual List View (draft-ietf-ldapext-ldapv3-vlv-09): a page of a sorted
//! search fetched by its offset, with the server's count of every match, so
//! a list request reads only its window. Pure: the BER of the request and
//! response controls, and the arithmetic between SCIM's `startIndex`/`count`
//! and the positions the server answers with.

use std::ops::Range;

use ldap3::asn1::{ASNTag, Integer, Sequence, StructureTag, Tag, TagClass, parse_tag};
use ldap3::controls::RawControl;

/// The request control's OID.
pub const REQUEST_OID: &str = "2.16.840.1.113730.3.4.9";
/// The response control's OID.
pub const RESPONSE_OID: &str = "2.16.840.1.113730.3.4.10";

/// The largest INTEGER the draft allows (`maxInt`, RFC 4511 §4.1.1).
const MAX_INT: usize = 2_147_483_647;

/// A VLV request by offset: the entry at `offset` (1-based) and `after`
/// entries following it; no entries before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    pub offset: usize,
    pub after: usize,
}

impl Request {
    /// The request for the window `[skip, skip + take)` (0-based). `take = 0`
    /// (SCIM `count=0`) still names one target entry, as the control must;
    /// its attributes are not asked for and it is not kept.
    pub fn for_window(skip: usize, take: usize) -> Request {
        Request {
            offset: skip.saturating_add(1).min(MAX_INT),
            after: take.saturating_sub(1).min(MAX_INT),
        }
    }

    /// The control, marked critical: a server that cannot honour it must
    /// refuse the search rather than stream every match.
    pub fn control(&self) -> RawControl {
        let int = |v: usize| {
            Tag::Integer(Integer {
                inner: i64::try_from(v).unwrap_or(i64::MAX),
                ..Default::default()
            })
        };
        // contentCount 0: "the client has no idea of the content count", so
        // the server takes `offset` as the position itself (draft §6.1).
        let by_offset = Tag::Sequence(Sequence {
            id: 0,
            class: TagClass::Context,
            inner: vec![int(self.offset), int(0)],
        });
        let req = Tag::Sequence(Sequence {
            inner: vec![int(0), int(self.after), by_offset],
            ..Default::default()
        });
        let mut buf = bytes::BytesMut::with_capacity(32);
        let _ = ldap3::asn1::write::encode_into(&mut buf, req.into_structure());
        RawControl {
            ctype: REQUEST_OID.to_owned(),
            crit: true,
            val: Some(buf.to_vec()),
        }
    }
}

/// The server's answer in the response control.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Position (1-based) of the first entry returned; 0 in an empty list.
    pub target_position: usize,
    /// The server's count of every match.
    pub content_count: usize,
    /// `virtualListViewResult`: 0 is success.
    pub result: u32,
    /// Whether the server sent a context ID: it keeps the sorted list for
    /// the connection (OpenLDAP's sssvlv, which then refuses other sorted
    /// searches on that connection with busy).
    pub context: bool,
}

/// `offsetRangeError`: the offset is past the end of the list (61 in the
/// draft; OpenLDAP's sssvlv answers 77, an earlier draft's number).
pub fn is_offset_range_error(code: u32) -> bool {
    code == 61 || code == 77
}

impl Response {
    /// Parses the response control's value.
    pub fn parse(ber: &[u8]) -> Result<Response, String> {
        let bad = |what: &str| format!("malformed VLV response control: {what}");
        let (_, tag) = parse_tag(ber).map_err(|_| bad("not BER"))?;
        let mut parts = tag
            .expect_constructed()
            .ok_or_else(|| bad("not a sequence"))?
            .into_iter();
        let mut int = |what: &str| -> Result<usize, String> {
            let t = parts.next().ok_or_else(|| bad(what))?;
            unsigned(t).ok_or_else(|| bad(what))
        };
        let target_position = int("targetPosition")?;
        let content_count = int("contentCount")?;
        let result = int("virtualListViewResult")?;
        let context = parts.next().is_some();
        Ok(Response {
            target_position,
            content_count,
            result: u32::try_from(result).map_err(|_| bad("virtualListViewResult"))?,
            context,
        })
    }

    /// Which of the `returned` entries (in order, the first at
    /// `target_position`) fall inside the window `[skip, skip + take)`. A
    /// server answers an offset past the end with the last entry: that one
    /// is outside the window and left out.
    pub fn keep(&self, skip: usize, take: usize, returned: usize) -> Range<usize> {
        if self.target_position == 0 || take == 0 {
            return 0..0;
        }
        let first = self.target_position - 1; // 0-based position of entry 0
        let start = skip.saturating_sub(first).min(returned);
        let end = skip
            .saturating_add(take)
            .saturating_sub(first)
            .min(returned)
            .max(start);
        if start == end { 0..0 } else { start..end }
    }
}

/// A non-negative INTEGER or ENUMERATED (big-endian two's complement).
fn unsigned(t: StructureTag) -> Option<usize> {
    if t.class != TagClass::Universal || !(t.id == 2 || t.id == 10) {
        return None;
    }
    let bytes = t.expect_primitive()?;
    if bytes.is_empty() || bytes.len() > 8 || bytes[0] & 0x80 != 0 {
        return None;
    }
    let v = bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    usize::try_from(v).ok()
}

/// A name for a `virtualListViewResult`, for logs.
pub fn result_name(code: u32) -> &'static str {
    match code {
        0 => "success",
        1 => "operationsError",
        3 => "timeLimitExceeded",
        11 => "adminLimitExceeded",
        50 => "insufficientAccessRights",
        51 => "busy",
        53 => "unwillingToPerform",
        60 => "sortControlMissing",
        61 | 77 => "offsetRangeError",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use ldap3::asn1::OctetString;

    fn encode(t: Tag) -> Vec<u8> {
        let mut buf = bytes::BytesMut::new();
        ldap3::asn1::write::encode_into(&mut buf, t.into_structure()).unwrap();
        buf.to_vec()
    }

    #[test]
    fn requests_encode_by_offset() {
        // What `ldapsearch -E '!vlv=0/1/2/0'` sends: before 0, after 1,
        // byOffset { offset 2, contentCount 0 }.
        let c = Request::for_window(1, 2).control();
        assert_eq!(c.ctype, REQUEST_OID);
        assert!(c.crit);
        assert_eq!(
            c.val.unwrap(),
            [
                0x30, 0x0e, 0x02, 0x01, 0x00, 0x02, 0x01, 0x01, 0xa0, 0x06, 0x02, 0x01, 0x02, 0x02,
                0x01, 0x00
            ]
        );
        // Large offsets take more octets and stay positive.
        let c = Request::for_window(99_900, 100).control().val.unwrap();
        assert_eq!(
            c,
            [
                0x30, 0x10, 0x02, 0x01, 0x00, 0x02, 0x01, 0x63, 0xa0, 0x08, 0x02, 0x03, 0x01, 0x86,
                0x3d, 0x02, 0x01, 0x00
            ]
        );
    }

    #[test]
    fn windows_map_to_offsets() {
        let cases = [
            // (skip, take) -> (offset, after)
            ((0, 100), (1, 99)),
            ((49_999, 100), (50_000, 99)),
            ((0, 1), (1, 0)),
            ((5, 0), (6, 0)),
            ((usize::MAX, usize::MAX), (MAX_INT, MAX_INT)),
        ];
        for ((skip, take), (offset, after)) in cases {
            assert_eq!(
                Request::for_window(skip, take),
                Request { offset, after },
                "{skip}+{take}"
            );
        }
    }

    #[test]
    fn responses_parse() {
        // 389-ds's answer to the request above over five entries
        // (`vlvResult: pos=2 count=5 (0) Success`).
        let ber = [
            0x30, 0x84, 0, 0, 0, 0x09, 0x02, 0x01, 0x02, 0x02, 0x01, 0x05, 0x0a, 0x01, 0x00,
        ];
        assert_eq!(
            Response::parse(&ber),
            Ok(Response {
                target_position: 2,
                content_count: 5,
                result: 0,
                context: false,
            })
        );
        let with_context = encode(Tag::Sequence(Sequence {
            inner: vec![
                Tag::Integer(Integer {
                    inner: 100_000,
                    ..Default::default()
                }),
                Tag::Integer(Integer {
                    inner: 100_000,
                    ..Default::default()
                }),
                Tag::Enumerated(ldap3::asn1::Enumerated {
                    inner: 53,
                    ..Default::default()
                }),
                Tag::OctetString(OctetString {
                    inner: b"ctx".to_vec(),
                    ..Default::default()
                }),
            ],
            ..Default::default()
        }));
        let r = Response::parse(&with_context).unwrap();
        assert_eq!(
            (r.target_position, r.content_count, r.result, r.context),
            (100_000, 100_000, 53, true)
        );
        assert_eq!(result_name(r.result), "unwillingToPerform");
        // sssvlv's answer to an offset past the end of 23 entries.
        let r = Response::parse(&[
            0x30, 0x13, 0x02, 0x01, 0x00, 0x02, 0x01, 0x17, 0x0a, 0x01, 0x4d, 0x04, 0x08, 0x10,
            0x9c, 0x10, 0xb0, 0x27, 0x7f, 0x00, 0x00,
        ])
        .unwrap();
        assert_eq!(
            (r.target_position, r.content_count, r.context),
            (0, 23, true)
        );
        assert!(is_offset_range_error(r.result));
        for bad in [
            &[][..],
            &[0x04, 0x01, 0x41],             // not a sequence
            &[0x30, 0x03, 0x02, 0x01, 0x01], // one integer only
            &[
                0x30, 0x09, 0x02, 0x01, 0xff, 0x02, 0x01, 0x05, 0x0a, 0x01, 0x00,
            ], // negative
            &[
                0x30, 0x09, 0x04, 0x01, 0x01, 0x02, 0x01, 0x05, 0x0a, 0x01, 0x00,
            ], // a string
        ] {
            assert!(Response::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn kept_entries_are_those_inside_the_window() {
        let r = |target_position, content_count| Response {
            target_position,
            content_count,
            result: 0,
            context: false,
        };
        // (response, skip, take, returned) -> kept range
        let cases = [
            ((r(1, 250), 0, 100, 100), 0..100),
            ((r(101, 250), 100, 100, 100), 0..100),
            // the last page is short
            ((r(201, 250), 200, 100, 50), 0..50),
            // startIndex past the end: the server answers with the last entry
            ((r(250, 250), 300, 100, 1), 0..0),
            ((r(250, 250), 250, 100, 1), 0..0),
            // startIndex on the last entry
            ((r(250, 250), 249, 100, 1), 0..1),
            // count=0: nothing kept
            ((r(1, 250), 0, 0, 1), 0..0),
            // an empty list
            ((r(0, 0), 0, 100, 0), 0..0),
            // a server that returned more than asked for
            ((r(1, 250), 0, 10, 12), 0..10),
            // a server whose target sits before the asked offset
            ((r(5, 250), 6, 3, 5), 2..5),
        ];
        for ((resp, skip, take, returned), want) in cases {
            assert_eq!(
                resp.keep(skip, take, returned),
                want,
                "{resp:?} skip {skip} take {take} returned {returned}"
            );
        }
    }
}
