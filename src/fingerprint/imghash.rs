//! The img_hash family (through `image_hasher`): 64-bit hashes kept beside PDQ as a
//! cheap secondary signal.

use image::DynamicImage;
use image_hasher::{FilterType, HashAlg, HasherConfig};
use serde::{Deserialize, Serialize};

/// Which 64-bit hash of the img_hash family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImgHashAlgo {
    /// DCT pHash: mean of the 8×8 lowest DCT coefficients of a 16×16 reduction.
    Phash,
    /// Gradient (dHash): sign of horizontal steps on a 9×8 reduction.
    Dhash,
    /// Mean (aHash): each pixel of an 8×8 reduction against the mean.
    Mean,
    /// Blockhash: block means against the median, no resampling of the image.
    Block,
}

impl ImgHashAlgo {
    pub fn name(self) -> &'static str {
        match self {
            ImgHashAlgo::Phash => "phash",
            ImgHashAlgo::Dhash => "dhash",
            ImgHashAlgo::Mean => "mean",
            ImgHashAlgo::Block => "block",
        }
    }
}

impl std::str::FromStr for ImgHashAlgo {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "phash" => Ok(ImgHashAlgo::Phash),
            "dhash" => Ok(ImgHashAlgo::Dhash),
            "mean" => Ok(ImgHashAlgo::Mean),
            "block" => Ok(ImgHashAlgo::Block),
            other => Err(format!(
                "unknown img_hash algorithm {other:?} (phash, dhash, mean, block)"
            )),
        }
    }
}

/// Hashes `img` to 64 bits as a new bank does: flattened first when it has
/// transparency ([`super::alpha`]).
pub fn imghash64(img: &DynamicImage, algo: ImgHashAlgo) -> u64 {
    imghash64_as_stored(&super::alpha::flatten(img), algo)
}

/// Hashes `img`'s pixels as stored to 64 bits. The resize filter is Triangle rather
/// than the crate's Lanczos default: it is several times faster on 1080p frames, and it
/// is part of the bank's recorded parameters, so a bank never mixes the two.
pub(crate) fn imghash64_as_stored(img: &DynamicImage, algo: ImgHashAlgo) -> u64 {
    let config = HasherConfig::new()
        .hash_size(8, 8)
        .resize_filter(FilterType::Triangle);
    let config = match algo {
        ImgHashAlgo::Phash => config.hash_alg(HashAlg::Mean).preproc_dct(),
        ImgHashAlgo::Dhash => config.hash_alg(HashAlg::Gradient),
        ImgHashAlgo::Mean => config.hash_alg(HashAlg::Mean),
        ImgHashAlgo::Block => config.hash_alg(HashAlg::Blockhash),
    };
    let hash = config.to_hasher().hash_image(img);
    let bytes = hash.as_bytes();
    let mut word = [0u8; 8];
    let n = bytes.len().min(8);
    word[..n].copy_from_slice(&bytes[..n]);
    u64::from_le_bytes(word)
}
