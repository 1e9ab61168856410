//! Certificate expiry from the DER bytes reqwest hands back (`ClientBuilder::tls_info`).
//! Only `tbsCertificate.validity.notAfter` is needed, so a small DER walk replaces a full
//! X.509 parser dependency; anything unexpected yields `None` (expiry is then not reported).

use chrono::{DateTime, NaiveDate, Utc};

/// `notAfter` of a DER-encoded X.509 certificate.
pub fn certificate_not_after(der: &[u8]) -> Option<DateTime<Utc>> {
    let (tag, cert, _) = tlv(der)?;
    if tag != 0x30 {
        return None;
    }
    let (tag, tbs, _) = tlv(cert)?;
    if tag != 0x30 {
        return None;
    }
    let mut rest = tbs;
    // version [0] EXPLICIT is optional.
    let (tag, _, after) = tlv(rest)?;
    if tag == 0xa0 {
        rest = after;
    }
    // serialNumber, signature, issuer.
    for expected in [0x02, 0x30, 0x30] {
        let (tag, _, after) = tlv(rest)?;
        if tag != expected {
            return None;
        }
        rest = after;
    }
    let (tag, validity, _) = tlv(rest)?;
    if tag != 0x30 {
        return None;
    }
    let (_, _, after_not_before) = tlv(validity)?;
    let (tag, not_after, _) = tlv(after_not_before)?;
    parse_time(tag, std::str::from_utf8(not_after).ok()?)
}

/// Splits one DER element into (tag, contents, rest).
fn tlv(buf: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = buf.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let (bytes, after) = rest.split_at(n);
        rest = after;
        bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
    };
    if rest.len() < len {
        return None;
    }
    let (contents, rest) = rest.split_at(len);
    Some((tag, contents, rest))
}

/// UTCTime (`YYMMDDHHMMSSZ`, tag 0x17) or GeneralizedTime (`YYYYMMDDHHMMSSZ`, tag 0x18).
fn parse_time(tag: u8, text: &str) -> Option<DateTime<Utc>> {
    let digits = text.strip_suffix('Z')?;
    let (year, rest) = match tag {
        0x17 if digits.len() == 12 => {
            let yy: i32 = digits.get(..2)?.parse().ok()?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &digits[2..])
        }
        0x18 if digits.len() == 14 => (digits.get(..4)?.parse().ok()?, &digits[4..]),
        _ => return None,
    };
    let num = |r: std::ops::Range<usize>| -> Option<u32> { rest.get(r)?.parse().ok() };
    NaiveDate::from_ymd_opt(year, num(0..2)?, num(2..4)?)?
        .and_hms_opt(num(4..6)?, num(6..8)?, num(8..10)?)
        .map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_not_after_of_a_real_certificate() {
        // The leaf certificate of the TLS test fixtures (tests/it/fixtures/README.md).
        let der = include_bytes!("../tests/it/fixtures/localhost.cert.der");
        let not_after = certificate_not_after(der).unwrap();
        assert_eq!(not_after.to_rfc3339(), "2125-06-19T17:58:56+00:00");
    }

    #[test]
    fn times_in_both_encodings() {
        assert_eq!(
            parse_time(0x17, "491231235959Z").unwrap().to_rfc3339(),
            "2049-12-31T23:59:59+00:00"
        );
        assert_eq!(
            parse_time(0x17, "500101000000Z").unwrap().to_rfc3339(),
            "1950-01-01T00:00:00+00:00"
        );
        assert_eq!(
            parse_time(0x18, "21251231000000Z").unwrap().to_rfc3339(),
            "2125-12-31T00:00:00+00:00"
        );
        assert!(parse_time(0x18, "2125").is_none());
        assert!(parse_time(0x17, "991399000000Z").is_none());
    }

    #[test]
    fn garbage_is_none() {
        assert!(certificate_not_after(b"").is_none());
        assert!(certificate_not_after(b"not der at all").is_none());
        assert!(certificate_not_after(&[0x30, 0x82, 0xff]).is_none());
    }
}
