//! Kubernetes resource quantities (`500m`, `1.5Gi`, `2e3`) for the CEL `quantity` library:
//! exact decimal values (mantissa × 10^exp), compared and added without rounding.

use std::cmp::Ordering;
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub struct Quantity {
    /// value = mantissa × 10^exp, mantissa without trailing zeros (0 has exp 0).
    mantissa: i128,
    exp: i32,
    text: String,
}

fn normalize(mut m: i128, mut e: i32) -> (i128, i32) {
    if m == 0 {
        return (0, 0);
    }
    while m % 10 == 0 {
        m /= 10;
        e += 1;
    }
    (m, e)
}

impl Quantity {
    /// Parses upstream's quantity grammar; `None` when the string is not a quantity.
    pub fn parse(s: &str) -> Option<Quantity> {
        let t = s.trim();
        if t.is_empty() || t != s {
            return None;
        }
        let (neg, body) = match t.as_bytes()[0] {
            b'-' => (true, &t[1..]),
            b'+' => (false, &t[1..]),
            _ => (false, t),
        };
        let n = body
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        let (num, suffix) = body.split_at(n);
        let (int, frac) = num.split_once('.').unwrap_or((num, ""));
        if (int.is_empty() && frac.is_empty()) || frac.contains('.') {
            return None;
        }
        let digits = format!("{int}{frac}");
        let digits = digits.trim_start_matches('0');
        if digits.len() > 36 {
            return None;
        }
        let mut m: i128 = if digits.is_empty() {
            0
        } else {
            digits.parse().ok()?
        };
        let mut e: i32 = -(frac.len() as i32);
        let mut pow2 = 0u32;
        match suffix {
            "" => {}
            "Ki" => pow2 = 10,
            "Mi" => pow2 = 20,
            "Gi" => pow2 = 30,
            "Ti" => pow2 = 40,
            "Pi" => pow2 = 50,
            "Ei" => pow2 = 60,
            "n" => e -= 9,
            "u" => e -= 6,
            "m" => e -= 3,
            "k" => e += 3,
            "M" => e += 6,
            "G" => e += 9,
            "T" => e += 12,
            "P" => e += 15,
            "E" => e += 18,
            x if x.starts_with(['e', 'E']) => {
                let x = &x[1..];
                let ok = !x.is_empty()
                    && x.trim_start_matches(['+', '-'])
                        .bytes()
                        .all(|b| b.is_ascii_digit())
                    && x.len() - x.trim_start_matches(['+', '-']).len() <= 1
                    && !x.trim_start_matches(['+', '-']).is_empty();
                if !ok {
                    return None;
                }
                e = e.checked_add(x.parse::<i32>().ok()?)?;
            }
            _ => return None,
        }
        if pow2 > 0 {
            m = m.checked_mul(1i128 << pow2)?;
        }
        if neg {
            m = -m;
        }
        let (mantissa, exp) = normalize(m, e);
        Some(Quantity {
            mantissa,
            exp,
            text: s.to_string(),
        })
    }

    fn from_parts(m: i128, e: i32) -> Quantity {
        let (mantissa, exp) = normalize(m, e);
        let text = if (0..20).contains(&exp) {
            format!("{}", mantissa * 10i128.pow(exp as u32))
        } else {
            format!("{mantissa}e{exp}")
        };
        Quantity {
            mantissa,
            exp,
            text,
        }
    }

    pub fn sign(&self) -> i64 {
        self.mantissa.signum() as i64
    }

    /// The value as an int64, when it is an integer that fits.
    pub fn as_i64(&self) -> Option<i64> {
        if self.exp < 0 {
            return None;
        }
        let p = 10i128.checked_pow(self.exp as u32)?;
        i64::try_from(self.mantissa.checked_mul(p)?).ok()
    }

    pub fn as_f64(&self) -> f64 {
        self.mantissa as f64 * 10f64.powi(self.exp)
    }

    fn aligned(&self, other: &Quantity) -> Option<(i128, i128, i32)> {
        let e = self.exp.min(other.exp);
        let a = self
            .mantissa
            .checked_mul(10i128.checked_pow((self.exp - e) as u32)?)?;
        let b = other
            .mantissa
            .checked_mul(10i128.checked_pow((other.exp - e) as u32)?)?;
        Some((a, b, e))
    }

    pub fn add(&self, other: &Quantity) -> Option<Quantity> {
        let (a, b, e) = self.aligned(other)?;
        Some(Quantity::from_parts(a.checked_add(b)?, e))
    }

    pub fn sub(&self, other: &Quantity) -> Option<Quantity> {
        let (a, b, e) = self.aligned(other)?;
        Some(Quantity::from_parts(a.checked_sub(b)?, e))
    }

    pub fn from_i64(i: i64) -> Quantity {
        Quantity::from_parts(i as i128, 0)
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        let (sa, sb) = (self.mantissa.signum(), other.mantissa.signum());
        if sa != sb || sa == 0 {
            return sa.cmp(&sb);
        }
        // Same sign: compare magnitudes by their decimal position, then digits.
        let mag = |q: &Quantity| {
            let d = q.mantissa.unsigned_abs().to_string();
            (d.len() as i64 + q.exp as i64, d)
        };
        let (pa, da) = mag(self);
        let (pb, db) = mag(other);
        let o = pa.cmp(&pb).then_with(|| {
            // Same leading position: compare the digit strings padded to equal length.
            let n = da.len().max(db.len());
            format!("{da:0<n$}").cmp(&format!("{db:0<n$}"))
        });
        if sa < 0 {
            o.reverse()
        } else {
            o
        }
    }
}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Eq for Quantity {}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap_or_else(|| panic!("{s}"))
    }

    #[test]
    fn parses_and_compares() {
        assert_eq!(q("1Gi").as_i64(), Some(1 << 30));
        assert_eq!(q("500m").as_i64(), None);
        assert!(q("500m") < q("1"));
        assert_eq!(q("1k").cmp(&q("1000")), Ordering::Equal);
        assert!(q("1Ki") > q("1k"));
        assert!(q("-1") < q("0"));
        assert!(q("-2") < q("-1"));
        assert_eq!(q("1.5").add(&q("500m")).and_then(|x| x.as_i64()), Some(2));
        assert_eq!(q("2e3").as_i64(), Some(2000));
        assert_eq!(q("0.1").sign(), 1);
        for bad in ["", "1x", "1.2.3", "abc", " 1", "1e", "--1", "e3"] {
            assert!(Quantity::parse(bad).is_none(), "{bad}");
        }
        assert!((q("1.5").as_f64() - 1.5).abs() < 1e-12);
    }
}
