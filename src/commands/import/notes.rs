//! The hints `import` gives while it reads: said on stderr as every command says them, and kept,
//! so that `import --json` (whose printer says no hint on stderr) puts them in its document.

use std::sync::{Mutex, PoisonError};

use crate::printer::Printer;

pub struct Notes<'a> {
    printer: &'a Printer,
    hints: Mutex<Vec<String>>,
}

impl<'a> Notes<'a> {
    pub fn new(printer: &'a Printer) -> Self {
        Notes { printer, hints: Mutex::new(Vec::new()) }
    }

    pub fn hint(&self, text: &str) {
        self.printer.hint(text);
        self.hints.lock().unwrap_or_else(PoisonError::into_inner).push(text.to_owned());
    }

    pub fn verbose(&self) -> bool {
        self.printer.verbose()
    }

    /// The hints given so far, in order.
    pub fn hints(&self) -> Vec<String> {
        self.hints.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}
