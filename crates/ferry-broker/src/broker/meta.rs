//! Queue metadata kept in the catalog beside the config: tags, and the settings of protocol
//! front ends that Ferry stores for them without interpreting them.

use super::{Broker, invalid};
use crate::catalog::QueueRecord;
use crate::error::{Error, Result};
use ferry_core::queue::QueueConfig;
use std::collections::BTreeMap;

/// Most tags a queue may carry (as in SQS).
pub const MAX_TAGS: usize = 50;
/// Longest tag key, in characters.
pub(crate) const MAX_TAG_KEY_CHARS: usize = 128;
/// Longest tag value, in characters.
pub(crate) const MAX_TAG_VALUE_CHARS: usize = 256;
/// Most front-end attributes a queue may carry.
pub(crate) const MAX_QUEUE_ATTRIBUTES: usize = 64;
/// Longest front-end attribute value, in bytes (an SQS policy document fits).
pub(crate) const MAX_QUEUE_ATTRIBUTE_BYTES: usize = 20 * 1024;

fn check_tag(key: &str, value: &str) -> Result<()> {
    let key_chars = key.chars().count();
    if key_chars == 0 || key_chars > MAX_TAG_KEY_CHARS {
        return Err(invalid(format!(
            "tag key {key:?} must be 1 to {MAX_TAG_KEY_CHARS} characters"
        )));
    }
    if value.chars().count() > MAX_TAG_VALUE_CHARS {
        return Err(invalid(format!(
            "tag {key:?}: the value is longer than {MAX_TAG_VALUE_CHARS} characters"
        )));
    }
    Ok(())
}

impl Broker {
    pub(super) fn record(&self, name: &str) -> Result<QueueRecord> {
        self.check_open()?;
        self.inner
            .catalog
            .get(name)?
            .ok_or_else(|| Error::queue_not_found(name))
    }

    /// Changes a queue's catalog record under the admin lock (so it cannot race with
    /// `put_queue` or `delete_queue`).
    async fn update_record(
        &self,
        name: &str,
        change: impl FnOnce(&mut QueueRecord) -> Result<()>,
    ) -> Result<()> {
        let _admin = self.inner.admin.lock().await;
        let mut record = self.record(name)?;
        change(&mut record)?;
        self.inner.catalog.put(name, &record)
    }

    /// A queue's config as the catalog holds it (one key read, cheap enough per request).
    ///
    /// # Errors
    /// `queue_not_found`.
    pub async fn queue_config(&self, name: &str) -> Result<QueueConfig> {
        Ok(self.record(name)?.config)
    }

    /// A queue's tags.
    ///
    /// # Errors
    /// `queue_not_found`.
    pub async fn queue_tags(&self, name: &str) -> Result<BTreeMap<String, String>> {
        Ok(self.record(name)?.tags)
    }

    /// Adds or replaces tags; the others stay.
    ///
    /// # Errors
    /// `queue_not_found`; `invalid_request` as [`Broker::check_tags`] (then nothing changes).
    pub async fn tag_queue(&self, name: &str, tags: BTreeMap<String, String>) -> Result<()> {
        self.update_record(name, |record| {
            Broker::check_tags(&record.tags, &tags)?;
            record.tags.extend(tags);
            Ok(())
        })
        .await
    }

    /// Checks tags to add to a queue that has `current`, as [`Broker::tag_queue`] does, and
    /// changes nothing: for a front end that must refuse bad input before it creates a queue.
    ///
    /// # Errors
    /// `invalid_request` for an empty or over-long key or value, or more than [`MAX_TAGS`]
    /// tags in all.
    pub fn check_tags(
        current: &BTreeMap<String, String>,
        tags: &BTreeMap<String, String>,
    ) -> Result<()> {
        for (key, value) in tags {
            check_tag(key, value)?;
        }
        let added = tags.keys().filter(|k| !current.contains_key(*k)).count();
        if current.len() + added > MAX_TAGS {
            return Err(invalid(format!("a queue may have at most {MAX_TAGS} tags")));
        }
        Ok(())
    }

    /// Removes tags by key; keys that are not there are ignored.
    ///
    /// # Errors
    /// `queue_not_found`.
    pub async fn untag_queue(&self, name: &str, keys: &[String]) -> Result<()> {
        self.update_record(name, |record| {
            for key in keys {
                record.tags.remove(key);
            }
            Ok(())
        })
        .await
    }

    /// A queue's front-end attributes (settings a protocol adapter stored with it).
    ///
    /// # Errors
    /// `queue_not_found`.
    pub async fn queue_attributes(&self, name: &str) -> Result<BTreeMap<String, String>> {
        Ok(self.record(name)?.attributes)
    }

    /// Sets front-end attributes; an empty value removes the attribute, the others stay.
    ///
    /// # Errors
    /// `queue_not_found`; `invalid_request` as [`Broker::check_queue_attributes`] (then
    /// nothing changes).
    pub async fn set_queue_attributes(
        &self,
        name: &str,
        attributes: BTreeMap<String, String>,
    ) -> Result<()> {
        self.update_record(name, |record| {
            Broker::check_queue_attributes(&record.attributes, &attributes)?;
            for (key, value) in attributes {
                if value.is_empty() {
                    record.attributes.remove(&key);
                } else {
                    record.attributes.insert(key, value);
                }
            }
            Ok(())
        })
        .await
    }

    /// Checks front-end attribute changes to a queue that has `current`, as
    /// [`Broker::set_queue_attributes`] does, and changes nothing.
    ///
    /// # Errors
    /// `invalid_request` for an attribute without a name or over
    /// `MAX_QUEUE_ATTRIBUTE_BYTES`, or more than `MAX_QUEUE_ATTRIBUTES` in all.
    pub fn check_queue_attributes(
        current: &BTreeMap<String, String>,
        changes: &BTreeMap<String, String>,
    ) -> Result<()> {
        if let Some((key, _)) = changes
            .iter()
            .find(|(k, v)| k.is_empty() || v.len() > MAX_QUEUE_ATTRIBUTE_BYTES)
        {
            return Err(invalid(format!(
                "queue attribute {key:?} needs a name and at most {MAX_QUEUE_ATTRIBUTE_BYTES} bytes"
            )));
        }
        let kept = current
            .keys()
            .filter(|k| changes.get(*k).is_none_or(|v| !v.is_empty()))
            .count();
        let added = changes
            .iter()
            .filter(|(k, v)| !v.is_empty() && !current.contains_key(*k))
            .count();
        if kept + added > MAX_QUEUE_ATTRIBUTES {
            return Err(invalid(format!(
                "a queue may have at most {MAX_QUEUE_ATTRIBUTES} attributes"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BrokerConfig, ErrorKind};

    async fn broker(dir: &std::path::Path) -> Broker {
        Broker::open(BrokerConfig {
            data_dir: dir.to_path_buf(),
            ..BrokerConfig::default()
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[tokio::test]
    async fn tags_merge_remove_survive_restart_and_config_updates() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| invalid(e.to_string()))?;
        let b = broker(dir.path()).await;
        b.put_queue("q", QueueConfig::default()).await?;
        b.tag_queue("q", map(&[("a", "1"), ("b", "2")])).await?;
        b.tag_queue("q", map(&[("b", "3")])).await?;
        b.untag_queue("q", &["a".into(), "zz".into()]).await?;
        b.put_queue(
            "q",
            QueueConfig {
                delay_ms: 5,
                ..QueueConfig::default()
            },
        )
        .await?;
        assert_eq!(b.queue_tags("q").await?, map(&[("b", "3")]));
        assert_eq!(b.queue_config("q").await?.delay_ms, 5);
        b.shutdown().await;
        drop(b);
        let b = broker(dir.path()).await;
        assert_eq!(b.queue_tags("q").await?, map(&[("b", "3")]));
        b.shutdown().await;
        Ok(())
    }

    #[tokio::test]
    async fn bad_tags_and_unknown_queues_are_refused() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| invalid(e.to_string()))?;
        let b = broker(dir.path()).await;
        b.put_queue("q", QueueConfig::default()).await?;
        let kind = |r: Result<()>| r.err().map(|e| e.kind);
        assert_eq!(
            kind(b.tag_queue("nope", map(&[("a", "1")])).await),
            Some(ErrorKind::QueueNotFound)
        );
        assert_eq!(
            kind(b.tag_queue("q", map(&[("", "1")])).await),
            Some(ErrorKind::InvalidRequest)
        );
        let many: BTreeMap<String, String> = (0..=MAX_TAGS)
            .map(|i| (format!("k{i}"), String::new()))
            .collect();
        assert_eq!(
            kind(b.tag_queue("q", many).await),
            Some(ErrorKind::InvalidRequest)
        );
        assert!(b.queue_tags("q").await?.is_empty());
        b.shutdown().await;
        Ok(())
    }

    #[tokio::test]
    async fn attributes_set_replace_and_clear() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| invalid(e.to_string()))?;
        let b = broker(dir.path()).await;
        b.put_queue("q", QueueConfig::default()).await?;
        b.set_queue_attributes("q", map(&[("x", "1"), ("y", "2")]))
            .await?;
        b.set_queue_attributes("q", map(&[("x", ""), ("y", "3")]))
            .await?;
        assert_eq!(b.queue_attributes("q").await?, map(&[("y", "3")]));
        b.delete_queue("q").await?;
        b.put_queue("q", QueueConfig::default()).await?;
        assert!(b.queue_attributes("q").await?.is_empty());
        b.shutdown().await;
        Ok(())
    }
}
