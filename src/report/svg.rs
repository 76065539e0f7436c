//! What every roofsim chart shares: the page, the title, the plot border, the axis titles.

use std::fmt::Write;

/// Text made safe inside SVG elements.
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A round tick spacing (1, 2 or 5 × a power of ten) giving four to ten ticks up to `max`.
pub(crate) fn tick_step(max: f64) -> f64 {
    let magnitude = 10f64.powf((max / 5.0).log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|factor| factor * magnitude)
        .find(|step| max / step <= 10.0)
        .unwrap_or(10.0 * magnitude)
}

/// The ticks of an axis from 0 to `max` at [`tick_step`], as values and as text: readers
/// compare round values (20, 40, 60 ms; 100, 200 GB/s), not 13.9, 27.7.
pub(crate) fn ticks(max: f64) -> Vec<(f64, String)> {
    if !(max > 0.0 && max.is_finite()) {
        return vec![(0.0, "0".into())];
    }
    let step = tick_step(max);
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    let count = (max / step + 1e-9).floor() as u32;
    (0..=count)
        .map(|i| {
            let value = f64::from(i) * step;
            (value, format!("{value:.decimals$}"))
        })
        .collect()
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

    /// Round time ticks (0 to `end_ms`, at [`ticks`]) along the bottom of the plot area, for
    /// the charts whose horizontal axis is a run's time.
    pub(crate) fn time_axis(&self, svg: &mut String, end_ms: f64) {
        for (value, text) in ticks(end_ms) {
            let _ = writeln!(
                svg,
                r#"<text x="{:.1}" y="{}" text-anchor="middle">{text}</text>"#,
                self.left + (self.right - self.left) * value / end_ms.max(f64::MIN_POSITIVE),
                self.bottom + 16.0
            );
        }
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

#[cfg(test)]
mod tests {
    use super::{tick_step, ticks};

    #[test]
    fn ticks_are_round() {
        assert_eq!(tick_step(6451.0), 1000.0);
        assert_eq!(tick_step(310.5), 50.0);
        assert_eq!(tick_step(8.0), 1.0);
        assert_eq!(tick_step(0.9), 0.1);
        let text = |max| ticks(max).into_iter().map(|(_, t)| t).collect::<Vec<_>>();
        assert_eq!(text(138.6), ["0", "20", "40", "60", "80", "100", "120"]);
        assert_eq!(text(1.3), ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0", "1.2"]);
        assert_eq!(text(50.0), ["0", "10", "20", "30", "40", "50"]);
        assert_eq!(text(0.0), ["0"]);
    }
}
