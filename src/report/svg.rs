//! What every roofsim chart shares: the page, the title, the plot border, the axis titles.

use std::fmt::Write;

/// Text made safe inside SVG elements.
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A chart's page and its plot area, in pixels.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Frame {
    pub width: f64,
    pub height: f64,
    pub left: f64,
    pub right: f64,
    pub top: f64,
    pub bottom: f64,
}

impl Frame {
    /// Opens the document: a white page and the bold title centred over the plot area.
    pub(crate) fn open(&self, title: &str) -> String {
        let Frame { width, height, .. } = *self;
        let mut svg = String::new();
        let _ = writeln!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" font-size="11">"#
        );
        let _ = writeln!(
            svg,
            r#"<rect width="{width}" height="{height}" fill="white"/>"#
        );
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="28" text-anchor="middle" font-size="15" font-weight="bold">{}</text>"#,
            (self.left + self.right) / 2.0,
            escape(title)
        );
        svg
    }

    /// The plot area's border.
    pub(crate) fn border(&self, svg: &mut String) {
        let _ = writeln!(
            svg,
            r##"<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="#000"/>"##,
            self.left,
            self.top,
            self.right - self.left,
            self.bottom - self.top
        );
    }

    /// Axis titles below and left of the plot area.
    pub(crate) fn axis_titles(&self, svg: &mut String, x_title: &str, y_title: &str) {
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle" font-size="13">{x_title}</text>"#,
            (self.left + self.right) / 2.0,
            self.bottom + 40.0
        );
        let _ = writeln!(
            svg,
            r#"<text transform="translate(24 {}) rotate(-90)" text-anchor="middle" font-size="13">{y_title}</text>"#,
            (self.top + self.bottom) / 2.0
        );
    }
}
