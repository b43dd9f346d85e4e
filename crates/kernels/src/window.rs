//! One spatial axis of a sliding-window operator (depthwise convolution, pooling).

/// Input and output sizes along the axis, the window (filter) size, the stride and the
/// padding before the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Axis {
    pub input: usize,
    pub output: usize,
    pub kernel: usize,
    pub stride: usize,
    pub pad_before: usize,
}

impl Axis {
    /// The padded length every window fits in.
    pub(crate) fn padded(&self) -> usize {
        (self.pad_before + self.input).max(self.output.saturating_sub(1) * self.stride + self.kernel)
    }

    /// The input positions output `o`'s window covers, clipped to the input.
    pub(crate) fn window(&self, o: usize) -> (usize, usize) {
        let start = (o * self.stride) as isize - self.pad_before as isize;
        let end = (start + self.kernel as isize).clamp(0, self.input as isize) as usize;
        (start.clamp(0, self.input as isize) as usize, end)
    }
}
