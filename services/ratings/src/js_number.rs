//! Product ids as upstream's Node.js ratings reads and writes them: the
//! last segment of the raw request path through JavaScript's `parseInt`
//! (ECMA-262, `parseInt` with no radix), then the number as `JSON.stringify`
//! writes it.

/// A product id: how it is written in JSON, and the key it is stored under
/// (JavaScript's `String(number)`, which is what an object property is).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ProductId {
    pub(crate) json: String,
    pub(crate) key: String,
}

/// `parseInt(text)`: leading whitespace skipped, an optional sign, then a
/// `0x`/`0X` prefix for hexadecimal, then the longest run of digits; `None`
/// where JavaScript gives `NaN` (no digit). The value is the nearest double,
/// as V8 rounds it, so ids beyond 2^53 are rounded and very long ones are
/// infinite.
pub(crate) fn parse_int(text: &str) -> Option<f64> {
    let text = text.trim_start_matches([' ', '\t', '\n', '\u{b}', '\u{c}', '\r']);
    let (negative, text) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (radix, text) = match text.get(..2) {
        Some("0x" | "0X") => (16, &text[2..]),
        _ => (10, text),
    };
    let end = text
        .find(|c: char| !c.is_digit(radix))
        .unwrap_or(text.len());
    let digits = &text[..end];
    if digits.is_empty() {
        return None;
    }
    let magnitude = if radix == 10 {
        // Rust reads a decimal string to the nearest double, as V8 does.
        digits.parse::<f64>().ok()?
    } else {
        match u128::from_str_radix(digits, 16) {
            // Rounded once to the nearest double, as V8 does.
            Ok(exact) => exact as f64,
            // Beyond 32 hex digits: rounded digit by digit (such ids are
            // above 10^38; at most the last place can differ).
            Err(_) => digits.chars().fold(0f64, |value, c| {
                value * 16.0 + f64::from(c.to_digit(16).unwrap_or(0))
            }),
        }
    };
    Some(if negative { -magnitude } else { magnitude })
}

/// The id `parseInt` makes of the last segment of a raw path.
pub(crate) fn product_id(raw_path: &str) -> Option<ProductId> {
    let number = parse_int(raw_path.rsplit('/').next().unwrap_or(""))?;
    Some(ProductId {
        json: json(number),
        key: string(number),
    })
}

/// `JSON.stringify(number)`: `null` for the infinities, else `String`.
fn json(number: f64) -> String {
    if number.is_finite() {
        string(number)
    } else {
        "null".to_owned()
    }
}

/// JavaScript's `Number::toString` of an integral double: its shortest
/// round-trip digits, in full below 10^21 and as `1.2345e+25` from there.
fn string(number: f64) -> String {
    if number.is_infinite() {
        return if number > 0.0 {
            "Infinity"
        } else {
            "-Infinity"
        }
        .to_owned();
    }
    if number == 0.0 {
        // -0 too: JavaScript writes it as 0.
        return "0".to_owned();
    }
    if number.abs() < 1e21 {
        // Rust's shortest round-trip form, which has no fraction here.
        return format!("{number}");
    }
    format!("{number:e}").replacen('e', "e+", 1)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn id(raw: &str) -> Option<String> {
        product_id(raw).map(|id| id.json)
    }

    #[test]
    fn parse_int_reads_what_node_reads() {
        for (raw, json) in [
            ("7", "7"),
            ("12abc", "12"),
            ("-3", "-3"),
            ("+5", "5"),
            ("abc/7", "7"),
            (" 5", "5"),
            ("0x10", "16"),
            ("0X1f", "31"),
            ("-0x10", "-16"),
            ("-0", "0"),
            ("007", "7"),
            ("1%2F2", "1"),
            ("9007199254740993", "9007199254740992"),
            ("1152921504606846976", "1152921504606847000"),
            ("99999999999999999999", "100000000000000000000"),
            ("1000000000000000000000", "1e+21"),
            ("123450000000000000000000000", "1.2345e+26"),
            (&"9".repeat(400), "null"),
        ] {
            assert_eq!(id(raw).as_deref(), Some(json), "{raw}");
        }
        for nan in ["", "abc", "-", "+", "0x", "%31", "0/extra", "１", "0xg"] {
            assert_eq!(id(nan), None, "{nan:?}");
        }
    }

    #[test]
    fn equal_numbers_share_one_key() {
        assert_eq!(product_id("1").unwrap().key, product_id("01x").unwrap().key);
        assert_eq!(product_id("0x10").unwrap().key, "16");
        assert_eq!(product_id(&"9".repeat(400)).unwrap().key, "Infinity");
    }
}
