//! Display helpers the views share: money, token amounts, relative times, wallet checks.

use crate::Millis;

/// Formats a number with thousands separators and a fixed number of decimals: `12,345.67`.
pub fn grouped(value: f64, decimals: usize) -> String {
    if !value.is_finite() {
        return "—".to_string();
    }
    let text = format!("{:.*}", decimals, value.abs());
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole.to_string(), Some(fraction.to_string())),
        None => (text, None),
    };
    let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
    for (index, digit) in whole.chars().enumerate() {
        if index > 0 && (whole.len() - index) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let sign = if value < 0.0 && value.abs() >= 0.5 * 10f64.powi(-(decimals as i32)) {
        "-"
    } else {
        ""
    };
    match fraction {
        Some(fraction) => format!("{sign}{grouped}.{fraction}"),
        None => format!("{sign}{grouped}"),
    }
}

/// USDC with two decimals: `$12,345.67`.
pub fn usdc(value: f64) -> String {
    format!("${}", grouped(value, 2))
}

/// "just now", "3 s ago", "4 min ago", "2 h ago", "5 d ago".
pub fn ago(now: Millis, then: Millis) -> String {
    let seconds = now.saturating_sub(then) / 1000;
    match seconds {
        0 => "just now".to_string(),
        1..=59 => format!("{seconds} s ago"),
        60..=3599 => format!("{} min ago", seconds / 60),
        3600..=86_399 => format!("{} h ago", seconds / 3600),
        _ => format!("{} d ago", seconds / 86_400),
    }
}

/// True for an EVM address: `0x` followed by 40 hex digits.
pub fn is_wallet_address(text: &str) -> bool {
    text.len() == 42
        && text.starts_with("0x")
        && text[2..].bytes().all(|byte| byte.is_ascii_hexdigit())
}

/// Shortens `0x1234…abcd` for tables.
pub fn short_hash(text: &str) -> String {
    if text.len() > 14 && text.is_char_boundary(8) && text.is_char_boundary(text.len() - 6) {
        format!("{}…{}", &text[..8], &text[text.len() - 6..])
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_and_amounts() {
        assert_eq!(usdc(1234567.891), "$1,234,567.89");
        assert_eq!(grouped(0.0, 2), "0.00");
        assert_eq!(grouped(-1500.0, 0), "-1,500");
        assert_eq!(grouped(f64::NAN, 2), "—");
        assert_eq!(grouped(999.999, 2), "1,000.00");
    }

    #[test]
    fn relative_times() {
        assert_eq!(ago(10_000, 10_000), "just now");
        assert_eq!(ago(13_000, 10_000), "3 s ago");
        assert_eq!(ago(10_000, 13_000), "just now");
        assert_eq!(ago(400_000, 100_000), "5 min ago");
    }

    #[test]
    fn wallets() {
        assert!(is_wallet_address(
            "0x52908400098527886E0F7030069857D2E4169EE7"
        ));
        assert!(!is_wallet_address("0x5290840009852788"));
        assert!(!is_wallet_address(
            "1x52908400098527886E0F7030069857D2E4169EE7"
        ));
        assert!(!is_wallet_address(
            "0x52908400098527886E0F7030069857D2E4169EEZ"
        ));
        assert_eq!(
            short_hash("0x52908400098527886E0F7030069857D2E4169EE7"),
            "0x529084…169EE7"
        );
    }
}
