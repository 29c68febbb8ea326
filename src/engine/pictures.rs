//! Fingerprinting an image file that holds several pictures ([`media::frames`]).
//!
//! Every picture is hashed as a still is (the same DCTs, bars judged on the picture
//! alone, the same centre crops), so a frame fingerprints as it would saved on its own.
//! - An animation (GIF, APNG, WebP) is a video: each frame is timed by the delays before
//!   it, and held frames collapse into segments through the same [`Segmenter`] as a
//!   video's, so a banked animation and an MP4 made of its frames meet on one time line.
//! - A multi-page TIFF is a still of several segments, one a page, in page order: each
//!   page matches as a still does, and the page is the segment's place in the asset.
//!
//! A file that stops part-way (a damaged frame, a decode limit) keeps the pictures
//! before it and is reported as checked in part.

use image::DynamicImage;

use crate::fingerprint::borders::{find_bars, Bars};
use crate::fingerprint::imghash::imghash64_as_stored;
use crate::fingerprint::inset::{luma_plane_of_rgb, Rect};
use crate::fingerprint::keypoints::{keypoints, starts_step, still_sample, FeatureSample};
use crate::fingerprint::pdq::LumaPlane;
use crate::fingerprint::segments::{SegmentWithDct, Segmenter};
use crate::fingerprint::{flattened, picture_dcts, FingerprintParams, Segment};
use crate::matching::QuerySegment;
use crate::media::frames::{open_pictures, Picture, Sequence};
use crate::media::{catch_decoder_panic, DecodeLimits, MediaError, MediaKind};
use crate::model::PanelPlace;

use super::panels::panels_of;
use super::video::query_segment;
use super::{FileFingerprint, Sampling};

/// The fingerprint of `bytes` when it holds two or more pictures; `None` when it is a
/// file of one picture, to be fingerprinted as a still.
pub(super) fn fingerprint_pictures(
    bytes: &[u8],
    digest: [u8; 32],
    params: &FingerprintParams,
    limits: DecodeLimits,
    sampling: Sampling,
) -> Result<Option<FileFingerprint>, MediaError> {
    let Some(pictures) = open_pictures(bytes, limits)? else {
        return Ok(None);
    };
    let sequence = pictures.sequence;
    let mut walk = Walk::new(params, sequence, sampling);
    let unit = match sequence {
        Sequence::Animation => "frame",
        Sequence::Pages => "page",
    };
    for (n, picture) in pictures.enumerate() {
        let picture = match picture {
            Ok(picture) => picture,
            // Nothing checked: the file is an error, as a still that fails is.
            Err(e) if n == 0 => return Err(e),
            Err(e) => {
                walk.partial = Some(format!("{unit} {}: {e}", n + 1));
                break;
            }
        };
        catch_decoder_panic(|| {
            walk.add(&picture);
            Ok(())
        })?;
        // Hashed, but not all of it was read (a PDF page the renderer found damaged).
        if let Some(damage) = &picture.damage {
            walk.partial
                .get_or_insert_with(|| format!("{unit} {}: {damage}", n + 1));
        }
    }
    Ok(Some(walk.finish(digest, bytes.len() as u64)))
}

/// The fingerprint being built, one picture at a time.
struct Walk<'a> {
    params: &'a FingerprintParams,
    sequence: Sequence,
    sampling: Sampling,
    /// The picture's own track, then one per centre crop.
    tracks: Vec<Track>,
    time_s: f64,
    /// The first picture's size.
    size: Option<(u32, u32)>,
    /// Every frame's duration so far, while they are all the same.
    uniform_s: Option<Option<f64>>,
    features: Vec<FeatureSample>,
    previous_s: Option<f64>,
    partial: Option<String>,
    /// A document's storyboard panels, and the pages they were found on.
    panels: Vec<(PanelPlace, QuerySegment)>,
    panel_pages: Vec<u32>,
    pages: u32,
    panel_features: Vec<FeatureSample>,
    /// The resolution each PDF page was rendered at.
    page_dpi: Vec<f64>,
}

/// Segments of one track: a video's collapse held frames, pages are kept one each.
enum Track {
    Frames(Segmenter),
    Pages(Vec<SegmentWithDct>),
}

impl<'a> Walk<'a> {
    fn new(params: &'a FingerprintParams, sequence: Sequence, sampling: Sampling) -> Walk<'a> {
        let track = || match sequence {
            Sequence::Animation => Track::Frames(Segmenter::new(params.segment_options())),
            Sequence::Pages => Track::Pages(Vec::new()),
        };
        Walk {
            params,
            sequence,
            sampling,
            tracks: (0..=params.crop_variants.len()).map(|_| track()).collect(),
            time_s: 0.0,
            size: None,
            uniform_s: None,
            features: Vec::new(),
            previous_s: None,
            partial: None,
            panels: Vec::new(),
            panel_pages: Vec::new(),
            pages: 0,
            panel_features: Vec::new(),
            page_dpi: Vec::new(),
        }
    }

    fn add(&mut self, picture: &Picture) {
        let flat = flattened(&picture.image, self.params);
        let img = flat.as_ref();
        self.size.get_or_insert((img.width(), img.height()));
        let (dct, crops) = picture_dcts(img, self.params);
        let params = self.params;
        let secondary = || imghash64_as_stored(img, params.secondary);
        let duration_s = picture.duration_s.unwrap_or(0.0);
        if self.sequence == Sequence::Animation {
            self.uniform_s = match self.uniform_s {
                None => Some(Some(duration_s)),
                Some(Some(d)) if d == duration_s => Some(Some(d)),
                Some(_) => Some(None),
            };
            if let Some(step) = self.sampling.feature_step_s {
                if starts_step(self.previous_s, self.time_s, step) {
                    self.features
                        .push(feature_sample(&picture.image, self.time_s, self.params));
                }
                self.previous_s = Some(self.time_s);
            }
        }
        if self.sequence == Sequence::Pages {
            self.pages += 1;
            self.page_dpi.extend(picture.dpi);
            let size = (picture.image.width(), picture.image.height());
            let found = panels_of(
                &picture.image,
                self.pages,
                size,
                self.params,
                &picture.placed,
                self.sampling.feature_step_s.is_some(),
            );
            if found.laid_out {
                self.panel_pages.push(self.pages);
            }
            self.panels.extend(found.panels);
            self.panel_features.extend(found.samples);
        }
        if self.sequence == Sequence::Pages && self.sampling.feature_step_s.is_some() {
            // A page is a still: one sample, its page number for a time.
            let page = self.features.len() as f64;
            let bars = params.crop_borders.then_some(params.bar_rule);
            self.features.push(still_sample(img, page, bars));
        }
        let dcts = std::iter::once(dct).chain(crops);
        for (n, (dct, track)) in dcts.zip(&mut self.tracks).enumerate() {
            // The secondary hash is the picture's, made once a segment; crops have none.
            let own = || if n == 0 { secondary() } else { 0 };
            match track {
                Track::Frames(s) => {
                    s.push(self.time_s, duration_s, dct, own);
                }
                Track::Pages(pages) => {
                    let pdq = dct.hash();
                    let segment = Segment {
                        start_s: None,
                        end_s: None,
                        pdq: pdq.hash,
                        quality: pdq.quality,
                        frames: 1,
                        secondary: own(),
                    };
                    pages.push(SegmentWithDct { segment, dct });
                }
            }
        }
        self.time_s += duration_s;
    }

    fn finish(self, digest: [u8; 32], bytes: u64) -> FileFingerprint {
        let mut tracks = self.tracks.into_iter().map(|t| match t {
            Track::Frames(s) => s.finish(),
            Track::Pages(pages) => pages,
        });
        let segments = tracks
            .next()
            .unwrap_or_default()
            .into_iter()
            .map(query_segment)
            .collect();
        let crops = self
            .params
            .crop_variants
            .iter()
            .zip(tracks)
            .map(|(&keep, t)| (keep, t.into_iter().map(|s| s.segment).collect()))
            .collect();
        let (width, height) = self.size.unwrap_or((0, 0));
        FileFingerprint {
            digest,
            bytes,
            kind: match self.sequence {
                Sequence::Animation => MediaKind::Video,
                Sequence::Pages => MediaKind::Still,
            },
            width,
            height,
            // Frames a second only where the file's timing has one.
            frame_rate: self
                .uniform_s
                .flatten()
                .filter(|d| *d > 0.0)
                .map(|d| 1.0 / d),
            partial: self.partial,
            segments,
            crops,
            insets: Vec::new(),
            features: self.features,
            panels: self.panels,
            panel_pages: self.panel_pages,
            panel_features: self.panel_features,
            page_dpi: self.page_dpi,
        }
    }
}

/// The keypoints of an animation's frame (or a sequence's), in its picture inside any
/// bars.
pub(super) fn feature_sample(
    image: &DynamicImage,
    time_s: f64,
    params: &FingerprintParams,
) -> FeatureSample {
    let rgb = image.to_rgb8();
    let (w, h) = (rgb.width() as usize, rgb.height() as usize);
    let luma = luma_plane_of_rgb(rgb.as_raw());
    let bars = if params.crop_borders {
        find_bars(w, h, params.bar_rule, |x, y| f32::from(luma[y * w + x]))
    } else {
        Bars::default()
    };
    let rect = Rect {
        x: bars.left,
        y: bars.top,
        width: w - bars.left - bars.right,
        height: h - bars.top - bars.bottom,
    };
    let keypoints = keypoints(&LumaPlane {
        data: &luma[bars.top * w + bars.left..],
        stride: w,
        width: rect.width,
        height: rect.height,
        gain: 1.0,
    });
    FeatureSample {
        time_s,
        picture: rect,
        keypoints,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::fingerprint_still_bytes;
    use crate::media::frames::tests::{blocks, gif, tiff_pages};

    fn of(bytes: &[u8], params: &FingerprintParams) -> FileFingerprint {
        let sampling = Sampling::default();
        fingerprint_pictures(bytes, [0; 32], params, DecodeLimits::default(), sampling)
            .unwrap()
            .expect("several pictures")
    }

    /// What the picture fingerprints as, saved alone in the same format.
    fn alone(bytes: Vec<u8>, params: &FingerprintParams) -> Segment {
        let fp = fingerprint_still_bytes(&bytes, [0; 32], params, DecodeLimits::default());
        fp.unwrap().segments[0].segment
    }

    /// An animated GIF is a video timed by its delays, its held frames one segment, and
    /// each frame hashed as it would be saved alone.
    #[test]
    fn an_animation_is_a_timed_video_of_its_frames_hashed_as_stills() {
        let params = FingerprintParams::default();
        let (a, b, c) = (blocks(1), blocks(2), blocks(3));
        let file = gif(&[
            (a.clone(), 500),
            (a.clone(), 500),
            (b.clone(), 500),
            (c, 500),
        ]);
        let fp = of(&file, &params);
        assert_eq!(fp.kind, MediaKind::Video);
        assert_eq!(fp.frame_rate, Some(2.0));
        assert_eq!(fp.partial, None);
        let times: Vec<(Option<f64>, Option<f64>, u32)> = fp
            .segments
            .iter()
            .map(|q| (q.segment.start_s, q.segment.end_s, q.segment.frames))
            .collect();
        assert_eq!(
            times,
            [
                (Some(0.0), Some(1.0), 2),
                (Some(1.0), Some(1.5), 1),
                (Some(1.5), Some(2.0), 1)
            ]
        );
        let still = alone(gif(&[(b, 500)]), &params);
        let frame = fp.segments[1].segment;
        assert_eq!((frame.pdq, frame.quality), (still.pdq, still.quality));
        assert_eq!(frame.secondary, still.secondary);
        assert_eq!(fp.segments[1].variants.len(), 8);
        assert!(fp.features.is_empty(), "keypoints only when asked for");

        // Keypoints on the time grid a video's are sampled on, when asked for.
        let sampling = Sampling {
            feature_step_s: Some(1.0),
            ..Sampling::default()
        };
        let limits = DecodeLimits::default();
        let fp = fingerprint_pictures(&file, [0; 32], &params, limits, sampling).unwrap();
        let times: Vec<f64> = fp.unwrap().features.iter().map(|f| f.time_s).collect();
        assert_eq!(times, [0.0, 1.0]);
    }

    /// A multi-page TIFF is a still with a segment a page, in order, each as the page
    /// saved alone fingerprints; a bank's centre crops have a segment a page too.
    #[test]
    fn a_multi_page_tiff_is_a_still_with_a_segment_a_page() {
        let params = FingerprintParams::default().banked();
        let pages = [blocks(4), blocks(5), blocks(6)];
        let fp = of(&tiff_pages(&pages), &params);
        assert_eq!(fp.kind, MediaKind::Still);
        assert_eq!(fp.frame_rate, None);
        assert_eq!(fp.segments.len(), 3);
        for (q, page) in fp.segments.iter().zip(&pages) {
            let single = alone(tiff_pages(std::slice::from_ref(page)), &params);
            assert_eq!(q.segment, single);
        }
        assert_eq!(fp.crops.len(), params.crop_variants.len());
        assert!(fp.crops.iter().all(|(_, c)| c.len() == 3));
    }

    /// Cut off in its third frame, a GIF keeps its first two and says where it stopped.
    #[test]
    fn a_damaged_frame_keeps_the_frames_before_it_and_says_so() {
        let params = FingerprintParams::default();
        let frames = [(blocks(1), 100), (blocks(2), 100), (blocks(3), 100)];
        let file = gif(&frames);
        let two = gif(&frames[..2]).len();
        let fp = of(&file[..two + 40], &params);
        assert_eq!(fp.segments.len(), 2);
        assert!(
            fp.partial
                .as_deref()
                .is_some_and(|p| p.starts_with("frame 3: ")),
            "{:?}",
            fp.partial
        );
    }
}
