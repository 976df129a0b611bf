//! Counts remote calls per service, so `--json` can say what a run cost.

use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct CallCounter {
    counts: Mutex<BTreeMap<&'static str, u64>>,
}

impl CallCounter {
    pub fn record(&self, service: &'static str) {
        if let Ok(mut counts) = self.counts.lock() {
            *counts.entry(service).or_default() += 1;
        }
    }

    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.counts.lock().map(|c| c.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()).unwrap_or_default()
    }

    pub fn total(&self) -> u64 {
        self.counts.lock().map(|c| c.values().sum()).unwrap_or(0)
    }
}
