//! A panel's picture taken out of its page and turned upright, so that a scan's skew
//! does not move its hash: on the shared pencil boards a 1.5° turn alone costs 20 to 30
//! bits of PDQ, most of the matching radius.

use image::{DynamicImage, GenericImageView, Rgb, RgbImage};

use super::{Panel, MIN_SKEW};

/// The picture of `panel`, upright. A panel on a page that is not skewed is cut out as
/// it is; on a skewed page each pixel is sampled (bilinear) where the page's skew puts
/// it about the panel's centre, and what falls off the page is white paper.
pub fn upright(page: &DynamicImage, panel: &Panel) -> DynamicImage {
    let r = panel.rect;
    let (x, y, w, h) = (r.x as u32, r.y as u32, r.width as u32, r.height as u32);
    if panel.skew_degrees.abs() < MIN_SKEW {
        return page.crop_imm(x, y, w, h);
    }
    // Upright to page: the turn the page was given (see `prep::rotated`).
    let (s, c) = panel.skew_degrees.to_radians().sin_cos();
    let (cx, cy) = (x as f32 + w as f32 / 2.0, y as f32 + h as f32 / 2.0);
    let (pw, ph) = page.dimensions();
    let at = |px: i64, py: i64| -> [f32; 3] {
        if px < 0 || py < 0 || px >= i64::from(pw) || py >= i64::from(ph) {
            return [255.0; 3];
        }
        let p = page.get_pixel(px as u32, py as u32).0;
        [f32::from(p[0]), f32::from(p[1]), f32::from(p[2])]
    };
    let out = RgbImage::from_fn(w, h, |u, v| {
        let (dx, dy) = (
            u as f32 + 0.5 - w as f32 / 2.0,
            v as f32 + 0.5 - h as f32 / 2.0,
        );
        let fx = cx + c * dx - s * dy - 0.5;
        let fy = cy + s * dx + c * dy - 0.5;
        let (x0, y0) = (fx.floor(), fy.floor());
        let (ax, ay) = (fx - x0, fy - y0);
        let (x0, y0) = (x0 as i64, y0 as i64);
        let (a, b, cc, d) = (
            at(x0, y0),
            at(x0 + 1, y0),
            at(x0, y0 + 1),
            at(x0 + 1, y0 + 1),
        );
        let mix = |i: usize| {
            let top = a[i] * (1.0 - ax) + b[i] * ax;
            let bottom = cc[i] * (1.0 - ax) + d[i] * ax;
            (top * (1.0 - ay) + bottom * ay).round().clamp(0.0, 255.0) as u8
        };
        Rgb([mix(0), mix(1), mix(2)])
    });
    DynamicImage::ImageRgb8(out)
}
