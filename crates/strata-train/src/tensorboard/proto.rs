//! The subset of TensorBoard's protocol buffers that strata writes, declared by hand for
//! prost so that no `protoc` is needed at build time.
//!
//! Field numbers follow `tensorboard/compat/proto/{event,summary,histogram}.proto`;
//! fields strata never writes are left out (prost skips them when decoding).

/// `tensorboard.Event`: one record of an event file.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Event {
    /// Seconds since the Unix epoch.
    #[prost(double, tag = "1")]
    pub wall_time: f64,
    #[prost(int64, tag = "2")]
    pub step: i64,
    #[prost(oneof = "What", tags = "3, 5")]
    pub what: Option<What>,
}

/// `Event.what`: what an event carries.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum What {
    /// The first event of a file: `"brain.Event:2"`.
    #[prost(string, tag = "3")]
    FileVersion(String),
    #[prost(message, tag = "5")]
    Summary(Summary),
}

/// `tensorboard.Summary`: a set of tagged values.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Summary {
    #[prost(message, repeated, tag = "1")]
    pub value: Vec<SummaryValue>,
}

/// `Summary.Value`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SummaryValue {
    #[prost(string, tag = "1")]
    pub tag: String,
    #[prost(oneof = "Value", tags = "2, 4, 5")]
    pub value: Option<Value>,
}

/// `Summary.Value.value`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Value {
    /// A scalar (TensorBoard stores scalars as f32).
    #[prost(float, tag = "2")]
    SimpleValue(f32),
    #[prost(message, tag = "4")]
    Image(Image),
    #[prost(message, tag = "5")]
    Histo(HistogramProto),
}

/// `Summary.Image`: an encoded (PNG) image.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Image {
    #[prost(int32, tag = "1")]
    pub height: i32,
    #[prost(int32, tag = "2")]
    pub width: i32,
    /// 1 grayscale, 2 grayscale + alpha, 3 RGB, 4 RGBA.
    #[prost(int32, tag = "3")]
    pub colorspace: i32,
    #[prost(bytes = "vec", tag = "4")]
    pub encoded_image_string: Vec<u8>,
}

/// `tensorboard.HistogramProto`: bucket `i` counts values in
/// `(bucket_limit[i-1], bucket_limit[i]]` (the first from -DBL_MAX).
#[derive(Clone, PartialEq, prost::Message)]
pub struct HistogramProto {
    #[prost(double, tag = "1")]
    pub min: f64,
    #[prost(double, tag = "2")]
    pub max: f64,
    #[prost(double, tag = "3")]
    pub num: f64,
    #[prost(double, tag = "4")]
    pub sum: f64,
    #[prost(double, tag = "5")]
    pub sum_squares: f64,
    /// Packed, as proto3 packs repeated numbers by default (prost does too).
    #[prost(double, repeated, tag = "6")]
    pub bucket_limit: Vec<f64>,
    #[prost(double, repeated, tag = "7")]
    pub bucket: Vec<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn wire_bytes_match_the_proto_field_numbers() {
        let event = Event {
            wall_time: 0.0,
            step: 7,
            what: Some(What::FileVersion("x".into())),
        };
        // Field 2 varint (0x10) 7, field 3 length-delimited (0x1a) "x"; zero wall_time is
        // omitted under proto3.
        assert_eq!(event.encode_to_vec(), [0x10, 7, 0x1a, 1, b'x']);

        let histo = HistogramProto {
            bucket_limit: vec![1.0, 2.0],
            ..Default::default()
        };
        let bytes = histo.encode_to_vec();
        // One packed field 6 (0x32) of 16 bytes, not two 0x31 fixed64 entries.
        assert_eq!(&bytes[..2], &[0x32, 16]);
        assert_eq!(&bytes[2..10], &1.0f64.to_le_bytes());

        let value = SummaryValue {
            tag: "a".into(),
            value: Some(Value::SimpleValue(1.0)),
        };
        // Field 1 "a", field 2 fixed32 (0x15) 1.0f32.
        let mut expected = vec![0x0a, 1, b'a', 0x15];
        expected.extend_from_slice(&1.0f32.to_le_bytes());
        assert_eq!(value.encode_to_vec(), expected);
    }
}
