//! The one cursor over a job's log sequence numbers, used wherever records
//! are passed on: the executor's Watch streams (`rpc/watch.rs`) and the
//! web's per-socket log subscription (`ws/logs.rs`) and feed (`ws/fanout.rs`).
//! Trust: pure; it only compares numbers.
//!
//! A job's log is numbered 1, 2, 3 … with no gap. A reader has sent
//! everything up to [`Cursor::sent`] and is offered consecutive records
//! `first..=last` (a batch). [`Cursor::step`] says what to do with it, so
//! every reader gets each seq exactly once, or is told it skipped some.

/// What to do with a batch `first..=last`, given what the reader has sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Already sent, all of it.
    Drop,
    /// Exactly the next records: send the batch as it is.
    Send,
    /// The reader fell behind a bounded ring: tell it where it resumes
    /// (`first`), then send the batch.
    Skip,
    /// A gap the reader did not cause by lagging, or a batch that is partly
    /// sent already: fill from the store up to the batch (or send only its
    /// records after [`Cursor::sent`]).
    Fill,
}

/// Where one reader is in one job's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    sent: u64,
    lagged: bool,
}

impl Cursor {
    /// A reader that has everything up to `after_seq` (0: nothing yet).
    pub fn new(after_seq: u64) -> Cursor {
        Cursor {
            sent: after_seq,
            lagged: false,
        }
    }

    /// The highest seq sent.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// The next seq this reader needs.
    pub fn next(&self) -> u64 {
        self.sent.saturating_add(1)
    }

    /// The ring this reader follows dropped entries for it since the last
    /// batch: the next gap is its own lag, not a hole to fill.
    pub fn lagged(&mut self) {
        self.lagged = true;
    }

    /// What to do with the batch `first..=last`.
    pub fn step(&self, first: u64, last: u64) -> Step {
        if last <= self.sent {
            Step::Drop
        } else if first == self.next() {
            Step::Send
        } else if first > self.next() && self.lagged {
            Step::Skip
        } else {
            Step::Fill
        }
    }

    /// Whether `seq` is after what was sent (the part of a batch to keep).
    pub fn wants(&self, seq: u64) -> bool {
        seq > self.sent
    }

    /// Everything up to `last` has been sent (or skipped on purpose); a lag
    /// is answered once.
    pub fn advance(&mut self, last: u64) {
        self.sent = self.sent.max(last);
        self.lagged = false;
    }

    /// Records up to `seq` were sent one by one (catching up from the store):
    /// move on without forgetting a pending lag.
    pub fn sent_up_to(&mut self, seq: u64) {
        self.sent = self.sent.max(seq);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor(sent: u64, lagged: bool) -> Cursor {
        let mut c = Cursor::new(sent);
        if lagged {
            c.lagged();
        }
        c
    }

    #[test]
    fn feed_batches_table() {
        // (batch, sent, lagged) -> step
        let cases = [
            ((5, 9), 9, false, Step::Drop),
            ((5, 9), 12, true, Step::Drop),
            ((5, 9), 4, false, Step::Send),
            ((5, 9), 4, true, Step::Send),
            ((5, 9), 2, true, Step::Skip),
            ((5, 9), 2, false, Step::Fill),
            ((5, 9), 6, false, Step::Fill),
            ((5, 9), 6, true, Step::Fill),
            ((1, 1), 0, false, Step::Send),
        ];
        for ((first, last), sent, lagged, want) in cases {
            assert_eq!(
                cursor(sent, lagged).step(first, last),
                want,
                "{first}..={last} sent {sent} lagged {lagged}"
            );
        }
    }

    #[test]
    fn advancing_answers_a_lag_once_and_never_goes_back() {
        let mut c = cursor(2, true);
        assert_eq!(c.step(5, 9), Step::Skip);
        c.advance(9);
        assert_eq!((c.sent(), c.next()), (9, 10));
        assert_eq!(c.step(12, 14), Step::Fill, "the lag was answered");
        c.advance(3);
        assert_eq!(c.sent(), 9);
        assert!(c.wants(10) && !c.wants(9));
    }

    #[test]
    fn catching_up_keeps_a_pending_lag() {
        let mut c = cursor(0, false);
        c.lagged();
        c.sent_up_to(4);
        assert_eq!(c.step(8, 9), Step::Skip);
    }
}
