//! What every step shares during one command: the interruption flag, progress display and the
//! limits on concurrent work.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::output::Progress;
use crate::shared::calls::CallCounter;

#[derive(Clone)]
pub struct Session {
    interrupted: Arc<AtomicBool>,
    pub progress: Progress,
    /// How many remote calls a step may have in flight at once.
    pub concurrency: usize,
    /// Every remote call made in this command, by service.
    pub calls: Arc<CallCounter>,
    /// Whether a person is at a terminal to confirm manual steps as they come.
    pub interactive: bool,
}

impl Session {
    pub fn new(progress: Progress, concurrency: usize) -> Self {
        Session {
            interrupted: Arc::new(AtomicBool::new(false)),
            progress,
            concurrency: concurrency.max(1),
            calls: Arc::default(),
            interactive: false,
        }
    }

    /// Set by Ctrl-C: steps finish the call in flight and start no new one.
    pub fn interrupt(&self) {
        self.interrupted.store(true, Ordering::SeqCst);
    }

    pub fn is_interrupted(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
    }
}
