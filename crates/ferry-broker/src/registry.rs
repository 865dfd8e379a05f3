//! The live queues by name. A plain lock, never held across an `.await`.

use crate::live_queue::QueueHandle;
use std::collections::HashMap;
use std::sync::RwLock;

/// Which queues are live, by name.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    queues: RwLock<HashMap<String, QueueHandle>>,
}

impl Registry {
    /// The queue `name`, if it is live.
    pub(crate) fn get(&self, name: &str) -> Option<QueueHandle> {
        self.queues.read().ok()?.get(name).cloned()
    }

    /// Makes `handle` the live queue `name`.
    pub(crate) fn insert(&self, name: &str, handle: QueueHandle) {
        if let Ok(mut queues) = self.queues.write() {
            queues.insert(name.to_owned(), handle);
        }
    }

    /// Takes the queue `name` out.
    pub(crate) fn remove(&self, name: &str) -> Option<QueueHandle> {
        self.queues.write().ok()?.remove(name)
    }

    /// Every live queue.
    pub(crate) fn all(&self) -> Vec<(String, QueueHandle)> {
        self.queues
            .read()
            .map(|q| q.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }
}
