//! JSON plumbing shared by the log parsers: line preparation, a borrowed "any scalar" field
//! type whose conversions name the field and value on failure, nested-object wrappers that
//! report a wrong shape instead of failing the whole record, and a framer that cuts a JSON
//! array spanning many lines into its elements.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::format::{Record, RejectReason, Rejection};
use crate::net::{parse_ip, parse_port, port_from_integer};
use crate::time::parse_timestamp;

/// Why a record cannot become an event; turned into a [`Rejection`] once the offset is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    pub(crate) reason: RejectReason,
    pub(crate) detail: String,
}

impl FieldError {
    pub(crate) fn new(reason: RejectReason, detail: impl Into<String>) -> FieldError {
        FieldError {
            reason,
            detail: detail.into(),
        }
    }

    pub(crate) fn missing(field: &str) -> FieldError {
        FieldError::new(
            RejectReason::MissingField,
            format!("required field `{field}` is missing"),
        )
    }

    pub(crate) fn wrong_type(field: &str, found: &str, expected: &str) -> FieldError {
        FieldError::new(
            RejectReason::WrongFieldType,
            format!("`{field}` is {found}, expected {expected}"),
        )
    }

    pub(crate) fn into_record(self, offset: u64) -> Record {
        Record::Rejected(Rejection {
            reason: self.reason,
            offset,
            detail: self.detail,
        })
    }
}

/// Longest excerpt of an offending line quoted in a rejection detail, in characters.
const EXCERPT_CHARS: usize = 80;

/// The start of `text`, cut on a character boundary, for rejection details.
pub(crate) fn excerpt(text: &str) -> Cow<'_, str> {
    match text.char_indices().nth(EXCERPT_CHARS) {
        None => Cow::Borrowed(text),
        Some((cut, _)) => Cow::Owned(format!("{}...", &text[..cut])),
    }
}

/// A line ready to be parsed, or why it cannot be.
pub(crate) enum Line<'a> {
    /// Only whitespace: ignored, not counted.
    Blank,
    /// Trimmed UTF-8 text.
    Text(&'a str),
    /// NUL bytes or invalid UTF-8.
    Bad(FieldError),
}

/// The UTF-8 byte-order mark some tools write before the first line.
pub(crate) const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// `line` without a leading byte-order mark, and the offset where what remains starts.
pub(crate) fn strip_bom(line: &[u8], offset: u64) -> (&[u8], u64) {
    match line.strip_prefix(UTF8_BOM) {
        Some(rest) => (rest, offset + UTF8_BOM.len() as u64),
        None => (line, offset),
    }
}

/// Trims surrounding whitespace (a trailing `\r` included) and a leading byte-order mark,
/// then checks the bytes are text.
pub(crate) fn prepare_line(line: &[u8]) -> Line<'_> {
    let line = line.strip_prefix(UTF8_BOM).unwrap_or(line);
    let trimmed = line.trim_ascii();
    if trimmed.is_empty() {
        return Line::Blank;
    }
    if let Some(at) = memchr::memchr(0, trimmed) {
        return Line::Bad(FieldError::new(
            RejectReason::BinaryData,
            format!(
                "NUL byte at column {} of a {}-byte line",
                at + 1,
                trimmed.len()
            ),
        ));
    }
    match std::str::from_utf8(trimmed) {
        Ok(text) => Line::Text(text),
        Err(e) => {
            let at = e.valid_up_to();
            let bad = trimmed.get(at).copied().unwrap_or_default();
            Line::Bad(FieldError::new(
                RejectReason::NotUtf8,
                format!("byte 0x{bad:02x} at column {} is not UTF-8", at + 1),
            ))
        }
    }
}

/// Parses one JSON object into `T`, classifying failures: not an object, malformed, cut off
/// (an unterminated last line that does not parse), or valid JSON of the wrong shape.
pub(crate) fn parse_object<'a, T: Deserialize<'a>>(
    text: &'a str,
    terminated: bool,
) -> Result<T, FieldError> {
    if !text.starts_with('{') {
        return Err(match serde_json::from_str::<IgnoredAny>(text) {
            Ok(_) => FieldError::new(
                RejectReason::NotAnObject,
                format!(
                    "{} is valid JSON but not an object: {}",
                    json_kind_of_text(text),
                    excerpt(text)
                ),
            ),
            Err(e) => syntax_error(&e, text, terminated),
        });
    }
    serde_json::from_str::<T>(text).map_err(|e| match e.classify() {
        serde_json::error::Category::Data if !e.to_string().starts_with("duplicate field") => {
            FieldError::new(
                RejectReason::WrongFieldType,
                format!("{e}: {}", excerpt(text)),
            )
        }
        _ => syntax_error(&e, text, terminated),
    })
}

fn syntax_error(e: &serde_json::Error, text: &str, terminated: bool) -> FieldError {
    if terminated {
        FieldError::new(
            RejectReason::MalformedJson,
            format!("malformed JSON ({e}): {}", excerpt(text)),
        )
    } else {
        FieldError::new(
            RejectReason::TruncatedRecord,
            format!(
                "last line has no newline and is not complete JSON ({e}): {}",
                excerpt(text)
            ),
        )
    }
}

fn json_kind_of_text(text: &str) -> &'static str {
    match text.as_bytes().first() {
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

/// Any JSON value, keeping strings borrowed from the line when they hold no escapes and
/// skipping over arrays and objects without building them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json<'a> {
    Str(Cow<'a, str>),
    Int(i64),
    UInt(u64),
    Float(f64),
    Bool(bool),
    Null,
    Array,
    Object,
}

impl fmt::Display for Json<'_> {
    /// How the value is named in a rejection detail: `the string "abc"`, `the number 5`...
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Json::Str(s) => write!(f, "the string {:?}", excerpt(s)),
            Json::Int(n) => write!(f, "the number {n}"),
            Json::UInt(n) => write!(f, "the number {n}"),
            Json::Float(n) => write!(f, "the number {n}"),
            Json::Bool(b) => write!(f, "the boolean {b}"),
            Json::Null => f.write_str("null"),
            Json::Array => f.write_str("an array"),
            Json::Object => f.write_str("an object"),
        }
    }
}

impl<'a> Json<'a> {
    /// The value as a string.
    pub(crate) fn str(&self, field: &str) -> Result<&str, FieldError> {
        match self {
            Json::Str(s) => Ok(s),
            other => Err(FieldError::wrong_type(
                field,
                &other.to_string(),
                "a string",
            )),
        }
    }

    /// A non-empty string, or `None` for `""`.
    pub(crate) fn text(&self, field: &str) -> Result<Option<&str>, FieldError> {
        self.str(field).map(|s| (!s.is_empty()).then_some(s))
    }

    /// An IP address written as a string; `""` means not known.
    pub(crate) fn ip(&self, field: &str) -> Result<Option<IpAddr>, FieldError> {
        match self.str(field)? {
            "" => Ok(None),
            s => parse_ip(s)
                .map(Some)
                .map_err(|e| FieldError::new(RejectReason::InvalidIp, format!("`{field}`: {e}"))),
        }
    }

    /// A port given as a number or a numeric string; `""` means not known.
    pub(crate) fn port(&self, field: &str) -> Result<Option<u16>, FieldError> {
        let checked = match self {
            Json::UInt(n) => port_from_integer(i128::from(*n)),
            Json::Int(n) => port_from_integer(i128::from(*n)),
            Json::Float(x) if x.fract() == 0.0 && x.is_finite() => port_from_integer(*x as i128),
            Json::Float(x) => {
                return Err(FieldError::new(
                    RejectReason::InvalidPort,
                    format!("`{field}` {x} is not a whole port number"),
                ));
            }
            Json::Str(s) if s.is_empty() => return Ok(None),
            Json::Str(s) => parse_port(s),
            other => return Err(FieldError::wrong_type(field, &other.to_string(), "a port")),
        };
        checked
            .map(Some)
            .map_err(|e| FieldError::new(e.reject_reason(), format!("`{field}`: {e}")))
    }

    /// A timestamp string.
    pub(crate) fn time(
        &self,
        field: &str,
        zone: chrono_tz::Tz,
    ) -> Result<DateTime<Utc>, FieldError> {
        let text = self.str(field)?;
        parse_timestamp(text, zone)
            .map_err(|e| FieldError::new(e.reject_reason(), format!("`{field}`: {e}")))
    }

    /// A duration in seconds given as a number or a numeric string (Cowrie writes both).
    pub(crate) fn seconds(&self, field: &str) -> Result<f64, FieldError> {
        let value = match self {
            Json::UInt(n) => *n as f64,
            Json::Int(n) => *n as f64,
            Json::Float(x) => *x,
            Json::Str(s) => s.trim().parse::<f64>().map_err(|_| {
                FieldError::new(
                    RejectReason::InvalidNumber,
                    format!("`{field}` {:?} is not a number of seconds", excerpt(s)),
                )
            })?,
            other => {
                return Err(FieldError::wrong_type(
                    field,
                    &other.to_string(),
                    "a number of seconds",
                ));
            }
        };
        if value.is_finite() && value >= 0.0 {
            Ok(value)
        } else {
            Err(FieldError::new(
                RejectReason::InvalidNumber,
                format!("`{field}` {value} is not a duration (negative or not finite)"),
            ))
        }
    }

    /// A non-negative integer counter (packets, bytes), as a number or a numeric string.
    pub(crate) fn count(&self, field: &str) -> Result<u64, FieldError> {
        let invalid = |shown: &dyn fmt::Display| {
            FieldError::new(
                RejectReason::InvalidNumber,
                format!("`{field}` {shown} is not a non-negative whole number"),
            )
        };
        match self {
            Json::UInt(n) => Ok(*n),
            Json::Int(n) => u64::try_from(*n).map_err(|_| invalid(n)),
            Json::Float(x) if x.fract() == 0.0 && *x >= 0.0 && *x < u64::MAX as f64 => {
                Ok(*x as u64)
            }
            Json::Float(x) => Err(invalid(x)),
            Json::Str(s) => s
                .trim()
                .parse::<u64>()
                .map_err(|_| invalid(&format!("{s:?}"))),
            other => Err(FieldError::wrong_type(
                field,
                &other.to_string(),
                "a number",
            )),
        }
    }

    /// An identifier given as a string or an integer (Suricata's `flow_id`).
    pub(crate) fn id(&self, field: &str) -> Result<Option<Box<str>>, FieldError> {
        match self {
            Json::Str(s) if s.is_empty() => Ok(None),
            Json::Str(s) => Ok(Some(Box::from(&**s))),
            Json::UInt(n) => Ok(Some(n.to_string().into_boxed_str())),
            Json::Int(n) => Ok(Some(n.to_string().into_boxed_str())),
            other => Err(FieldError::wrong_type(
                field,
                &other.to_string(),
                "a string or an integer",
            )),
        }
    }

    /// A small integer such as an alert severity.
    pub(crate) fn small_uint(&self, field: &str) -> Result<u8, FieldError> {
        let n = self.count(field)?;
        u8::try_from(n).map_err(|_| {
            FieldError::new(
                RejectReason::InvalidNumber,
                format!("`{field}` {n} is above 255"),
            )
        })
    }
}

/// A field every record of the format has.
pub(crate) fn required<'v, 'a>(
    value: &'v Option<Json<'a>>,
    field: &str,
) -> Result<&'v Json<'a>, FieldError> {
    value.as_ref().ok_or_else(|| FieldError::missing(field))
}

/// An optional string field; absent and `""` alike give `None`.
pub(crate) fn text_of<'v>(
    value: &'v Option<Json<'_>>,
    field: &str,
) -> Result<Option<&'v str>, FieldError> {
    match value {
        Some(v) => v.text(field),
        None => Ok(None),
    }
}

/// Boxes a borrowed or owned string for an event field.
pub(crate) fn boxed(text: &str) -> Box<str> {
    Box::from(text)
}

struct JsonVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for JsonVisitor<'a> {
    type Value = Json<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Json<'a>, E> {
        Ok(Json::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Json<'a>, E> {
        Ok(Json::Str(Cow::Owned(v.to_string())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Json<'a>, E> {
        Ok(Json::Str(Cow::Owned(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Json<'a>, E> {
        Ok(Json::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Json<'a>, E> {
        Ok(Json::UInt(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Json<'a>, E> {
        Ok(Json::Float(v))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Json<'a>, E> {
        Ok(Json::Bool(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Json<'a>, E> {
        Ok(Json::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Json<'a>, E> {
        Ok(Json::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'a>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Json::Array)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'a>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Json::Object)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Json<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Json<'a>, D::Error> {
        deserializer.deserialize_any(JsonVisitor(PhantomData))
    }
}

/// A nested object read into `T`, or the kind of value found where an object was expected
/// (so the record can be rejected with the field's name rather than a bare serde message).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Nested<T> {
    Object(T),
    Wrong(&'static str),
}

impl<T> Nested<T> {
    /// The object, or a wrong-type error naming `field`.
    pub(crate) fn get(&self, field: &str) -> Result<&T, FieldError> {
        match self {
            Nested::Object(value) => Ok(value),
            Nested::Wrong(found) => Err(FieldError::wrong_type(field, found, "an object")),
        }
    }

    /// The object if it is one; a wrong shape counts as absent (for optional details that
    /// vary between sensor versions and must not cost the whole record).
    pub(crate) fn lenient(&self) -> Option<&T> {
        match self {
            Nested::Object(value) => Some(value),
            Nested::Wrong(_) => None,
        }
    }
}

/// Consumes a value of the wrong shape and names its kind.
macro_rules! wrong_shape_visits {
    ($value:ty, $make:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<$value, E> {
            Ok($make("a boolean"))
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<$value, E> {
            Ok($make("a number"))
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<$value, E> {
            Ok($make("a number"))
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<$value, E> {
            Ok($make("a number"))
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<$value, E> {
            Ok($make("a string"))
        }
        fn visit_unit<E: de::Error>(self) -> Result<$value, E> {
            Ok($make("null"))
        }
    };
}

struct NestedVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for NestedVisitor<T> {
    type Value = Nested<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Nested<T>, A::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Nested::Object)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Nested<T>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Nested::Wrong("an array"))
    }

    wrong_shape_visits!(Nested<T>, Nested::Wrong);
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Nested<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Nested<T>, D::Error> {
        deserializer.deserialize_any(NestedVisitor(PhantomData))
    }
}

/// A JSON array read element by element into `T`, or the kind of value found instead.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum List<T> {
    Items(Vec<T>),
    Wrong(&'static str),
}

impl<T> List<T> {
    /// The elements, or a wrong-type error naming `field`.
    pub(crate) fn get(&self, field: &str) -> Result<&[T], FieldError> {
        match self {
            List::Items(items) => Ok(items),
            List::Wrong(found) => Err(FieldError::wrong_type(field, found, "an array")),
        }
    }
}

struct ListVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ListVisitor<T> {
    type Value = List<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<List<T>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element::<T>()? {
            items.push(item);
        }
        Ok(List::Items(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<List<T>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(List::Wrong("an object"))
    }

    wrong_shape_visits!(List<T>, List::Wrong);
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<List<T>, D::Error> {
        deserializer.deserialize_any(ListVisitor(PhantomData))
    }
}

/// Only the first element of a JSON array, read into `T`; the rest is skipped unread.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum First<T> {
    Item(Option<T>),
    Wrong(&'static str),
}

impl<T> First<T> {
    /// The first element if the value is a non-empty array.
    pub(crate) fn lenient(&self) -> Option<&T> {
        match self {
            First::Item(item) => item.as_ref(),
            First::Wrong(_) => None,
        }
    }
}

struct FirstVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for FirstVisitor<T> {
    type Value = First<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<First<T>, A::Error> {
        let first = seq.next_element::<T>()?;
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(First::Item(first))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<First<T>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(First::Wrong("an object"))
    }

    wrong_shape_visits!(First<T>, First::Wrong);
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for First<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<First<T>, D::Error> {
        deserializer.deserialize_any(FirstVisitor(PhantomData))
    }
}

/// What [`JsonFramer`] finds in the lines it is given.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Framed<'b> {
    /// One complete value: an element of a top-level array, or a top-level object.
    Element { offset: u64, text: &'b [u8] },
    /// An element larger than the framer's limit; its bytes were not kept.
    TooLong { offset: u64, bytes: usize },
    /// Text outside any array or object that is not JSON punctuation.
    Stray { offset: u64, text: &'b [u8] },
    /// End of input inside an element.
    Truncated { offset: u64 },
    /// End of input inside an array whose elements were all complete.
    UnclosedArray { offset: u64 },
}

#[derive(Debug, Clone, Copy)]
struct OpenElement {
    offset: u64,
    /// Bracket depth outside the element; the element ends when depth returns to it.
    base_depth: usize,
    /// A bare scalar inside an array (`1`, `"x"`): ends at `,`, `]`, whitespace or line end.
    scalar: bool,
    bytes: usize,
    overflow: bool,
}

/// Cuts JSON values spanning many lines (a pretty-printed array of objects, or objects
/// printed over several lines one after another) into complete values, fed line by line.
///
/// It tracks bracket depth outside strings only, so it never misreads a `}` inside a string;
/// it does not validate the JSON, which the element's parser does. A raw line break inside a
/// string is invalid JSON; the string is closed there so that one bad element cannot swallow
/// the rest of the input.
#[derive(Debug)]
pub(crate) struct JsonFramer {
    depth: usize,
    in_string: bool,
    escaped: bool,
    array_offset: Option<u64>,
    element: Option<OpenElement>,
    buffer: Vec<u8>,
    max_element_bytes: usize,
}

impl JsonFramer {
    pub(crate) fn new(max_element_bytes: usize) -> JsonFramer {
        JsonFramer {
            depth: 0,
            in_string: false,
            escaped: false,
            array_offset: None,
            element: None,
            buffer: Vec::new(),
            max_element_bytes,
        }
    }

    /// Feeds one line (without its terminator) that starts at `offset`.
    pub(crate) fn push_line(&mut self, line: &[u8], offset: u64, emit: &mut dyn FnMut(Framed<'_>)) {
        // Start of the part of `line` that belongs to the open element.
        let mut piece_start = 0;
        let mut i = 0;
        while i < line.len() {
            let byte = line[i];
            let Some(element) = self.element else {
                // Between values.
                match byte {
                    b' ' | b'\t' | b'\r' | b'\n' => {}
                    b',' if self.depth == 1 => {}
                    b']' if self.depth == 1 => {
                        self.depth = 0;
                        self.array_offset = None;
                    }
                    b'[' if self.depth == 0 => {
                        self.depth = 1;
                        self.array_offset = Some(offset + i as u64);
                    }
                    b'{' | b'[' => {
                        self.open(offset + i as u64, false);
                        self.depth += 1;
                        piece_start = i;
                    }
                    _ if self.depth == 1 => {
                        self.open(offset + i as u64, true);
                        self.in_string = byte == b'"';
                        piece_start = i;
                    }
                    _ => {
                        let rest = line[i..].trim_ascii_end();
                        emit(Framed::Stray {
                            offset: offset + i as u64,
                            text: rest,
                        });
                        return;
                    }
                }
                i += 1;
                continue;
            };
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if byte == b'\\' {
                    self.escaped = true;
                } else if byte == b'"' {
                    self.in_string = false;
                }
                i += 1;
                continue;
            }
            if element.scalar {
                if matches!(byte, b',' | b']' | b' ' | b'\t' | b'\r') {
                    // The scalar ends before this byte, which is read again between values.
                    self.close(&line[piece_start..i], emit);
                    continue;
                }
                i += 1;
                continue;
            }
            match byte {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == element.base_depth {
                        self.close(&line[piece_start..=i], emit);
                        i += 1;
                        continue;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        if self.element.is_some() {
            self.in_string = false;
            self.escaped = false;
            let piece = &line[piece_start..];
            if self.element.is_some_and(|e| e.scalar) {
                self.close(piece, emit);
            } else {
                self.append(piece);
                self.append(b"\n");
            }
        }
    }

    /// End of input: reports an element or array left open, and resets.
    pub(crate) fn finish(&mut self, emit: &mut dyn FnMut(Framed<'_>)) {
        if let Some(element) = self.element {
            emit(Framed::Truncated {
                offset: element.offset,
            });
        } else if let Some(offset) = self.array_offset {
            emit(Framed::UnclosedArray { offset });
        }
        *self = JsonFramer::new(self.max_element_bytes);
    }

    fn open(&mut self, offset: u64, scalar: bool) {
        self.element = Some(OpenElement {
            offset,
            base_depth: self.depth,
            scalar,
            bytes: 0,
            overflow: false,
        });
        self.buffer.clear();
    }

    fn append(&mut self, piece: &[u8]) {
        if let Some(element) = &mut self.element {
            element.bytes += piece.len();
            if element.bytes > self.max_element_bytes {
                element.overflow = true;
                self.buffer = Vec::new();
            } else {
                self.buffer.extend_from_slice(piece);
            }
        }
    }

    fn close(&mut self, last_piece: &[u8], emit: &mut dyn FnMut(Framed<'_>)) {
        self.append(last_piece);
        let Some(element) = self.element.take() else {
            return;
        };
        if element.overflow {
            emit(Framed::TooLong {
                offset: element.offset,
                bytes: element.bytes,
            });
        } else {
            let text = std::mem::take(&mut self.buffer);
            emit(Framed::Element {
                offset: element.offset,
                text: &text,
            });
            self.buffer = text;
        }
        self.buffer.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Eq)]
    enum Seen {
        Element(u64, String),
        TooLong(u64, usize),
        Stray(u64, String),
        Truncated(u64),
        Unclosed(u64),
    }

    fn frame(input: &str, limit: usize) -> Vec<Seen> {
        let mut framer = JsonFramer::new(limit);
        let mut seen = Vec::new();
        let mut record = |f: Framed<'_>| {
            seen.push(match f {
                Framed::Element { offset, text } => {
                    Seen::Element(offset, String::from_utf8_lossy(text).into_owned())
                }
                Framed::TooLong { offset, bytes } => Seen::TooLong(offset, bytes),
                Framed::Stray { offset, text } => {
                    Seen::Stray(offset, String::from_utf8_lossy(text).into_owned())
                }
                Framed::Truncated { offset } => Seen::Truncated(offset),
                Framed::UnclosedArray { offset } => Seen::Unclosed(offset),
            })
        };
        let mut offset = 0u64;
        for line in input.split('\n') {
            framer.push_line(line.as_bytes(), offset, &mut record);
            offset += line.len() as u64 + 1;
        }
        framer.finish(&mut record);
        seen
    }

    #[test]
    fn pretty_printed_array_with_braces_inside_strings() {
        let input =
            "[\n  {\n    \"a\": \"}{]\\\"[\",\n    \"b\": [1, {\"c\": 2}]\n  },\n  {\"d\": 1}\n]\n";
        let first = input.find('{').map(|at| at as u64);
        let second = input.find("{\"d\"").map(|at| at as u64);
        let (Some(first), Some(second)) = (first, second) else {
            panic!("test input lost its objects");
        };
        let seen = frame(input, 1 << 20);
        assert_eq!(
            seen,
            vec![
                Seen::Element(
                    first,
                    "{\n    \"a\": \"}{]\\\"[\",\n    \"b\": [1, {\"c\": 2}]\n  }".into()
                ),
                Seen::Element(second, "{\"d\": 1}".into()),
            ]
        );
    }

    #[test]
    fn scalars_stray_text_and_truncation() {
        assert_eq!(
            frame("[1, \"x\" ,{}]\nnonsense here\n[{\"a\":", 100),
            vec![
                Seen::Element(1, "1".into()),
                Seen::Element(4, "\"x\"".into()),
                Seen::Element(9, "{}".into()),
                Seen::Stray(13, "nonsense here".into()),
                Seen::Truncated(28),
            ]
        );
        assert_eq!(
            frame("[{}\n", 100),
            vec![Seen::Element(1, "{}".into()), Seen::Unclosed(0)]
        );
    }

    #[test]
    fn oversized_elements_are_reported_not_kept() {
        let seen = frame("[{\"a\": \"0123456789\"}, {}]", 10);
        assert_eq!(
            seen,
            vec![Seen::TooLong(1, 19), Seen::Element(22, "{}".into())]
        );
    }

    #[test]
    fn raw_line_break_in_a_string_does_not_swallow_the_input() {
        let seen = frame("[{\"a\": \"open\n}, {\"b\": 1}]", 100);
        assert_eq!(
            seen,
            vec![
                Seen::Element(1, "{\"a\": \"open\n}".into()),
                Seen::Element(16, "{\"b\": 1}".into()),
            ]
        );
    }

    #[test]
    fn json_values_name_themselves() {
        assert_eq!(Json::Int(5).to_string(), "the number 5");
        assert_eq!(Json::Str("abc".into()).to_string(), "the string \"abc\"");
        let wrong = Json::Int(5).str("timestamp");
        assert_eq!(
            wrong.map_err(|e| e.detail),
            Err("`timestamp` is the number 5, expected a string".to_string())
        );
    }

    #[test]
    fn ports_from_numbers_strings_and_garbage() {
        assert_eq!(Json::UInt(22).port("p"), Ok(Some(22)));
        assert_eq!(Json::Str("22".into()).port("p"), Ok(Some(22)));
        assert_eq!(Json::Str("".into()).port("p"), Ok(None));
        assert_eq!(Json::Float(22.0).port("p"), Ok(Some(22)));
        let reason = |r: Result<Option<u16>, FieldError>| r.map_err(|e| e.reason);
        assert_eq!(
            reason(Json::UInt(70000).port("p")),
            Err(RejectReason::InvalidPort)
        );
        assert_eq!(
            reason(Json::Int(-1).port("p")),
            Err(RejectReason::InvalidPort)
        );
        assert_eq!(
            reason(Json::Float(22.5).port("p")),
            Err(RejectReason::InvalidPort)
        );
        assert_eq!(
            reason(Json::Str("abc".into()).port("p")),
            Err(RejectReason::WrongFieldType)
        );
        assert_eq!(
            reason(Json::Bool(true).port("p")),
            Err(RejectReason::WrongFieldType)
        );
    }

    #[test]
    fn line_preparation() {
        assert!(matches!(prepare_line(b"  \r"), Line::Blank));
        assert!(matches!(
            prepare_line(b"\xEF\xBB\xBF{} \r"),
            Line::Text("{}")
        ));
        assert!(matches!(
            prepare_line(b"{\0}"),
            Line::Bad(FieldError {
                reason: RejectReason::BinaryData,
                ..
            })
        ));
        assert!(matches!(
            prepare_line(b"{\"a\":\"\xff\"}"),
            Line::Bad(FieldError {
                reason: RejectReason::NotUtf8,
                ..
            })
        ));
    }
}
