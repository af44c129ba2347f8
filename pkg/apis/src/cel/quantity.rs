//! Kubernetes resource quantities (`500m`, `1.5Gi`, `2e3`) for the CEL `quantity` library: a thin
//! layer over [`crate::quantity::Quantity`] (upstream's `resource.Quantity`: nano precision, the
//! canonical text form), with the operations the library needs.

use std::cmp::Ordering;
use std::fmt;

use crate::quantity::Quantity as Q;

const NANOS_PER_UNIT: i128 = 1_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity(Q);

impl Quantity {
    /// Parses upstream's quantity grammar; `None` when the string is not a quantity.
    pub fn parse(s: &str) -> Option<Quantity> {
        Q::parse(s).ok().map(Quantity)
    }

    pub fn sign(&self) -> i64 {
        self.0.sign() as i64
    }

    /// The value as an int64, when it is an integer that fits.
    pub fn as_i64(&self) -> Option<i64> {
        let n = self.0.nanos();
        if n % NANOS_PER_UNIT != 0 {
            return None;
        }
        i64::try_from(n / NANOS_PER_UNIT).ok()
    }

    pub fn as_f64(&self) -> f64 {
        self.0.nanos() as f64 / NANOS_PER_UNIT as f64
    }

    pub fn add(&self, other: &Quantity) -> Option<Quantity> {
        self.0.nanos().checked_add(other.0.nanos())?;
        let mut q = self.0;
        q.add(&other.0);
        Some(Quantity(q))
    }

    pub fn sub(&self, other: &Quantity) -> Option<Quantity> {
        self.0.nanos().checked_sub(other.0.nanos())?;
        let mut q = self.0;
        q.sub(&other.0);
        Some(Quantity(q))
    }

    pub fn from_i64(i: i64) -> Quantity {
        Quantity(Q::from_int(i))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.cmp(&other.0)
    }
}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
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
        // As upstream's ParseQuantity: "e3" is zero, "1e" a bad suffix.
        assert_eq!(q("e3").sign(), 0);
        for bad in ["", "1x", "1.2.3", "abc", " 1", "1e", "--1"] {
            assert!(Quantity::parse(bad).is_none(), "{bad}");
        }
        assert!((q("1.5").as_f64() - 1.5).abs() < 1e-12);
        assert_eq!(q("1536Mi").to_string(), "1536Mi");
    }
}
