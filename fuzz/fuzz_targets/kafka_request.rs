//! Any bytes as a Kafka request frame: the decoder must refuse or accept them without
//! panicking, and without allocating more than the frame justifies (run with
//! `-rss_limit_mb=512` to catch an allocation sized from an untrusted count).
#![no_main]

libfuzzer_sys::fuzz_target!(|frame: &[u8]| {
    let _ = ferry_kafka::parse_request(frame);
});
