//! Text for notifications: exact amounts with decimals applied as strings, escaping for each
//! channel (chain data is untrusted), and Telegram's 4,096-character split.

/// Telegram's longest message, in characters.
pub const TELEGRAM_MAX: usize = 4_096;

/// `units` (a decimal integer string) with `decimals` applied, trailing zeros trimmed:
/// `("1500000", 6)` is `1.5`. Not a number: returned as it is.
pub fn units(units: &str, decimals: Option<i64>) -> String {
    let Some(d) = decimals.and_then(|d| usize::try_from(d).ok()) else { return units.to_string() };
    let (neg, digits) = match units.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, units),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return units.to_string();
    }
    let digits = digits.trim_start_matches('0');
    let padded = format!("{digits:0>width$}", width = d + 1);
    let (int, frac) = padded.split_at(padded.len() - d);
    let frac = frac.trim_end_matches('0');
    let sign = if neg && (int != "0" || !frac.is_empty()) { "-" } else { "" };
    if frac.is_empty() {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac}")
    }
}

/// `a - b` of two non-negative decimal integer strings, signed (`None` if either is not one).
pub fn signed_diff(a: &str, b: &str) -> Option<String> {
    use alloy::primitives::U256;
    let (a, b): (U256, U256) = (a.parse().ok()?, b.parse().ok()?);
    Some(if a >= b { (a - b).to_string() } else { format!("-{}", b - a) })
}

/// Escapes text for Telegram's and HTML's `parse_mode: HTML`.
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// Text from a chain (a token's name or symbol) made safe for plain-text contexts too: control
/// characters (newlines included) replaced, and at most 32 characters kept.
pub fn untrusted(s: &str) -> String {
    let cleaned: String = s.chars().map(|c| if c.is_control() { '?' } else { c }).take(32).collect();
    if cleaned.is_empty() {
        "?".into()
    } else {
        cleaned
    }
}

/// Splits escaped HTML into parts of at most `max` characters, at a line break when there is
/// one in the part's second half, and never inside an `&...;` entity. Tags are not split: the
/// notifier's only markup is a `<b>` title on the first line.
pub fn split(text: &str, max: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut parts = Vec::new();
    let mut start = 0;
    while chars.len() - start > max {
        let mut end = start + max;
        if let Some(nl) = (start + max / 2..end).rev().find(|&i| chars[i] == '\n') {
            end = nl + 1;
        } else if let Some(amp) = (end.saturating_sub(8).max(start)..end).rev().find(|&i| chars[i] == '&') {
            // An entity is at most `&quot;` long: do not cut one in two.
            if !chars[amp..end].contains(&';') {
                end = amp;
            }
        }
        parts.push(chars[start..end].iter().collect::<String>());
        start = end;
    }
    if start < chars.len() || parts.is_empty() {
        parts.push(chars[start..].iter().collect());
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_apply_decimals_exactly() {
        assert_eq!(units("1500000", Some(6)), "1.5");
        assert_eq!(units("1", Some(18)), "0.000000000000000001");
        assert_eq!(units("18446744073709551615", Some(9)), "18446744073.709551615");
        let max = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
        assert_eq!(
            units(max, Some(18)),
            "115792089237316195423570985008687907853269984665640564039457.584007913129639935"
        );
        assert_eq!(units("-2500", Some(3)), "-2.5");
        assert_eq!(units("0", Some(6)), "0");
        assert_eq!(units("000120", Some(2)), "1.2");
        assert_eq!(units("42", None), "42");
        assert_eq!(units("x1", Some(2)), "x1");
        assert_eq!(signed_diff("5", "7").as_deref(), Some("-2"));
        assert_eq!(signed_diff("7", "5").as_deref(), Some("2"));
    }

    #[test]
    fn chain_text_is_escaped_and_bounded() {
        assert_eq!(
            html("<img src=x onerror=alert(1)> & \"q\""),
            "&lt;img src=x onerror=alert(1)&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(untrusted("A\nB\u{7}"), "A?B?");
        assert_eq!(untrusted(&"x".repeat(100)).len(), 32);
        assert_eq!(untrusted(""), "?");
    }

    #[test]
    fn long_messages_split_in_order_at_lines_and_never_in_an_entity() {
        let line = format!("{}\n", "a".repeat(99));
        let text = line.repeat(100); // 10,000 characters
        let parts = split(&text, TELEGRAM_MAX);
        assert!(parts.len() >= 3);
        assert!(parts.iter().all(|p| p.chars().count() <= TELEGRAM_MAX && p.ends_with('\n')));
        assert_eq!(parts.concat(), text, "in order, nothing lost");
        let escaped = html(&"<".repeat(5_000)); // no line breaks: cut between entities
        let parts = split(&escaped, TELEGRAM_MAX);
        assert!(parts.iter().all(|p| p.starts_with("&lt;") && p.ends_with("&lt;")), "whole entities only");
        assert_eq!(parts.concat(), escaped);
        assert_eq!(split("short", TELEGRAM_MAX), vec!["short".to_string()]);
    }
}
