#![no_main]
//! What the PDF reader parses itself: `pdfinfo -box` output (page count, media boxes,
//! the resolution each page gets) and `pdftohtml -xml` picture tags. The PDF bytes
//! themselves go to poppler, in its own process.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    celprint::fuzzing::pdf_tool_output(&String::from_utf8_lossy(data));
});
