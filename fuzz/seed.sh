#!/usr/bin/env bash
# Builds the seed corpora under fuzz/seeds/<target>/ (not committed) from the tests'
# fixtures and the shared media (../shared, or $CELPRINT_SHARED), shrunk so that each
# seed stays small: libFuzzer mutates small inputs many times faster. Needs ImageMagick
# (`convert`) and poppler-utils; zip and zstd where installed. Safe to rerun: it starts afresh.
set -euo pipefail
cd "$(dirname "$0")"
repo=..
shared="${CELPRINT_SHARED:-$repo/../shared}"
[ -d "$shared/media" ] || shared=/work/shared
media="$shared/media"
out=seeds
rm -rf "$out"
mkdir -p "$out"/{archive,hash_lists,bank_records,saved_index,still,jpeg_turbo,psd,exr,pdf_info,sequence_names,panels,claims}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Stills: a few shared pictures at 48 px, in every format the decoders take.
pics=("$media"/stills/lineart/{frog,skull,hat}.png "$media"/storyboards/boards/bbb_f0216.png)
i=0
for p in "${pics[@]}"; do
    i=$((i + 1))
    for f in png gif bmp tiff webp tga; do
        convert "$p" -strip -resize 48x48 "$out/still/s$i.$f"
    done
    convert "$p" -strip -resize 48x48 -quality 80 "$out/jpeg_turbo/s$i.jpg"
    convert "$p" -strip -resize 40x40 -interlace JPEG "$out/jpeg_turbo/s$i-progressive.jpg"
    convert "$p" -strip -resize 40x40 -colorspace Gray "$out/jpeg_turbo/s$i-gray.jpg"
    convert "$p" -strip -resize 32x32 -colorspace CMYK "$out/jpeg_turbo/s$i-cmyk.jpg"
    convert "$p" -strip -resize 32x32 -sampling-factor 1x1 "$out/jpeg_turbo/s$i-444.jpg"
    convert "$p" -resize 32x32 "$out/psd/s$i.psd"
    convert "$p" -resize 32x32 -compress RLE "$out/psd/s$i-rle.psd"
    convert "$p" -resize 24x24 -colorspace Gray -depth 16 "$out/psd/s$i-gray16.psd"
    convert "$p" -resize 24x24 -compress RLE "$out/exr/s$i-rle.tga"
done
cp "$out"/jpeg_turbo/*.jpg "$out"/psd/*.psd "$out/still/"
cp "$repo"/tests/fixtures/odd/popeye-truncated.jpg "$out/jpeg_turbo/"
# The fixtures as they are (PSB, 16-bit and layered PSD, EXR: ImageMagick writes no EXR).
cp "$repo"/tests/fixtures/formats/*.{psd,psb} "$out/psd/"
cp "$repo"/tests/fixtures/formats/*.exr "$out/exr/"
cp "$repo"/tests/fixtures/formats/*.exr "$repo"/tests/fixtures/odd/popeye-clip.png "$out/still/"

# Archives: a selector byte (0 zip, 1 tar, 2 tar.gz, 3 tar.zst; see the target), then
# the archive: two small pictures, and one archive inside another.
mkdir -p "$tmp/a/sub"
cp "$out/still/s1.png" "$tmp/a/one.png"
cp "$out/jpeg_turbo/s2.jpg" "$tmp/a/sub/two.jpg"
echo "notes" > "$tmp/a/readme.txt"
(cd "$tmp/a" && tar cf ../a.tar . && tar czf ../a.tar.gz .)
sel() { { printf "\\x$(printf %02x "$1")"; cat "$2"; } > "$3"; }
sel 1 "$tmp/a.tar" "$out/archive/tar"
sel 2 "$tmp/a.tar.gz" "$out/archive/tar.gz"
# zip and zstd are not in scripts/setup.sh's list: their seeds are made when they are
# installed (the fuzzer finds its way into each format from the others' bytes anyway).
if command -v zip >/dev/null; then
    (cd "$tmp/a" && zip -qr ../a.zip . && cp ../a.zip inner.zip)
    (cd "$tmp" && tar cf nested.tar -C a inner.zip one.png)
    sel 0 "$tmp/a.zip" "$out/archive/zip"
    sel 1 "$tmp/nested.tar" "$out/archive/nested.tar"
fi
if command -v zstd >/dev/null; then
    (cd "$tmp/a" && tar cf - . | zstd -q -o ../a.tar.zst)
    sel 3 "$tmp/a.tar.zst" "$out/archive/tar.zst"
fi

# Hash lists: vPDQ lines as celprint writes them, a PDQ hash, a digest, labels.
h=f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22
printf '0,100,%s,0.000\n1,98,%s,0.042\n2,97,%s,0.083\n' "$h" "$h" "$h" > "$out/hash_lists/vpdq"
printf '%s\nleaked\nlicensed\nown\n' "$h" > "$out/hash_lists/words"
printf '%s%s\n' "$h" "$h" | cut -c1-64 > "$out/hash_lists/digest"

# Bank records: an asset record and a path record as the bank writes them (JSON).
cat > "$out/bank_records/asset.json" <<JSON
{"id":7,"digest":"$h","kind":"still","label":"leaked","source":"s","note":null,"paths":["/a/b.pdf"],"bytes":10,"width":4,"height":3,"segments":2,"indexed_at":"2026-01-01T00:00:00Z","frame_rate":null,"crops":[[80,2]],"panels":[{"page":1,"panel":1,"box":{"x":0,"y":0,"w":2,"h":2}}],"panel_pages":[1]}
JSON
printf '{"stamp":{"size":3,"modified_ns":5},"digest":"%s","error":null,"seen_at":"2026-01-01T00:00:00Z"}' "$h" > "$out/bank_records/path.json"
head -c 122 /dev/urandom > "$out/bank_records/two-segments"

# Saved tables: a hash count, a chunk count, the hashes, then edits.
for n in 1 5 20; do
    { printf "\\x$(printf %02x $((n - 1)))\\x15"; head -c $((n * 32 + 20)) /dev/urandom; } \
        > "$out/saved_index/n$n"
done

# PDF tool output: what pdfinfo and pdftohtml say of the shared storyboard PDFs.
for pdf in "$media"/storyboards/pages/*.pdf; do
    b=$(basename "$pdf" .pdf)
    pdfinfo -box "$pdf" > "$out/pdf_info/$b.info" 2>/dev/null || true
    pdftohtml -xml -q -f 1 -l 1 "$pdf" "$tmp/$b" >/dev/null 2>&1 || true
    [ -f "$tmp/$b.xml" ] && cp "$tmp/$b.xml" "$out/pdf_info/"
done

# Sequence names: real names from the shared media, and numbered frames.
find "$media" -type f | sed "s|^$media|/media|" > "$out/sequence_names/shared"
for n in 0001 0002 0003 0005; do echo "/shots/sh010/comp_v2.$n.exr"; done > "$out/sequence_names/frames"

# Panels: a storyboard page as gray pixels, 64 wide, with its width and scale bytes.
for page in "$media"/storyboards/pages/grid6_p01.png "$media"/storyboards/pages/stack3_p01.png; do
    b=$(basename "$page" .png)
    { printf '\x3f\x0f'; convert "$page" -resize 64x -colorspace Gray -depth 8 gray:-; } \
        > "$out/panels/$b"
done
# Claims: small stills that carry EXIF, XMP and PNG text, as cameras and tools write them.
src="$media/stills/lineart/frog.png"
convert "$src" -strip -resize 16x16 -set 'Creation Time' '2024-06-01T12:00:00Z' \
    -set Software 'PaintTool 9' -set Author 'Jo' "$out/claims/text.png"
printf '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description xmp:CreateDate="2023-01-02T03:04:05+01:00" xmp:CreatorTool="Krita"><dc:creator><rdf:Seq><rdf:li>Jo</rdf:li></rdf:Seq></dc:creator></rdf:Description></x:xmpmeta>' \
    > "$tmp/x.xmp"
convert "$src" -strip -resize 16x16 -profile "$tmp/x.xmp" "$out/claims/xmp.jpg" 2>/dev/null \
    || cp "$out/jpeg_turbo/s1.jpg" "$out/claims/"
# EXIF written by ffmpeg's mjpeg encoder would be JFIF only; a TIFF carries IFD0 tags.
convert "$src" -strip -resize 16x16 -set tiff:software 'PaintTool 9' "$out/claims/tags.tif"
cp "$repo"/tests/fixtures/odd/popeye-truncated.jpg "$out/claims/"
du -sh "$out"/* | sed 's|seeds/||'
