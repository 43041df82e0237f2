//! Ruby's `Integer()` on a string, which upstream details applies to the id:
//! surrounding whitespace, a sign, `0x`/`0b`/`0o`/`0d` prefixes, a leading
//! `0` for octal, and single `_` between digits. Values beyond i64 are
//! refused (Ruby would take any size).

pub(crate) fn parse(text: &str) -> Option<i64> {
    let text = text.trim_matches(|c: char| c.is_ascii_whitespace());
    let (negative, rest) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let lower = rest.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0d") {
        (10, d)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].trim_start_matches('_'))
    } else {
        (10, lower.as_str())
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let plain: String = digits.chars().filter(|&c| c != '_').collect();
    if !plain.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    // Through i128, so that i64::MIN (whose magnitude is no i64) is read.
    let magnitude = i128::from(u64::from_str_radix(&plain, radix).ok()?);
    i64::try_from(if negative { -magnitude } else { magnitude }).ok()
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn the_whole_i64_range_is_read_and_nothing_beyond() {
        assert_eq!(parse("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse("9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse("9223372036854775808"), None);
        assert_eq!(parse("-9223372036854775809"), None);
    }

    #[test]
    fn accepts_what_ruby_integer_accepts() {
        for (text, value) in [
            ("0", 0),
            ("42", 42),
            ("-3", -3),
            ("+7", 7),
            (" 12 ", 12),
            ("1_000", 1000),
            ("0x1F", 31),
            ("0b101", 5),
            ("0o17", 15),
            ("017", 15),
            ("0d19", 19),
            ("00", 0),
        ] {
            assert_eq!(parse(text), Some(value), "{text:?}");
        }
    }

    #[test]
    fn refuses_what_ruby_integer_refuses_and_what_overflows() {
        for text in [
            "",
            " ",
            "details",
            "08",
            "1__0",
            "_1",
            "1_",
            "0x",
            "1.5",
            "12abc",
            "--1",
            "99999999999999999999",
        ] {
            assert_eq!(parse(text), None, "{text:?}");
        }
    }
}
