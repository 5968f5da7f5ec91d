//! The subset of TensorBoard's protocol buffers that strata writes, with their wire format
//! written out by hand (`wire.rs`): five small messages do not need a protobuf library and
//! its derive macros in the build.
//!
//! Field numbers follow `tensorboard/compat/proto/{event,summary,histogram}.proto`. Encoding
//! is proto3's: fields at their default value are left out, repeated numbers are packed.
//! Decoding skips fields strata never writes, so files from other writers read too.

use super::wire::{DecodeError, Fields, Writer};

/// `tensorboard.Event`: one record of an event file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Event {
    /// Seconds since the Unix epoch.
    pub wall_time: f64,
    pub step: i64,
    pub what: Option<What>,
}

/// `Event.what`: what an event carries.
#[derive(Clone, Debug, PartialEq)]
pub enum What {
    /// The first event of a file: `"brain.Event:2"`.
    FileVersion(String),
    Summary(Summary),
}

/// `tensorboard.Summary`: a set of tagged values.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    pub value: Vec<SummaryValue>,
}

/// `Summary.Value`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SummaryValue {
    pub tag: String,
    pub value: Option<Value>,
}

/// `Summary.Value.value`.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A scalar (TensorBoard stores scalars as f32).
    SimpleValue(f32),
    Image(Image),
    Histo(HistogramProto),
}

/// `Summary.Image`: an encoded (PNG) image.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Image {
    pub height: i32,
    pub width: i32,
    /// 1 grayscale, 2 grayscale + alpha, 3 RGB, 4 RGBA.
    pub colorspace: i32,
    pub encoded_image_string: Vec<u8>,
}

/// `tensorboard.HistogramProto`: bucket `i` counts values in
/// `(bucket_limit[i-1], bucket_limit[i]]` (the first from -DBL_MAX).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HistogramProto {
    pub min: f64,
    pub max: f64,
    pub num: f64,
    pub sum: f64,
    pub sum_squares: f64,
    /// Packed, as proto3 packs repeated numbers by default.
    pub bucket_limit: Vec<f64>,
    pub bucket: Vec<f64>,
}

impl Event {
    /// The event's protobuf bytes.
    ///
    /// ```
    /// use strata_train::tensorboard::proto::{Event, What};
    /// let event = Event { wall_time: 0.0, step: 7, what: Some(What::FileVersion("x".into())) };
    /// let bytes = event.encode_to_vec();
    /// // Field 2 varint 7, field 3 "x"; a zero wall_time is left out.
    /// assert_eq!(bytes, [0x10, 7, 0x1a, 1, b'x']);
    /// assert_eq!(Event::decode(&bytes)?, event);
    /// # Ok::<(), strata_train::tensorboard::DecodeError>(())
    /// ```
    pub fn encode_to_vec(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.double(1, self.wall_time);
        w.int64(2, self.step);
        match &self.what {
            Some(What::FileVersion(v)) => w.bytes_always(3, v.as_bytes()),
            Some(What::Summary(s)) => w.message_always(5, &s.encode_to_vec()),
            None => {}
        }
        w.into_bytes()
    }

    /// Reads an event from its protobuf bytes.
    pub fn decode(bytes: &[u8]) -> Result<Event, DecodeError> {
        let mut event = Event::default();
        for field in Fields::new(bytes) {
            match field? {
                (1, v) => event.wall_time = v.double()?,
                (2, v) => event.step = v.varint()? as i64,
                (3, v) => event.what = Some(What::FileVersion(v.string()?)),
                (5, v) => event.what = Some(What::Summary(Summary::decode(v.bytes()?)?)),
                _ => {}
            }
        }
        Ok(event)
    }
}

impl Summary {
    /// The summary's protobuf bytes.
    pub fn encode_to_vec(&self) -> Vec<u8> {
        let mut w = Writer::default();
        for value in &self.value {
            w.message_always(1, &value.encode_to_vec());
        }
        w.into_bytes()
    }

    /// Reads a summary from its protobuf bytes.
    pub fn decode(bytes: &[u8]) -> Result<Summary, DecodeError> {
        let mut summary = Summary::default();
        for field in Fields::new(bytes) {
            if let (1, v) = field? {
                summary.value.push(SummaryValue::decode(v.bytes()?)?);
            }
        }
        Ok(summary)
    }
}

impl SummaryValue {
    /// The value's protobuf bytes.
    pub fn encode_to_vec(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.bytes(1, self.tag.as_bytes());
        match &self.value {
            Some(Value::SimpleValue(v)) => w.float_always(2, *v),
            Some(Value::Image(i)) => w.message_always(4, &i.encode_to_vec()),
            Some(Value::Histo(h)) => w.message_always(5, &h.encode_to_vec()),
            None => {}
        }
        w.into_bytes()
    }

    /// Reads a value from its protobuf bytes.
    pub fn decode(bytes: &[u8]) -> Result<SummaryValue, DecodeError> {
        let mut out = SummaryValue::default();
        for field in Fields::new(bytes) {
            match field? {
                (1, v) => out.tag = v.string()?,
                (2, v) => out.value = Some(Value::SimpleValue(v.float()?)),
                (4, v) => out.value = Some(Value::Image(Image::decode(v.bytes()?)?)),
                (5, v) => out.value = Some(Value::Histo(HistogramProto::decode(v.bytes()?)?)),
                _ => {}
            }
        }
        Ok(out)
    }
}

impl Image {
    /// The image's protobuf bytes.
    pub fn encode_to_vec(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.int64(1, self.height.into());
        w.int64(2, self.width.into());
        w.int64(3, self.colorspace.into());
        w.bytes(4, &self.encoded_image_string);
        w.into_bytes()
    }

    /// Reads an image from its protobuf bytes.
    pub fn decode(bytes: &[u8]) -> Result<Image, DecodeError> {
        let mut out = Image::default();
        for field in Fields::new(bytes) {
            match field? {
                // int32 travels as a sign-extended varint: its low 32 bits are the value.
                (1, v) => out.height = v.varint()? as i32,
                (2, v) => out.width = v.varint()? as i32,
                (3, v) => out.colorspace = v.varint()? as i32,
                (4, v) => out.encoded_image_string = v.bytes()?.to_vec(),
                _ => {}
            }
        }
        Ok(out)
    }
}

impl HistogramProto {
    /// The histogram's protobuf bytes.
    pub fn encode_to_vec(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.double(1, self.min);
        w.double(2, self.max);
        w.double(3, self.num);
        w.double(4, self.sum);
        w.double(5, self.sum_squares);
        w.packed_doubles(6, &self.bucket_limit);
        w.packed_doubles(7, &self.bucket);
        w.into_bytes()
    }

    /// Reads a histogram from its protobuf bytes.
    pub fn decode(bytes: &[u8]) -> Result<HistogramProto, DecodeError> {
        let mut out = HistogramProto::default();
        for field in Fields::new(bytes) {
            match field? {
                (1, v) => out.min = v.double()?,
                (2, v) => out.max = v.double()?,
                (3, v) => out.num = v.double()?,
                (4, v) => out.sum = v.double()?,
                (5, v) => out.sum_squares = v.double()?,
                (6, v) => v.doubles(&mut out.bucket_limit)?,
                (7, v) => v.doubles(&mut out.bucket)?,
                _ => {}
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn decoding_skips_unknown_fields_and_reads_back_every_message() {
        let event = Event {
            wall_time: 1.5,
            step: -3,
            what: Some(What::Summary(Summary {
                value: vec![
                    SummaryValue {
                        tag: "loss".into(),
                        value: Some(Value::SimpleValue(0.25)),
                    },
                    SummaryValue {
                        tag: "w".into(),
                        value: Some(Value::Histo(HistogramProto {
                            min: -1.0,
                            max: 2.0,
                            num: 3.0,
                            sum: 1.0,
                            sum_squares: 6.0,
                            bucket_limit: vec![0.0, 2.0],
                            bucket: vec![1.0, 2.0],
                        })),
                    },
                    SummaryValue {
                        tag: "img".into(),
                        value: Some(Value::Image(Image {
                            height: 2,
                            width: 3,
                            colorspace: 3,
                            encoded_image_string: vec![1, 2, 3],
                        })),
                    },
                ],
            })),
        };
        let mut bytes = event.encode_to_vec();
        assert_eq!(Event::decode(&bytes).unwrap(), event);
        // Fields of newer writers (a varint 9, a string 10) are skipped.
        bytes.extend([0x48, 5, 0x52, 2, b'h', b'i']);
        assert_eq!(Event::decode(&bytes).unwrap(), event);
        // A cut message is an error, not a shorter event.
        assert!(Event::decode(&bytes[..bytes.len() - 8]).is_err());
    }
}
