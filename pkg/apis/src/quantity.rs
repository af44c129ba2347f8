//! Kubernetes resource quantities (`resource.Quantity`): parsed exactly, to compare them
//! semantically (`100m` equals `0.1`, `1Ki` equals `1024`).

/// A quantity's value in billionths (upstream's smallest scale, `n`), or `None` if the text is
/// not a quantity or is beyond what this representation holds.
pub fn parse_nanos(s: &str) -> Option<i128> {
    let s = s.trim();
    let (sign, body) = match s.strip_prefix('-') {
        Some(rest) => (-1i128, rest),
        None => (1, s.strip_prefix('+').unwrap_or(s)),
    };
    let num_end = body
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(body.len());
    let (number, suffix) = body.split_at(num_end);
    if number.is_empty() || number == "." || number.matches('.').count() > 1 {
        return None;
    }
    let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
    // The number as digits × 10^-frac_len.
    let digits: String = format!("{int_part}{frac_part}");
    let mut mantissa: i128 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    let mut exp10: i32 = -(frac_part.len() as i32);
    let mut mul2: u32 = 0;
    match suffix {
        "" => {}
        "n" => exp10 -= 9,
        "u" => exp10 -= 6,
        "m" => exp10 -= 3,
        "k" => exp10 += 3,
        "M" => exp10 += 6,
        "G" => exp10 += 9,
        "T" => exp10 += 12,
        "P" => exp10 += 15,
        "E" => exp10 += 18,
        "Ki" => mul2 = 10,
        "Mi" => mul2 = 20,
        "Gi" => mul2 = 30,
        "Ti" => mul2 = 40,
        "Pi" => mul2 = 50,
        "Ei" => mul2 = 60,
        e if e.starts_with(['e', 'E']) => exp10 += e[1..].parse::<i32>().ok()?,
        _ => return None,
    }
    mantissa = mantissa.checked_mul(1i128.checked_shl(mul2)?)?;
    // To nanos: × 10^(exp10 + 9), rounding up what is finer than a nano (as upstream).
    let shift = exp10 + 9;
    let value = if shift >= 0 {
        mantissa.checked_mul(10i128.checked_pow(shift as u32)?)?
    } else {
        let div = 10i128.checked_pow((-shift) as u32)?;
        let q = mantissa / div;
        if mantissa % div != 0 {
            q + 1
        } else {
            q
        }
    };
    Some(sign * value)
}

/// Whether two quantities are the same amount (unparsable ones compare as text).
pub fn same(a: &str, b: &str) -> bool {
    match (parse_nanos(a), parse_nanos(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// Whether two resource lists (JSON maps of quantities) hold the same amounts.
pub fn same_list(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    let empty = serde_json::Map::new();
    let a = a.as_object().unwrap_or(&empty);
    let b = b.as_object().unwrap_or(&empty);
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    a.len() == b.len()
        && a.iter()
            .all(|(k, v)| b.get(k).is_some_and(|w| same(&text(v), &text(w))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_compare_by_amount() {
        assert_eq!(parse_nanos("1"), Some(1_000_000_000));
        assert_eq!(parse_nanos("100m"), Some(100_000_000));
        assert!(same("100m", "0.1"));
        assert!(same("1Ki", "1024"));
        assert!(same("1e3", "1k"));
        assert!(same("1.5Gi", "1536Mi"));
        assert_eq!(parse_nanos("-2"), Some(-2_000_000_000));
        assert_eq!(parse_nanos("1n"), Some(1));
        assert_eq!(parse_nanos("0.1n"), Some(1), "finer than a nano rounds up");
        for bad in ["", "m", "1.2.3", "1x", "--1", "1KiB", "."] {
            assert_eq!(parse_nanos(bad), None, "{bad}");
        }
        assert!(same_list(
            &serde_json::json!({"cpu": "250m", "memory": "1Gi"}),
            &serde_json::json!({"memory": "1024Mi", "cpu": "0.25"})
        ));
        assert!(!same_list(
            &serde_json::json!({"cpu": "250m"}),
            &serde_json::json!({"cpu": "250m", "memory": "1"})
        ));
    }
}
