//! Text in PNG charts, drawn glyph by glyph where each glyph belongs.
//!
//! plotters 0.3.7 rasterises text with ab_glyph but starts every glyph's ink at the pen
//! position, dropping the glyph's left side bearing: narrow glyphs (`1`, `.`, `i`) sit too far
//! left and leave a gap after them ("sequence 1 28", "tiny-bert .json"). [`TrueText`] wraps a
//! bitmap backend and draws text itself, with the same layout (advances, kerning, anchor,
//! rotation) and the bearings kept. SVG charts need none of this: the viewer lays out the text.

use ab_glyph::{Font, FontRef, ScaleFont};
use plotters::prelude::DrawingBackend;
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind,
};

/// A backend whose text is drawn by [`draw_text`]; everything else goes to `inner`.
pub struct TrueText<B> {
    inner: B,
    font: FontRef<'static>,
}

impl<B> TrueText<B> {
    /// `font`: the TrueType bytes the charts are drawn in (plot's registered font).
    pub fn new(inner: B, font: &'static [u8]) -> Result<Self, ab_glyph::InvalidFont> {
        Ok(TrueText {
            inner,
            font: FontRef::try_from_slice(font)?,
        })
    }
}

/// Every pixel of `text` at `size` pixels: (x, y, coverage) relative to the start of its
/// layout box, as plotters lays it out (the baseline half the size down), with each glyph's
/// ink at its pen position plus its left side bearing.
pub fn rasterise(font: &FontRef<'static>, size: f32, text: &str) -> Vec<(i32, i32, f32)> {
    let scaled = font.as_scaled(size);
    let mut pixels = Vec::new();
    let mut pen = 0f32;
    let mut previous = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = previous {
            pen += scaled.kern(p, id);
        }
        previous = Some(id);
        let glyph = id.with_scale_and_position(size, ab_glyph::point(pen, 0.0));
        if let Some(outline) = scaled.outline_glyph(glyph) {
            let bounds = outline.px_bounds();
            let (left, top) = (bounds.min.x as i32, (size / 2.0 + bounds.min.y) as i32);
            outline.draw(|x, y, coverage| {
                pixels.push((left + x as i32, top + y as i32, coverage));
            });
        }
        pen += scaled.h_advance(id);
    }
    pixels
}

impl<B: DrawingBackend> DrawingBackend for TrueText<B> {
    type ErrorType = B::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.present()
    }

    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_pixel(point, color)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.blit_bitmap(pos, size, src)
    }

    /// As plotters-backend's own `draw_text` (anchor, layout box, transform), with the pixels
    /// from [`rasterise`].
    fn draw_text<TStyle: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &TStyle,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let ((min_x, min_y), (max_x, max_y)) = style
            .layout_box(text)
            .map_err(|e| DrawingErrorKind::FontError(Box::new(e)))?;
        let (width, height) = (max_x - min_x, max_y - min_y);
        let dx = match style.anchor().h_pos {
            HPos::Left => 0,
            HPos::Right => -width,
            HPos::Center => -width / 2,
        };
        let dy = match style.anchor().v_pos {
            VPos::Top => 0,
            VPos::Center => -height / 2,
            VPos::Bottom => -height,
        };
        let transform = style.transform();
        for (x, y, coverage) in rasterise(&self.font, style.size() as f32, text) {
            let (x, y) = transform.transform(x + dx - min_x, y + dy - min_y);
            let mut shade = color;
            shade.alpha *= f64::from(coverage.clamp(0.0, 1.0));
            self.inner.draw_pixel((pos.0 + x, pos.1 + y), shade)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ink's runs of columns, left to right: one per glyph of digits drawn apart.
    fn ink_runs(pixels: &[(i32, i32, f32)]) -> Vec<(i32, i32)> {
        let mut columns: Vec<i32> = pixels.iter().filter(|p| p.2 > 0.3).map(|p| p.0).collect();
        columns.sort_unstable();
        columns.dedup();
        let mut runs: Vec<(i32, i32)> = Vec::new();
        for c in columns {
            match runs.last_mut() {
                Some(run) if c == run.1 + 1 => run.1 = c,
                _ => runs.push((c, c)),
            }
        }
        runs
    }

    #[test]
    fn narrow_glyphs_keep_their_side_bearings() {
        let font = FontRef::try_from_slice(super::super::plot::font_bytes()).unwrap();
        let size = 40.0;
        let runs = ink_runs(&rasterise(&font, size, "128"));
        assert_eq!(runs.len(), 3, "{runs:?}");
        // Each digit's ink starts at its pen position plus its left side bearing (from the
        // font's metrics, not its outline): plotters' own path starts it at the pen, which
        // puts the 1 several pixels left and opens a gap after it ("1 28").
        let scaled = font.as_scaled(size);
        let mut pen = 0.0;
        for (c, run) in "128".chars().zip(&runs) {
            let id = scaled.glyph_id(c);
            let expected = (pen + scaled.h_side_bearing(id)).floor() as i32;
            assert!(
                (run.0 - expected).abs() <= 1,
                "{c}: ink at {} not {expected}: {runs:?}",
                run.0
            );
            pen += scaled.h_advance(id);
        }
        assert!(
            scaled.h_side_bearing(scaled.glyph_id('1')) > 3.0,
            "the test needs a bearing"
        );
    }
}
