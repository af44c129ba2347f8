//! `resource.Quantity` as apimachinery defines it: parsing (with upstream's scanner, suffixes and
//! round-up to nano precision), exact arithmetic and comparison, and the canonical text form
//! (`String()`), which is what quota messages and `status.used` show.
//!
//! A quantity is held as a signed count of nano-units (10⁻⁹) in an `i128`, which represents
//! exactly every value upstream keeps (upstream rounds anything finer than a nano up) up to about
//! 10²⁹; larger values are refused as not numeric rather than silently wrapped, and sums saturate.

use std::cmp::Ordering;
use std::fmt;

use serde_json::Value;

const NANOS_PER_UNIT: i128 = 1_000_000_000;
/// Upstream caps binary-SI quantities at the largest int64 (`maxAllowed`).
const MAX_BINARY_NANOS: i128 = i64::MAX as i128 * NANOS_PER_UNIT;

/// How a quantity is written (upstream's `resource.Format`); kept through arithmetic so that a
/// sum prints in the format of its first non-zero term, as upstream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    /// `1`, `500m`, `2k`, `3G`.
    #[default]
    DecimalSI,
    /// `1Ki`, `2Gi`.
    BinarySI,
    /// `1e3`, `12E-3`.
    DecimalExponent,
}

/// Why a text is not a quantity (upstream's three parse errors, same messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    FormatWrong,
    Numeric,
    Suffix,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParseError::FormatWrong => "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
            ParseError::Numeric => "unable to parse numeric part of quantity",
            ParseError::Suffix => "unable to parse quantity's suffix",
        })
    }
}

impl std::error::Error for ParseError {}

/// A parsed `resource.Quantity`. Equality and order compare values (`Cmp`), not formats.
#[derive(Clone, Copy, Debug, Default)]
pub struct Quantity {
    nanos: i128,
    pub format: Format,
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.nanos == other.nanos
    }
}

impl Eq for Quantity {}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

/// The pieces of a quantity text, as upstream's `parseQuantityString` splits it.
struct Parts<'a> {
    positive: bool,
    num: &'a str,
    denom: &'a str,
    suffix: &'a str,
}

fn split(s: &str) -> Result<Parts<'_>, ParseError> {
    let b = s.as_bytes();
    let end = b.len();
    let mut pos = 0;
    let mut positive = true;
    let digit = |c: u8| c.is_ascii_digit();
    let done = |positive, num, denom, suffix| {
        Ok(Parts {
            positive,
            num,
            denom,
            suffix,
        })
    };
    match b.first() {
        Some(b'-') => {
            positive = false;
            pos += 1;
        }
        Some(b'+') => pos += 1,
        _ => {}
    }
    // Leading zeros; nothing but zeros is zero.
    loop {
        if pos >= end {
            return done(positive, "0", "", "");
        }
        if b[pos] == b'0' {
            pos += 1;
        } else {
            break;
        }
    }
    let start = pos;
    while pos < end && digit(b[pos]) {
        pos += 1;
    }
    let mut num = &s[start..pos];
    if pos >= end {
        return done(positive, if num.is_empty() { "0" } else { num }, "", "");
    }
    if num.is_empty() {
        num = "0";
    }
    let mut denom = "";
    if b[pos] == b'.' {
        pos += 1;
        let start = pos;
        while pos < end && digit(b[pos]) {
            pos += 1;
        }
        denom = &s[start..pos];
        if pos >= end {
            return done(positive, num, denom, "");
        }
    }
    let suffix_start = pos;
    while pos < end && b"eEinumkKMGTP".contains(&b[pos]) {
        pos += 1;
    }
    if pos >= end {
        return done(positive, num, denom, &s[suffix_start..]);
    }
    if b[pos] == b'-' || b[pos] == b'+' {
        pos += 1;
    }
    while pos < end && digit(b[pos]) {
        pos += 1;
    }
    if pos >= end {
        return done(positive, num, denom, &s[suffix_start..]);
    }
    Err(ParseError::FormatWrong)
}

/// (base, exponent, format) of a suffix, as upstream's suffixer interprets it.
fn interpret(suffix: &str) -> Option<(u32, i32, Format)> {
    let dec = |e| Some((10, e, Format::DecimalSI));
    let bin = |e| Some((2, e, Format::BinarySI));
    match suffix {
        "" => dec(0),
        "n" => dec(-9),
        "u" => dec(-6),
        "m" => dec(-3),
        "k" => dec(3),
        "M" => dec(6),
        "G" => dec(9),
        "T" => dec(12),
        "P" => dec(15),
        "E" => dec(18),
        "Ki" => bin(10),
        "Mi" => bin(20),
        "Gi" => bin(30),
        "Ti" => bin(40),
        "Pi" => bin(50),
        "Ei" => bin(60),
        s if s.len() > 1 && (s.starts_with('e') || s.starts_with('E')) => {
            let e: i64 = s[1..].parse().ok()?;
            Some((10, i32::try_from(e).ok()?, Format::DecimalExponent))
        }
        _ => None,
    }
}

fn pow10(p: u32) -> Option<i128> {
    10i128.checked_pow(p)
}

/// The digits as an integer (checked).
fn int_of(digits: &str) -> Option<i128> {
    let d = digits.trim_start_matches('0');
    if d.is_empty() {
        return Some(0);
    }
    d.parse::<i128>().ok()
}

impl Quantity {
    /// Zero in decimal SI (upstream's `Quantity{Format: DecimalSI}`).
    pub const ZERO: Quantity = Quantity {
        nanos: 0,
        format: Format::DecimalSI,
    };

    /// A whole number of units in decimal SI (upstream's `NewQuantity(n, DecimalSI)`).
    pub fn from_int(n: i64) -> Quantity {
        Quantity {
            nanos: n as i128 * NANOS_PER_UNIT,
            format: Format::DecimalSI,
        }
    }

    /// Parses a quantity as upstream's `ParseQuantity`.
    pub fn parse(s: &str) -> Result<Quantity, ParseError> {
        if s.is_empty() {
            return Err(ParseError::FormatWrong);
        }
        if s == "0" {
            return Ok(Quantity::ZERO);
        }
        let p = split(s)?;
        let (base, exponent, mut format) = interpret(p.suffix).ok_or(ParseError::Suffix)?;
        // Trailing zeros of the fraction change nothing.
        let denom = p.denom.trim_end_matches('0');
        let digits = format!("{}{}", p.num, denom);
        let frac = denom.len() as i64;
        let mut magnitude = if base == 10 {
            // value = digits × 10^(exponent − frac); in nanos, × 10^9.
            let shift = exponent as i64 - frac + 9;
            if shift >= 0 {
                let m = pow10(u32::try_from(shift).map_err(|_| ParseError::Numeric)?)
                    .ok_or(ParseError::Numeric)?;
                int_of(&digits)
                    .and_then(|n| n.checked_mul(m))
                    .ok_or(ParseError::Numeric)?
            } else {
                // Finer than a nano: keep what is representable, round any rest up.
                let drop = (-shift) as usize;
                let keep = digits.len().saturating_sub(drop);
                let (kept, rest) = digits.split_at(keep);
                let up = rest.bytes().any(|c| c != b'0');
                int_of(kept)
                    .and_then(|n| n.checked_add(up as i128))
                    .ok_or(ParseError::Numeric)?
            }
        } else {
            // value = digits × 2^exponent / 10^frac, rounded up to a nano.
            let n = int_of(&digits)
                .and_then(|n| n.checked_mul(1i128.checked_shl(exponent as u32)?))
                .and_then(|n| n.checked_mul(NANOS_PER_UNIT))
                .ok_or(ParseError::Numeric)?;
            let d = pow10(frac as u32).ok_or(ParseError::Numeric)?;
            n / d + (n % d != 0) as i128
        };
        if format == Format::BinarySI && magnitude > MAX_BINARY_NANOS {
            magnitude = MAX_BINARY_NANOS;
        }
        if format == Format::BinarySI && magnitude > 0 && magnitude < NANOS_PER_UNIT {
            format = Format::DecimalSI;
        }
        Ok(Quantity {
            nanos: if p.positive { magnitude } else { -magnitude },
            format,
        })
    }

    /// A quantity in an object: a JSON string, or a bare number (as upstream's UnmarshalJSON
    /// accepts); `null` is zero.
    pub fn from_json(v: &Value) -> Result<Quantity, ParseError> {
        match v {
            Value::String(s) => Quantity::parse(s.trim()),
            Value::Number(n) => Quantity::parse(&n.to_string()),
            Value::Null => Ok(Quantity::ZERO),
            _ => Err(ParseError::FormatWrong),
        }
    }

    pub fn to_json(&self) -> Value {
        Value::String(self.to_string())
    }

    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    /// -1, 0 or 1.
    pub fn sign(&self) -> i32 {
        self.nanos.signum() as i32
    }

    /// The value in nano-units.
    pub fn nanos(&self) -> i128 {
        self.nanos
    }

    /// Adds `y` (upstream's `Add`: a zero quantity takes the format of what is added to it).
    pub fn add(&mut self, y: &Quantity) {
        if self.nanos == 0 {
            self.format = y.format;
        }
        self.nanos = self.nanos.saturating_add(y.nanos);
    }

    /// Subtracts `y` (upstream's `Sub`, same format rule as [`Quantity::add`]).
    pub fn sub(&mut self, y: &Quantity) {
        if self.nanos == 0 {
            self.format = y.format;
        }
        self.nanos = self.nanos.saturating_sub(y.nanos);
    }

    /// The value rounded up to a whole unit (upstream's `Value()`).
    pub fn value(&self) -> i128 {
        div_ceil(self.nanos, NANOS_PER_UNIT)
    }

    /// The value in thousandths, rounded up (upstream's `MilliValue()`).
    pub fn milli_value(&self) -> i128 {
        div_ceil(self.nanos, 1_000_000)
    }

    /// The canonical text form (upstream's `String()`; the same as `Display`).
    pub fn canonical(&self) -> String {
        self.to_string()
    }

    /// Rounds up to a whole number of units (upstream's `RoundUp(0)`).
    pub fn round_up_to_unit(&self) -> Quantity {
        let r = self.nanos.rem_euclid(NANOS_PER_UNIT);
        let nanos = if r == 0 {
            self.nanos
        } else {
            self.nanos.saturating_add(NANOS_PER_UNIT - r)
        };
        Quantity {
            nanos,
            format: self.format,
        }
    }

    /// Mantissa and power of ten, the power a multiple of 3 (upstream's `AsCanonicalBytes`).
    fn decimal_parts(&self) -> (i128, i32) {
        let mut m = self.nanos;
        let mut e = -9i32;
        while m != 0 && m % 10 == 0 {
            m /= 10;
            e += 1;
        }
        let r = e.rem_euclid(3);
        match pow10(r as u32).and_then(|f| m.checked_mul(f)) {
            Some(scaled) => (scaled, e - r),
            None => (m, e),
        }
    }
}

impl fmt::Display for Quantity {
    /// The canonical form (upstream's `String()`): `500m`, `1`, `252Mi`, `1536Mi`, `1e3`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.nanos == 0 {
            return f.write_str("0");
        }
        let mut format = self.format;
        if format == Format::BinarySI
            && (self.nanos.abs() < 1024 * NANOS_PER_UNIT || self.nanos % NANOS_PER_UNIT != 0)
        {
            // Small values, and values that are not whole units, print in decimal.
            format = Format::DecimalSI;
        }
        match format {
            Format::BinarySI => {
                let mut m = self.nanos / NANOS_PER_UNIT;
                let mut k = 0;
                while m.abs() >= 1024 && m % 1024 == 0 {
                    m /= 1024;
                    k += 1;
                }
                let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]
                    .get(k)
                    .copied()
                    .unwrap_or("");
                write!(f, "{m}{suffix}")
            }
            Format::DecimalSI => {
                let (m, e) = self.decimal_parts();
                let suffix = match e {
                    -9 => "n",
                    -6 => "u",
                    -3 => "m",
                    3 => "k",
                    6 => "M",
                    9 => "G",
                    12 => "T",
                    15 => "P",
                    18 => "E",
                    // Upstream has no suffix for other powers and prints none.
                    _ => "",
                };
                write!(f, "{m}{suffix}")
            }
            Format::DecimalExponent => {
                let (m, e) = self.decimal_parts();
                if e == 0 {
                    write!(f, "{m}")
                } else {
                    write!(f, "{m}e{e}")
                }
            }
        }
    }
}

fn div_ceil(n: i128, d: i128) -> i128 {
    let q = n / d;
    if n % d > 0 {
        q + 1
    } else {
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        Quantity::parse(s)
            .unwrap_or_else(|e| panic!("{s}: {e}"))
            .to_string()
    }

    #[test]
    fn canonical_forms_are_upstreams() {
        for (input, want) in [
            ("0", "0"),
            ("0Ki", "0"),
            ("-0", "0"),
            ("1", "1"),
            ("1000m", "1"),
            ("500m", "500m"),
            ("0.5", "500m"),
            (".5", "500m"),
            ("1.5", "1500m"),
            ("100m", "100m"),
            ("1k", "1k"),
            ("1000", "1k"),
            ("1500", "1500"),
            ("12345", "12345"),
            ("1M", "1M"),
            ("2G", "2G"),
            ("1Ki", "1Ki"),
            ("1024", "1024"),
            ("1024Mi", "1Gi"),
            ("1536Mi", "1536Mi"),
            ("1.5Gi", "1536Mi"),
            ("252Mi", "252Mi"),
            ("500Mi", "500Mi"),
            ("512", "512"),
            ("0.5Ki", "512"),
            ("30Gi", "30Gi"),
            ("1e3", "1e3"),
            ("1E3", "1e3"),
            ("1e-3", "1e-3"),
            ("1.5e3", "1500"),
            ("100e-2", "1"),
            ("1n", "1n"),
            ("1u", "1u"),
            ("0.1n", "1n"),
            ("1.0000000001", "1000000001n"),
            ("-1.5", "-1500m"),
            ("-1Gi", "-1Gi"),
            ("+2", "2"),
            ("007", "7"),
            ("1.", "1"),
            ("1.G", "1G"),
            ("5E", "5E"),
        ] {
            assert_eq!(canon(input), want, "{input}");
        }
    }

    #[test]
    fn bad_text_is_refused_with_upstreams_errors() {
        assert_eq!(Quantity::parse(""), Err(ParseError::FormatWrong));
        assert_eq!(Quantity::parse("abc"), Err(ParseError::FormatWrong));
        assert_eq!(Quantity::parse("1.5.5"), Err(ParseError::FormatWrong));
        assert_eq!(Quantity::parse("1Qi"), Err(ParseError::FormatWrong));
        assert_eq!(Quantity::parse("1e"), Err(ParseError::Suffix));
        assert_eq!(Quantity::parse("1Mb"), Err(ParseError::FormatWrong));
        assert_eq!(Quantity::parse("1MM"), Err(ParseError::Suffix));
        assert_eq!(Quantity::parse("1ki"), Err(ParseError::Suffix));
        assert_eq!(
            Quantity::parse(&"9".repeat(60)),
            Err(ParseError::Numeric),
            "too large to hold is refused, not wrapped"
        );
        assert!(ParseError::FormatWrong
            .to_string()
            .starts_with("quantities must match the regular expression"));
    }

    #[test]
    fn arithmetic_and_comparison() {
        let q = |s| Quantity::parse(s).unwrap();
        assert_eq!(q("1"), q("1000m"));
        assert!(q("1100m") > q("1"));
        assert_eq!(q("1Gi"), q("1073741824"));
        let mut used = Quantity::ZERO;
        used.add(&q("252Mi"));
        assert_eq!(used.to_string(), "252Mi", "zero takes the added format");
        used.add(&q("100Mi"));
        assert_eq!(used.to_string(), "352Mi");
        let mut cpu = q("500m");
        cpu.add(&q("600m"));
        assert_eq!(cpu.to_string(), "1100m");
        cpu.sub(&q("1100m"));
        assert!(cpu.is_zero());
        assert_eq!(q("1.2").round_up_to_unit().to_string(), "2");
        assert_eq!(q("1Gi").round_up_to_unit().to_string(), "1Gi");
        assert_eq!(
            Quantity::from_json(&serde_json::json!(2)).unwrap(),
            Quantity::from_int(2)
        );
        assert_eq!(q("-1").sign(), -1);
    }
}
