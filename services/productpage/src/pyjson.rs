//! JSON written the way upstream's Python writes it (`json.dumps` defaults):
//! `", "` and `": "` separators and non-ASCII characters as `\uXXXX`, so the
//! API bodies are byte-identical to upstream's; and in the compact form
//! Flask writes sessions in (`","` and `":"`). Key order is kept because
//! serde_json is built with `preserve_order`.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::{Formatter, Serializer};

struct PythonFormatter {
    /// `(",", ":")` separators instead of `(", ", ": ")`.
    compact: bool,
}

impl PythonFormatter {
    fn item(&self) -> &'static [u8] {
        if self.compact { b"," } else { b", " }
    }
}

impl Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(self.item())
        }
    }

    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(self.item())
        }
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(if self.compact { b":" } else { b": " })
    }

    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        if fragment.is_ascii() {
            return writer.write_all(fragment.as_bytes());
        }
        for c in fragment.chars() {
            if c.is_ascii() {
                writer.write_all(&[c as u8])?;
            } else {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    write!(writer, "\\u{unit:04x}")?;
                }
            }
        }
        Ok(())
    }
}

/// `value` as upstream's productpage would serialise it.
pub(crate) fn to_string<T: Serialize + ?Sized>(value: &T) -> String {
    write(value, false)
}

/// `value` as Flask writes a session (compact, ASCII).
pub(crate) fn to_compact_ascii<T: Serialize + ?Sized>(value: &T) -> String {
    write(value, true)
}

fn write<T: Serialize + ?Sized>(value: &T, compact: bool) -> String {
    let mut out = Vec::with_capacity(256);
    let mut serializer = Serializer::with_formatter(&mut out, PythonFormatter { compact });
    if value.serialize(&mut serializer).is_err() {
        return String::from("null");
    }
    // The formatter writes only ASCII.
    String::from_utf8(out).unwrap_or_default()
}

/// `{"error": "<message>"}`.
pub(crate) fn error_body(message: &str) -> String {
    to_string(&serde_json::json!({ "error": message }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_and_key_order_match_python() {
        let value: serde_json::Value = serde_json::from_str(
            r#"{"id":0,"author":"William Shakespeare","year":1595,"type":"paperback","pages":200,"publisher":"PublisherA","language":"English","ISBN-10":"1234567890","ISBN-13":"123-1234567890"}"#,
        )
        .unwrap_or_default();
        let text = to_string(&value);
        assert_eq!(
            text,
            r#"{"id": 0, "author": "William Shakespeare", "year": 1595, "type": "paperback", "pages": 200, "publisher": "PublisherA", "language": "English", "ISBN-10": "1234567890", "ISBN-13": "123-1234567890"}"#
        );
        assert_eq!(text.len(), 195);
    }

    #[test]
    fn non_ascii_is_escaped_like_ensure_ascii() {
        let value = serde_json::json!({"a": ["é", "😀", "x\"\n/"], "b": {}});
        assert_eq!(
            to_string(&value),
            r#"{"a": ["\u00e9", "\ud83d\ude00", "x\"\n/"], "b": {}}"#
        );
    }

    #[test]
    fn error_bodies_are_76_bytes_for_the_sorry_messages() {
        assert_eq!(
            error_body("Sorry, product ratings are currently unavailable for this book."),
            r#"{"error": "Sorry, product ratings are currently unavailable for this book."}"#
        );
        assert_eq!(
            error_body("Sorry, product ratings are currently unavailable for this book.").len(),
            76
        );
    }
}
