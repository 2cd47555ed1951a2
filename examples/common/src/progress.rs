//! The training progress bar.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar over `total` steps with `done` of them already done (a resumed run), showing the
/// position, the rate and the ETA (measured from `done`), and a message. Hidden when
/// `hidden` (`--quiet`: logs and tests), and by indicatif when stderr is not a terminal.
pub fn progress_bar(total: usize, done: usize, hidden: bool) -> ProgressBar {
    if hidden {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} steps  {per_sec}  ETA {eta}  {msg}")
            .expect("a valid template"),
    );
    bar.set_position(done as u64);
    bar.reset_eta();
    bar
}

/// Prints a line above the bar, or plainly on stdout when the bar is hidden.
pub fn say(bar: &ProgressBar, line: impl AsRef<str>) {
    if bar.is_hidden() {
        println!("{}", line.as_ref());
    } else {
        bar.println(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resumed_bar_starts_at_the_steps_done_and_quiet_hides_it() {
        let bar = progress_bar(10, 4, false);
        assert_eq!((bar.position(), bar.length()), (4, Some(10)));
        assert!(progress_bar(10, 0, true).is_hidden());
    }
}
