//! Encoding of X25519 public keys on the wire and in links: unpadded
//! base64url of the 32 raw bytes (43 characters).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// Length of a raw X25519 public key.
pub const KEY_LEN: usize = 32;

/// Encodes a public key for JSON and links.
pub fn encode_key(key: &[u8; KEY_LEN]) -> String {
    URL_SAFE_NO_PAD.encode(key)
}

/// Decodes a public key; `None` unless it is exactly 32 bytes of base64url.
pub fn decode_key(s: &str) -> Option<[u8; KEY_LEN]> {
    let bytes = URL_SAFE_NO_PAD.decode(s.trim()).ok()?;
    bytes.try_into().ok()
}

/// Encodes arbitrary bytes (input data, tokens) as unpadded base64url.
pub fn encode_bytes(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// Decodes unpadded (or padded) base64url bytes.
pub fn decode_bytes(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    URL_SAFE_NO_PAD.decode(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_round_trip_and_rejections() {
        let key = [7u8; 32];
        let s = encode_key(&key);
        assert_eq!(s.len(), 43);
        assert_eq!(decode_key(&s), Some(key));
        assert_eq!(decode_key("short"), None);
        assert_eq!(decode_key(&encode_bytes(&[1u8; 31])), None);
        assert_eq!(decode_key("!!!not base64!!!"), None);
    }
}
