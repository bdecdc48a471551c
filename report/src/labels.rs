//! Text labels in rows without overlaps: each row keeps the spans already taken, and a label goes to the
//! first of its candidate places that is free (or is left out, its words staying in the tooltip and the
//! table).

/// Taken horizontal spans, per row.
#[derive(Debug, Clone)]
pub struct Rows {
    taken: Vec<Vec<(f64, f64)>>,
}

impl Rows {
    pub fn new(rows: usize) -> Rows {
        Rows {
            taken: vec![Vec::new(); rows],
        }
    }

    /// Marks `a..b` of `row` as taken.
    pub fn take(&mut self, row: usize, a: f64, b: f64) {
        if let Some(r) = self.taken.get_mut(row) {
            r.push((a.min(b), a.max(b)));
        }
    }

    pub fn is_free(&self, row: usize, a: f64, b: f64) -> bool {
        self.taken
            .get(row)
            .is_none_or(|r| r.iter().all(|&(x, y)| b <= x || a >= y))
    }

    /// The first free candidate span, which becomes taken; `None` when every one overlaps something.
    pub fn place(&mut self, row: usize, candidates: &[(f64, f64)]) -> Option<usize> {
        let i = candidates
            .iter()
            .position(|&(a, b)| self.is_free(row, a, b))?;
        let (a, b) = candidates[i];
        self.take(row, a, b);
        Some(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_take_the_first_free_place() {
        let mut r = Rows::new(2);
        r.take(0, 100.0, 150.0);
        assert_eq!(r.place(0, &[(120.0, 180.0), (160.0, 200.0)]), Some(1));
        assert_eq!(
            r.place(0, &[(170.0, 190.0)]),
            None,
            "taken by the label before"
        );
        assert_eq!(r.place(1, &[(120.0, 180.0)]), Some(0), "rows are separate");
        assert!(r.is_free(0, 150.0, 160.0), "touching is not overlapping");
        assert!(
            r.is_free(9, 0.0, 1.0),
            "a row that does not exist holds nothing"
        );
    }
}
