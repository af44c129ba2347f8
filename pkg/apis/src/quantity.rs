//! `resource.Quantity`: parsing, arithmetic, comparison and the canonical text form.
//!
//! A quantity is held as a signed count of nano-units (10⁻⁹), which covers every value upstream
//! keeps exactly (it rounds anything finer up to nano precision) up to about 10²⁹; larger values
//! are refused rather than silently wrapped. The text form is upstream's canonical one: the
//! format the quantity was written in (decimal SI, binary SI or decimal exponent), the mantissa
//! as a whole number and the largest suffix that keeps it whole (`1000m` → `1`, `0.5` → `500m`,
//! `1024Mi` → `1Gi`, `1536Mi` stays `1536Mi`).

use std::cmp::Ordering;
use std::fmt;

use serde_json::Value;

const NANO: i128 = 1_000_000_000;

/// How a quantity is written (upstream's `resource.Format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `1`, `500m`, `2k`, `3G`.
    DecimalSI,
    /// `1Ki`, `2Gi`.
    BinarySI,
    /// `1e3`, `12E-3`.
    DecimalExponent,
}

/// A parsed `resource.Quantity`.
#[derive(Clone, Copy, Debug)]
pub struct Quantity {
    nanos: i128,
    pub format: Format,
}

/// Upstream's message for text that is not a quantity.
pub const PARSE_ERROR: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

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

fn pow(base: i128, exp: u32) -> Option<i128> {
    base.checked_pow(exp)
}

/// `n / d` rounded away from zero (upstream rounds sub-nano precision up).
fn div_away(n: i128, d: i128) -> i128 {
    let q = n / d;
    if n % d == 0 {
        q
    } else if n < 0 {
        q - 1
    } else {
        q + 1
    }
}

/// `n / d` rounded towards +∞.
fn div_ceil(n: i128, d: i128) -> i128 {
    let q = n.div_euclid(d);
    if n.rem_euclid(d) == 0 {
        q
    } else {
        q + 1
    }
}

impl Quantity {
    pub const ZERO: Quantity = Quantity {
        nanos: 0,
        format: Format::DecimalSI,
    };

    /// Parses upstream's quantity syntax.
    pub fn parse(s: &str) -> Result<Quantity, String> {
        let err = || PARSE_ERROR.to_string();
        let bytes = s.as_bytes();
        let mut i = 0;
        let negative = match bytes.first() {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let (mut mantissa, mut frac_digits, mut digits, mut seen_dot) = (0i128, 0u32, 0u32, false);
        while i < bytes.len() {
            match bytes[i] {
                b'0'..=b'9' => {
                    mantissa = mantissa
                        .checked_mul(10)
                        .and_then(|m| m.checked_add(i128::from(bytes[i] - b'0')))
                        .ok_or_else(err)?;
                    digits += 1;
                    if seen_dot {
                        frac_digits += 1;
                    }
                }
                b'.' if !seen_dot => seen_dot = true,
                _ => break,
            }
            i += 1;
        }
        if digits == 0 {
            return Err(err());
        }
        let suffix = &s[i..];
        let (base, exponent, format): (i128, i32, Format) = match suffix {
            "" => (10, 0, Format::DecimalSI),
            "n" => (10, -9, Format::DecimalSI),
            "u" => (10, -6, Format::DecimalSI),
            "m" => (10, -3, Format::DecimalSI),
            "k" => (10, 3, Format::DecimalSI),
            "M" => (10, 6, Format::DecimalSI),
            "G" => (10, 9, Format::DecimalSI),
            "T" => (10, 12, Format::DecimalSI),
            "P" => (10, 15, Format::DecimalSI),
            "E" => (10, 18, Format::DecimalSI),
            "Ki" => (1024, 1, Format::BinarySI),
            "Mi" => (1024, 2, Format::BinarySI),
            "Gi" => (1024, 3, Format::BinarySI),
            "Ti" => (1024, 4, Format::BinarySI),
            "Pi" => (1024, 5, Format::BinarySI),
            "Ei" => (1024, 6, Format::BinarySI),
            s if s.len() > 1 && (s.starts_with('e') || s.starts_with('E')) => {
                let e: i32 = s[1..].parse().map_err(|_| err())?;
                (10, e, Format::DecimalExponent)
            }
            _ => return Err(err()),
        };
        // value = mantissa · 10^-frac · base^exponent, in nano-units.
        let nanos = if base == 10 {
            let shift = 9 - frac_digits as i64 + i64::from(exponent);
            if shift >= 0 {
                let f = u32::try_from(shift)
                    .ok()
                    .and_then(|s| pow(10, s))
                    .ok_or_else(err)?;
                mantissa.checked_mul(f).ok_or_else(err)?
            } else {
                match u32::try_from(-shift).ok().and_then(|s| pow(10, s)) {
                    Some(d) => div_away(mantissa, d),
                    // Smaller than anything representable: rounds up to one nano-unit.
                    None => i128::from(mantissa != 0),
                }
            }
        } else {
            let scaled = mantissa
                .checked_mul(pow(base, exponent as u32).ok_or_else(err)?)
                .ok_or_else(err)?;
            let shift = 9 - frac_digits as i64;
            if shift >= 0 {
                scaled
                    .checked_mul(pow(10, shift as u32).ok_or_else(err)?)
                    .ok_or_else(err)?
            } else {
                match u32::try_from(-shift).ok().and_then(|s| pow(10, s)) {
                    Some(d) => div_away(scaled, d),
                    None => i128::from(scaled != 0),
                }
            }
        };
        // Keep clear of the representation's edge so sums cannot overflow in practice.
        if nanos.unsigned_abs() > (i128::MAX / 4) as u128 {
            return Err(err());
        }
        Ok(Quantity {
            nanos: if negative { -nanos } else { nanos },
            format,
        })
    }

    /// A quantity from its JSON form (a string, or a bare number as upstream also accepts).
    pub fn from_json(v: &Value) -> Result<Quantity, String> {
        match v {
            Value::String(s) => Quantity::parse(s),
            Value::Number(n) => Quantity::parse(&n.to_string()),
            _ => Err(PARSE_ERROR.to_string()),
        }
    }

    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    /// The value rounded up to a whole unit (upstream's `Value()`).
    pub fn value(&self) -> i128 {
        div_ceil(self.nanos, NANO)
    }

    /// The value in thousandths, rounded up (upstream's `MilliValue()`).
    pub fn milli_value(&self) -> i128 {
        div_ceil(self.nanos, 1_000_000)
    }

    /// Adds `other` (upstream's `Add`: a zero quantity takes the other's format).
    pub fn add(&mut self, other: &Quantity) {
        if self.nanos == 0 {
            self.format = other.format;
        }
        self.nanos = self.nanos.saturating_add(other.nanos);
    }

    /// The canonical text form (upstream's `String()`).
    pub fn canonical(&self) -> String {
        if self.nanos == 0 {
            return "0".into();
        }
        let binary = self.format == Format::BinarySI
            && self.nanos.unsigned_abs() >= 1024 * NANO as u128
            && self.nanos % NANO == 0;
        if binary {
            let (mut v, mut k) = (self.nanos / NANO, 0usize);
            while k < 6 && v % 1024 == 0 {
                v /= 1024;
                k += 1;
            }
            let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][k];
            return format!("{v}{suffix}");
        }
        let (mut m, mut exp) = (self.nanos, -9i32);
        while m % 10 == 0 {
            m /= 10;
            exp += 1;
        }
        match exp.rem_euclid(3) {
            1 => {
                m *= 10;
                exp -= 1;
            }
            2 => {
                m *= 100;
                exp -= 2;
            }
            _ => {}
        }
        let si = match exp {
            -9 => Some("n"),
            -6 => Some("u"),
            -3 => Some("m"),
            0 => Some(""),
            3 => Some("k"),
            6 => Some("M"),
            9 => Some("G"),
            12 => Some("T"),
            15 => Some("P"),
            18 => Some("E"),
            _ => None,
        };
        match (self.format, si) {
            (Format::DecimalExponent, _) | (_, None) if exp != 0 => format!("{m}e{exp}"),
            (_, Some(s)) => format!("{m}{s}"),
            _ => m.to_string(),
        }
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> String {
        Quantity::parse(s).unwrap().canonical()
    }

    #[test]
    fn canonical_forms_are_upstreams() {
        for (input, want) in [
            ("1000m", "1"),
            ("0.5", "500m"),
            (".1", "100m"),
            ("1000", "1k"),
            ("1500", "1500"),
            ("1024Mi", "1Gi"),
            ("1536Mi", "1536Mi"),
            ("0.5Gi", "512Mi"),
            ("1.5Ki", "1536"),
            ("512", "512"),
            ("100Mi", "100Mi"),
            ("1e3", "1e3"),
            ("1E3", "1e3"),
            ("12e-3", "12e-3"),
            ("0", "0"),
            ("0Gi", "0"),
            ("-2", "-2"),
            ("+3k", "3k"),
            ("1n", "1n"),
            ("0.1n", "1n"),
            ("2E", "2E"),
            ("50m", "50m"),
        ] {
            assert_eq!(c(input), want, "{input}");
        }
    }

    #[test]
    fn garbage_is_refused() {
        for bad in ["", "abc", "1x", "1.2.3", "--1", "1Ki2", "e3", "1e", " 1"] {
            assert!(Quantity::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Quantity::parse("1e40").is_err());
    }

    #[test]
    fn values_round_up_and_compare_exactly() {
        let q = Quantity::parse("1500m").unwrap();
        assert_eq!((q.value(), q.milli_value()), (2, 1500));
        assert_eq!(Quantity::parse("100u").unwrap().milli_value(), 1);
        assert_eq!(
            Quantity::parse("1Gi").unwrap(),
            Quantity::parse("1024Mi").unwrap()
        );
        assert!(Quantity::parse("600m").unwrap() > Quantity::parse("0.5").unwrap());
        let mut sum = Quantity::ZERO;
        sum.add(&Quantity::parse("1Gi").unwrap());
        sum.add(&Quantity::parse("512Mi").unwrap());
        assert_eq!(sum.canonical(), "1536Mi");
        assert_eq!(
            Quantity::from_json(&serde_json::json!(2))
                .unwrap()
                .canonical(),
            "2"
        );
    }
}
