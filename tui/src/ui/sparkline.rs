//! A sparkline as text, so it fits in a table cell: one block character per
//! point, scaled from zero to the highest point shown, newest on the right;
//! a point without a value (an interval without an answer, NaN) is a gap.

const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The last `width` points of `values` (oldest first), padded on the left.
pub fn sparkline(values: &[f64], width: usize) -> String {
    let shown = &values[values.len().saturating_sub(width)..];
    let max = shown
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max);
    let mut out = " ".repeat(width - shown.len());
    for value in shown {
        if !value.is_finite() {
            out.push(' ');
            continue;
        }
        let level = if max > 0.0 && *value > 0.0 {
            let scaled = (value / max * (BLOCKS.len() - 1) as f64).round();
            (scaled as usize).clamp(0, BLOCKS.len() - 1)
        } else {
            0
        };
        out.push(BLOCKS[level]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_scale_to_the_highest_and_the_newest_is_rightmost() {
        assert_eq!(sparkline(&[0.0, 1.0, 2.0, 4.0], 4), "▁▃▅█");
        assert_eq!(sparkline(&[4.0, 0.0], 4), "  █▁");
        assert_eq!(sparkline(&[1.0, 2.0, 3.0], 2), "▆█");
        assert_eq!(sparkline(&[0.0, 0.0], 2), "▁▁");
        assert_eq!(sparkline(&[], 3), "   ");
    }

    #[test]
    fn an_outage_is_a_gap() {
        assert_eq!(sparkline(&[4.0, f64::NAN, f64::NAN, 4.0], 4), "█  █");
    }
}
