//! QR codes for pairing links: terminal, SVG and PNG.
//!
//! Terminal rendering packs two module rows into one text row with the half
//! blocks `▀ ▄ █` and space. To scan in dark *and* light terminal themes it
//! never relies on the theme's colors: every QR row is drawn with explicit
//! xterm-256 colors, black (16, #000000) foreground on white (231, #ffffff)
//! background, so dark modules are black and light modules (and the 4-module
//! quiet zone) white whatever the theme. Each line resets its attributes.

use std::path::Path;

use qrcode::{Color, QrCode};

use crate::errors::CliError;

/// Modules of quiet zone around the code (the QR standard asks for 4).
pub const QUIET: usize = 4;

const FG_BLACK_BG_WHITE: &str = "\x1b[38;5;16;48;5;231m";
const RESET: &str = "\x1b[0m";

/// The code for `text`, at error-correction level M.
pub fn encode(text: &str) -> Result<QrCode, CliError> {
    QrCode::new(text.as_bytes())
        .map_err(|e| CliError::new("qr", format!("cannot encode the link as a QR code: {e}")))
}

/// The module grid with its quiet zone: `true` = dark.
fn grid(code: &QrCode) -> (usize, Vec<bool>) {
    let w = code.width();
    let colors = code.to_colors();
    let full = w + 2 * QUIET;
    let mut g = vec![false; full * full];
    for y in 0..w {
        for x in 0..w {
            g[(y + QUIET) * full + x + QUIET] = colors[y * w + x] == Color::Dark;
        }
    }
    (full, g)
}

/// Renders the code for a terminal (see the module doc). One `\n`-ended
/// line per two module rows.
pub fn to_terminal(code: &QrCode) -> String {
    let (n, g) = grid(code);
    let mut out = String::new();
    let mut y = 0;
    while y < n {
        out.push_str(FG_BLACK_BG_WHITE);
        for x in 0..n {
            let top = g[y * n + x];
            let bottom = y + 1 < n && g[(y + 1) * n + x];
            out.push(match (top, bottom) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        out.push_str(RESET);
        out.push('\n');
        y += 2;
    }
    out
}

/// Renders the code as an SVG document (one unit per module).
pub fn to_svg(code: &QrCode) -> String {
    let (n, g) = grid(code);
    let mut path = String::new();
    for y in 0..n {
        for x in 0..n {
            if g[y * n + x] {
                path.push_str(&format!("M{x} {y}h1v1h-1z"));
            }
        }
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" \
         viewBox=\"0 0 {n} {n}\" width=\"{px}\" height=\"{px}\" shape-rendering=\"crispEdges\">\
         <rect width=\"{n}\" height=\"{n}\" fill=\"#ffffff\"/><path fill=\"#000000\" d=\"{path}\"/></svg>\n",
        px = n * 8
    )
}

/// Renders the code as a grayscale image, `scale` pixels per module.
pub fn to_image(code: &QrCode, scale: u32) -> image::GrayImage {
    let (n, g) = grid(code);
    let scale = scale.max(1);
    let size = n as u32 * scale;
    image::GrayImage::from_fn(size, size, |x, y| {
        let (mx, my) = ((x / scale) as usize, (y / scale) as usize);
        image::Luma([if g[my * n + mx] { 0 } else { 255 }])
    })
}

/// Writes the PNG and/or SVG files asked for.
pub fn write_files(code: &QrCode, png: Option<&Path>, svg: Option<&Path>) -> Result<(), CliError> {
    if let Some(p) = png {
        to_image(code, 8)
            .save_with_format(p, image::ImageFormat::Png)
            .map_err(|e| CliError::new("io", format!("{}: {e}", p.display())))?;
    }
    if let Some(p) = svg {
        std::fs::write(p, to_svg(code))
            .map_err(|e| CliError::new("io", format!("{}: {e}", p.display())))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use dd_proto::link::{Link, LinkKind, Token};
    use qrcode::Version;

    fn typical_link() -> String {
        Link {
            kind: LinkKind::Pair,
            version: 1,
            agent_url: "http://192.168.100.200:7777".into(),
            agent_key: [0xab; 32],
            expires_at: 1_900_000_000,
            session_id: Some("s_0123456789abcdef".into()),
            read_only: true,
            token: Token::new(&dd_proto::keys::encode_bytes(&[9u8; 32])).unwrap(),
        }
        .render(None)
    }

    #[test]
    fn typical_pair_link_fits_version_10() {
        let link = typical_link();
        let code = encode(&link).unwrap();
        match code.version() {
            Version::Normal(v) => assert!(v <= 10, "version {v} for {} bytes", link.len()),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn terminal_rendering_has_quiet_zone_and_explicit_colors() {
        let code = encode(&typical_link()).unwrap();
        let text = to_terminal(&code);
        let n = code.width() + 2 * QUIET;
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), n.div_ceil(2));
        for l in &lines {
            assert!(l.starts_with(FG_BLACK_BG_WHITE) && l.ends_with(RESET));
            let body = &l[FG_BLACK_BG_WHITE.len()..l.len() - RESET.len()];
            let chars: Vec<char> = body.chars().collect();
            assert_eq!(chars.len(), n);
            assert!(chars[..QUIET].iter().all(|&c| c == ' '));
            assert!(chars[n - QUIET..].iter().all(|&c| c == ' '));
        }
        // The first two text rows are all quiet zone; the third starts the
        // finder pattern (a full dark row of 7 modules).
        assert!(lines[0].contains(&" ".repeat(n)));
        assert!(lines[2].contains("█▀▀▀▀▀█"));
    }

    #[test]
    fn image_and_svg_match_the_grid() {
        let code = encode("dd://pair?v=1").unwrap();
        let n = code.width() + 2 * QUIET;
        let img = to_image(&code, 3);
        assert_eq!(img.width() as usize, n * 3);
        assert_eq!(img.get_pixel(0, 0).0, [255]);
        // Top-left finder pattern corner is dark.
        let c = (QUIET * 3) as u32;
        assert_eq!(img.get_pixel(c, c).0, [0]);
        let svg = to_svg(&code);
        assert!(svg.contains(&format!("viewBox=\"0 0 {n} {n}\"")));
        assert!(svg.contains(&format!("M{QUIET} {QUIET}h1v1h-1z")));
        let tmp = tempfile::tempdir().unwrap();
        let (png, svgp) = (tmp.path().join("q.png"), tmp.path().join("q.svg"));
        write_files(&code, Some(&png), Some(&svgp)).unwrap();
        assert_eq!(&std::fs::read(&png).unwrap()[..4], b"\x89PNG");
        assert!(std::fs::read_to_string(&svgp).unwrap().starts_with("<?xml"));
    }
}
