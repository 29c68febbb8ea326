//! A 256-bit perceptual hash and the Hamming distance between two of them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// 256 bits stored as four little-endian words: bit `k` lives in `words[k / 64]`
/// at position `k % 64`.
///
/// The hex form follows Meta's PDQ tools, which print sixteen 16-bit words from the
/// highest to the lowest, so hash lists exchanged with other organisations read the
/// same here as in ThreatExchange.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Hash256 {
    pub words: [u64; 4],
}

impl Hash256 {
    pub const BITS: u32 = 256;

    pub fn from_words(words: [u64; 4]) -> Self {
        Hash256 { words }
    }

    pub fn bit(&self, k: usize) -> bool {
        (self.words[k / 64] >> (k % 64)) & 1 == 1
    }

    pub fn set_bit(&mut self, k: usize) {
        self.words[k / 64] |= 1 << (k % 64);
    }

    #[inline]
    pub fn distance(&self, other: &Hash256) -> u32 {
        (self.words[0] ^ other.words[0]).count_ones()
            + (self.words[1] ^ other.words[1]).count_ones()
            + (self.words[2] ^ other.words[2]).count_ones()
            + (self.words[3] ^ other.words[3]).count_ones()
    }

    pub fn to_bytes(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, w) in self.words.iter().enumerate() {
            out[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
        }
        out
    }

    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        let mut words = [0u64; 4];
        for (i, w) in words.iter_mut().enumerate() {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[i * 8..i * 8 + 8]);
            *w = u64::from_le_bytes(b);
        }
        Hash256 { words }
    }

    pub fn to_hex(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Hash256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Meta's order: 16-bit word 15 first, word 0 last.
        for w in self.words.iter().rev() {
            write!(f, "{w:016x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Hash256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash256({self})")
    }
}

/// The hex text was not 64 hexadecimal digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a 256-bit hex hash (want 64 hex digits): {0:?}")]
pub struct ParseHashError(pub String);

impl FromStr for Hash256 {
    type Err = ParseHashError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.len() != 64 || !s.is_ascii() {
            return Err(ParseHashError(s.to_string()));
        }
        let mut words = [0u64; 4];
        for (i, chunk) in s.as_bytes().chunks(16).enumerate() {
            let text = std::str::from_utf8(chunk).map_err(|_| ParseHashError(s.to_string()))?;
            words[3 - i] =
                u64::from_str_radix(text, 16).map_err(|_| ParseHashError(s.to_string()))?;
        }
        Ok(Hash256 { words })
    }
}

impl Serialize for Hash256 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Hash256 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_bit_order() {
        let mut h = Hash256::default();
        h.set_bit(0);
        h.set_bit(255);
        let hex = h.to_hex();
        assert!(hex.starts_with('8'));
        assert!(hex.ends_with('1'));
        assert_eq!(hex.parse::<Hash256>().unwrap(), h);
        assert_eq!(Hash256::from_bytes(&h.to_bytes()), h);
    }

    #[test]
    fn distance_counts_differing_bits() {
        let a: Hash256 = "f".repeat(64).parse().unwrap();
        let b = Hash256::default();
        assert_eq!(a.distance(&b), 256);
        assert_eq!(a.distance(&a), 0);
    }

    #[test]
    fn rejects_bad_hex() {
        assert!("abc".parse::<Hash256>().is_err());
        assert!("g".repeat(64).parse::<Hash256>().is_err());
    }
}
