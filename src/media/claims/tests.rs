use super::*;

fn kinds(claims: &[Claim]) -> Vec<(ClaimKind, &str, &str)> {
    claims
        .iter()
        .map(|c| (c.what, c.value.as_str(), c.from.as_str()))
        .collect()
}

/// A TIFF block (as in EXIF) with IFD0 tags and an EXIF IFD, in either byte order.
fn tiff(little: bool) -> Vec<u8> {
    let u16b = |v: u16| {
        if little {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        }
    };
    let u32b = |v: u32| {
        if little {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        }
    };
    let mut t = if little {
        b"II*\0".to_vec()
    } else {
        b"MM\0*".to_vec()
    };
    t.extend(u32b(8));
    // IFD0 at 8: 3 entries (Make inline, Software by offset, EXIF IFD pointer).
    let software = b"Toonz 1.7\0";
    let ifd0_end = 8 + 2 + 3 * 12 + 4;
    let exif_at = ifd0_end + software.len();
    t.extend(u16b(3));
    for (tag, kind, n, value) in [
        (0x010f_u16, 2u16, 4u32, *b"ACM\0"),
        (0x0131, 2, software.len() as u32, u32b(ifd0_end as u32)),
        (0x8769, 4, 1, u32b(exif_at as u32)),
    ] {
        t.extend(u16b(tag));
        t.extend(u16b(kind));
        t.extend(u32b(n));
        t.extend(value);
    }
    t.extend(u32b(0));
    t.extend(software);
    // EXIF IFD: DateTimeOriginal.
    let date = b"2024:03:05 10:20:30\0";
    t.extend(u16b(1));
    t.extend(u16b(0x9003));
    t.extend(u16b(2));
    t.extend(u32b(date.len() as u32));
    t.extend(u32b((exif_at + 2 + 12 + 4) as u32));
    t.extend(u32b(0));
    t.extend(date);
    t
}

fn jpeg_with(segments: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut j = vec![0xff, 0xd8];
    for (marker, body) in segments {
        j.extend([0xff, *marker]);
        j.extend(((body.len() + 2) as u16).to_be_bytes());
        j.extend(body);
    }
    j.extend([0xff, 0xda, 0, 2, 1, 2, 3]);
    j
}

#[test]
fn exif_in_a_jpeg_in_both_byte_orders() {
    for little in [true, false] {
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend(tiff(little));
        let claims = from_bytes(&jpeg_with(&[(0xe1, app1)]));
        assert_eq!(
            kinds(&claims),
            [
                (ClaimKind::Camera, "ACM", "exif"),
                (ClaimKind::Software, "Toonz 1.7", "exif"),
                (ClaimKind::Created, "2024:03:05 10:20:30", "exif"),
            ],
            "little-endian: {little}"
        );
    }
}

#[test]
fn xmp_in_a_jpeg_as_attributes_and_elements() {
    let mut app1 = b"http://ns.adobe.com/xap/1.0/\0".to_vec();
    app1.extend(
        br#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description xmp:CreateDate="2023-01-02T03:04:05+01:00" xmp:CreatorTool="Krita 5 &amp; co"><dc:creator><rdf:Seq><rdf:li>Jo Artist</rdf:li></rdf:Seq></dc:creator></rdf:Description></x:xmpmeta>"#,
    );
    let claims = from_bytes(&jpeg_with(&[(0xe0, b"JFIF\0".to_vec()), (0xe1, app1)]));
    assert_eq!(
        kinds(&claims),
        [
            (ClaimKind::Created, "2023-01-02T03:04:05+01:00", "xmp"),
            (ClaimKind::Software, "Krita 5 & co", "xmp"),
            (ClaimKind::Creator, "Jo Artist", "xmp"),
        ]
    );
}

#[test]
fn png_text_chunks_and_damage_that_stops_the_reader() {
    let chunk = |kind: &[u8], data: &[u8]| {
        let mut c = (data.len() as u32).to_be_bytes().to_vec();
        c.extend(kind);
        c.extend(data);
        c.extend([0; 4]);
        c
    };
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(chunk(b"tEXt", b"Software\0Blender 4.1"));
    png.extend(chunk(
        b"iTXt",
        b"Creation Time\0\0\0en\0\x002022-06-01T12:00:00Z",
    ));
    png.extend(chunk(b"tEXt", b"Comment\0not a claim"));
    let claims = from_bytes(&png);
    assert_eq!(
        kinds(&claims),
        [
            (ClaimKind::Software, "Blender 4.1", "png"),
            (ClaimKind::Created, "2022-06-01T12:00:00Z", "png"),
        ]
    );
    // A chunk that claims more bytes than there are ends the reading, with what was
    // read before it.
    let mut cut = png.clone();
    cut.extend(&u32::MAX.to_be_bytes());
    cut.extend(b"tEXt");
    assert_eq!(from_bytes(&cut).len(), 2);
}

#[test]
fn times_as_files_write_them() {
    let t = |s: &str| parse_time(s).map(|t| (t.unix_s, t.zoned));
    assert_eq!(t("1970-01-01T00:00:00Z"), Some((0, true)));
    assert_eq!(
        t("2024-03-05T10:20:30.000000Z"),
        Some((1_709_634_030, true))
    );
    assert_eq!(t("2024-03-05T11:20:30+01:00"), Some((1_709_634_030, true)));
    assert_eq!(t("2024-03-05T05:20:30-0500"), Some((1_709_634_030, true)));
    assert_eq!(t("2024:03:05 10:20:30"), Some((1_709_634_030, false)));
    assert_eq!(t("2024-03-05"), Some((1_709_596_800, false)));
    assert_eq!(t("2000-02-29T00:00:00Z"), Some((951_782_400, true)));
    for bad in [
        "0000:00:00 00:00:00",
        "2024-13-01",
        "2024-03-05T25:00:00Z",
        "yesterday",
        "2024-03-05T10:20:30+1",
        "",
    ] {
        assert_eq!(parse_time(bad), None, "{bad:?}");
    }
}

#[test]
fn the_earliest_creation_claim_is_the_one_judged() {
    let c = |v: &str, from: &str| Claim {
        what: ClaimKind::Created,
        value: v.to_string(),
        from: from.to_string(),
    };
    let claims = [
        c("2024-01-01T00:00:00Z", "container"),
        c("2023-05-01T00:00:00Z", "stream 0"),
        c("bad", "x"),
    ];
    let (t, claim) = earliest_created(&claims).unwrap();
    assert_eq!((t.unix_s, claim.from.as_str()), (1_682_899_200, "stream 0"));
}
