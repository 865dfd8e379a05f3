use super::*;
use serde_json::json;

fn append(v: serde_json::Value) -> Result<AppendRequest, String> {
    serde_json::from_value(v).map_err(|e| e.to_string())
}

#[test]
fn append_records_decode_text_binary_and_tombstones() {
    let req = append(json!({"records": [
        {"key": "k", "value": "v", "headers": [{"name": "h", "value": "x"}, {"name": "n"}],
         "timestamp": "2025-01-31T09:30:00.250Z", "partition": 2},
        {"key_base64": "AP8=", "value_base64": "AQI="},
        {"key": "gone"}
    ], "expected_offset": 7}))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(req.expected_offset, Some(7));
    let [first, binary, tombstone] = req.records.as_slice() else {
        panic!("{req:?}");
    };
    assert_eq!(first.decode_key(), Ok(Some(b"k".to_vec())));
    assert_eq!(first.decode_value(), Ok(Some(b"v".to_vec())));
    assert_eq!(first.timestamp, Some(Timestamp(1_738_315_800_250)));
    assert_eq!(first.partition, Some(2));
    let headers: Vec<_> = first
        .headers
        .iter()
        .map(AppendHeader::decode_value)
        .collect();
    assert_eq!(headers, vec![Ok(Some(b"x".to_vec())), Ok(None)]);
    assert_eq!(binary.decode_key(), Ok(Some(vec![0, 255])));
    assert_eq!(binary.decode_value(), Ok(Some(vec![1, 2])));
    assert_eq!(tombstone.decode_value(), Ok(None));
    assert_eq!(AppendRecord::default().decode_key(), Ok(None));
}

#[test]
fn append_refuses_unknown_fields_and_bad_data() {
    for (bad, needle) in [
        (
            json!({"records": [{"vaule": "x"}]}),
            "unknown field `vaule`",
        ),
        (json!({"records": [], "extra": 1}), "unknown field `extra`"),
        (
            json!({"records": [{"value": "x", "headers": [{"name": "h", "val": "x"}]}]}),
            "unknown field `val`",
        ),
        (json!({"records": [{"partition": -1}]}), "-1"),
        (
            json!({"records": [{"timestamp": "now"}]}),
            "invalid RFC 3339",
        ),
        (json!({}), "missing field `records`"),
    ] {
        let err = append(bad.clone()).err().unwrap_or_default();
        assert!(err.contains(needle), "{bad}: {err}");
    }
    let both = AppendRecord {
        key: Some("a".into()),
        key_base64: Some("YQ==".into()),
        ..AppendRecord::text("v")
    };
    assert_eq!(both.decode_key(), Err(DataError::Both { field: "key" }));
    assert_eq!(
        DataError::Both { field: "key" }.to_string(),
        "give either key or key_base64, not both"
    );
    let broken = AppendRecord {
        value_base64: Some("AP8".into()),
        ..AppendRecord::default()
    };
    let err = broken.decode_value().err().map(|e| e.to_string());
    assert!(
        err.as_deref()
            .is_some_and(|e| e.starts_with("value_base64 is not valid base64")),
        "{err:?}"
    );
    let header = AppendHeader {
        name: "h".into(),
        value: Some("a".into()),
        value_base64: Some("YQ==".into()),
    };
    let err = header.decode_value().err().map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some("give either headers[].value or headers[].value_base64, not both")
    );
}

#[test]
fn builders_write_the_expected_json() {
    let record = AppendRecord::text("hello")
        .with_key("k")
        .with_header(AppendHeader::text("h", "x"))
        .with_header(AppendHeader::binary("b", &[0, 255]))
        .with_partition(1);
    assert_eq!(
        serde_json::to_value(&record).unwrap_or_default(),
        json!({"key": "k", "value": "hello", "partition": 1,
               "headers": [{"name": "h", "value": "x"}, {"name": "b", "value_base64": "AP8="}]})
    );
    let binary = AppendRecord::binary(&[1, 2]).with_binary_key(&[0]);
    assert_eq!(
        serde_json::to_value(&binary).unwrap_or_default(),
        json!({"key_base64": "AA==", "value_base64": "AQI="})
    );
    assert_eq!(
        serde_json::to_value(AppendRecord::tombstone("k")).unwrap_or_default(),
        json!({"key": "k"})
    );
    assert_eq!(
        AppendRecord::text("v").with_binary_key(&[1]).with_key("t"),
        AppendRecord::text("v").with_key("t")
    );
}

#[test]
fn reads_encode_text_when_they_can_and_base64_when_asked() {
    let text = encode_data(Some(b"h\xc3\xa9".to_vec()), ReadEncoding::Auto);
    assert_eq!(text, (Some("hé".into()), None));
    let binary = encode_data(Some(vec![0xff]), ReadEncoding::Auto);
    assert_eq!(binary, (None, Some("/w==".into())));
    let forced = encode_data(Some(b"plain".to_vec()), ReadEncoding::Base64);
    assert_eq!(forced, (None, Some("cGxhaW4=".into())));
    assert_eq!(encode_data(None, ReadEncoding::Base64), (None, None));
    for bytes in [
        Some(vec![]),
        Some(vec![0, 1, 255]),
        Some(b"abc".to_vec()),
        None,
    ] {
        for encoding in [ReadEncoding::Auto, ReadEncoding::Base64] {
            let (t, b) = encode_data(bytes.clone(), encoding);
            assert_eq!(decode_data("value", t, b), Ok(bytes.clone()));
        }
    }
    let header = RecordHeader::encode("h".into(), Some(vec![0xfe]), ReadEncoding::Auto);
    assert_eq!(header.value_base64.as_deref(), Some("/g=="));
    assert_eq!(header.decode_value(), Ok(Some(vec![0xfe])));
    let nul = RecordHeader::encode("h".into(), Some(vec![0]), ReadEncoding::Auto);
    assert_eq!(nul.value.as_deref(), Some("\0"), "NUL is valid UTF-8");
}

#[test]
fn read_records_have_the_contract_shape() {
    let record = ReadRecord {
        offset: 5,
        key: Some("k".into()),
        headers: vec![RecordHeader {
            name: "h".into(),
            value: None,
            value_base64: None,
        }],
        timestamp: Timestamp(1_738_315_800_250),
        ..ReadRecord::default()
    };
    assert!(record.is_tombstone());
    let json = serde_json::to_value(&record).unwrap_or_default();
    assert_eq!(
        json,
        json!({"offset": 5, "key": "k", "headers": [{"name": "h"}],
               "timestamp": "2025-01-31T09:30:00.250Z"})
    );
    let reply = json!({"records": [json.clone()], "next_offset": 6, "start_offset": 0,
                       "end_offset": 9, "skipped_to": 5, "high_watermark": 9});
    let back: ReadResponse = serde_json::from_value(reply).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back.skipped_to, Some(5));
    assert_eq!(back.records.first(), Some(&record));
    assert_eq!(record.decode_value(), Ok(None));
}

#[test]
fn offset_specs_parse_and_travel_as_words_or_numbers() {
    assert_eq!("earliest".parse(), Ok(OffsetSpec::Earliest));
    assert_eq!("latest".parse(), Ok(OffsetSpec::Latest));
    assert_eq!("42".parse(), Ok(OffsetSpec::At(42)));
    for bad in ["", "-1", "first", "1.5", "Latest"] {
        assert!(bad.parse::<OffsetSpec>().is_err(), "{bad}");
    }
    for spec in [OffsetSpec::Earliest, OffsetSpec::Latest, OffsetSpec::At(7)] {
        assert_eq!(spec.to_string().parse(), Ok(spec));
        let json = serde_json::to_value(spec).unwrap_or_default();
        assert_eq!(serde_json::from_value::<OffsetSpec>(json).ok(), Some(spec));
    }
    assert_eq!(
        serde_json::to_value(OffsetSpec::At(7)).unwrap_or_default(),
        json!(7)
    );
    assert_eq!(
        serde_json::to_value(OffsetSpec::Latest).unwrap_or_default(),
        json!("latest")
    );
    assert_eq!(
        serde_json::from_value::<OffsetSpec>(json!("12")).ok(),
        Some(OffsetSpec::At(12))
    );
    assert!(serde_json::from_value::<OffsetSpec>(json!(-3)).is_err());
}

#[test]
fn read_query_fields_are_optional_and_closed() {
    let empty: Result<ReadQuery, _> = serde_json::from_value(json!({}));
    assert_eq!(empty.ok(), Some(ReadQuery::default()));
    let full: Result<ReadQuery, _> = serde_json::from_value(
        json!({"offset": "latest", "max_records": 10, "wait_ms": 5, "encoding": "base64"}),
    );
    assert_eq!(
        full.ok(),
        Some(ReadQuery {
            offset: Some(OffsetSpec::Latest),
            max_records: Some(10),
            max_bytes: None,
            wait_ms: Some(5),
            encoding: Some(ReadEncoding::Base64),
        })
    );
    let unknown: Result<ReadQuery, _> = serde_json::from_value(json!({"limit": 1}));
    assert!(unknown.is_err());
}

#[test]
fn offsets_for_time_may_be_null() {
    let none: OffsetForTime = serde_json::from_value(json!({"partition": 0, "offset": null}))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(none.offset, None);
    assert_eq!(
        serde_json::to_value(none).unwrap_or_default(),
        json!({"partition": 0, "offset": null})
    );
}
