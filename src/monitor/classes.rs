//! The classes a classifier's predictions and its ground truth name, interned once so that
//! the rings of predictions hold small indices instead of strings. Integer labels (what
//! scikit-learn's int64 `label` outputs hold) and their decimal text are the same class, so
//! feedback sent as `2` or `"2"` joins a prediction of 2.

use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassLabel {
    pub text: String,
    pub int: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct ClassTable {
    labels: Vec<ClassLabel>,
    by_int: HashMap<i64, u32>,
    by_text: HashMap<String, u32>,
    /// At most this many classes: feedback naming ever new labels must not grow memory.
    max: usize,
    /// The model declared its classes (`declare`): no other label is a class.
    closed: bool,
}

impl ClassTable {
    pub fn new(max: usize) -> Self {
        ClassTable { labels: Vec::new(), by_int: HashMap::new(), by_text: HashMap::new(), max, closed: false }
    }

    /// The index of integer label `v`, added if new; `None` once the table is full.
    pub fn int(&mut self, v: i64) -> Option<u32> {
        if let Some(&i) = self.by_int.get(&v) {
            return Some(i);
        }
        self.insert(ClassLabel { text: v.to_string(), int: Some(v) })
    }

    /// The index of text label `s` (or of the integer it spells), added if new.
    pub fn text(&mut self, s: &str) -> Option<u32> {
        if let Some(&i) = self.by_text.get(s) {
            return Some(i);
        }
        match s.parse::<i64>() {
            Ok(v) if v.to_string() == s => self.int(v),
            _ => self.insert(ClassLabel { text: s.to_owned(), int: None }),
        }
    }

    /// The classes a model declares (its `class_labels`), and no others from now on. A class
    /// with both an integer and a text (`0` and `setosa`) answers to either.
    pub fn declare(&mut self, classes: Vec<ClassLabel>) {
        for label in classes {
            let known = label.int.and_then(|v| self.by_int.get(&v)).or_else(|| self.by_text.get(&label.text));
            if known.is_none() {
                self.insert(label);
            }
        }
        self.closed = true;
    }

    /// Whether the model declared its classes, so that a label outside them is an error.
    pub fn closed(&self) -> bool {
        self.closed
    }

    /// The classes' texts, in order, for messages.
    pub fn texts(&self) -> Vec<&str> {
        self.labels.iter().map(|l| l.text.as_str()).collect()
    }

    fn insert(&mut self, label: ClassLabel) -> Option<u32> {
        if self.closed || self.labels.len() >= self.max {
            return None;
        }
        let i = u32::try_from(self.labels.len()).ok()?;
        if let Some(v) = label.int {
            self.by_int.insert(v, i);
        }
        self.by_text.insert(label.text.clone(), i);
        self.labels.push(label);
        Some(i)
    }

    pub fn get(&self, i: u32) -> Option<&ClassLabel> {
        self.labels.get(i as usize)
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// `classes` in scikit-learn's order (numeric when every label is an integer, else by
    /// text), as its metrics order their per-class results.
    pub fn sorted(&self, mut classes: Vec<u32>) -> Vec<u32> {
        let all_int = classes.iter().all(|&c| self.get(c).is_some_and(|l| l.int.is_some()));
        classes.sort_by(|&a, &b| {
            let (a, b) = (self.get(a), self.get(b));
            if all_int {
                a.and_then(|l| l.int).cmp(&b.and_then(|l| l.int))
            } else {
                a.map(|l| l.text.as_str()).cmp(&b.map(|l| l.text.as_str()))
            }
        });
        classes.dedup();
        classes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_and_their_text_are_one_class_and_the_table_is_bounded() {
        let mut t = ClassTable::new(4);
        let two = t.int(2).unwrap();
        assert_eq!(t.text("2"), Some(two));
        assert_ne!(t.text("02"), Some(two), "'02' is text, not the integer 2");
        let cat = t.text("cat").unwrap();
        assert_eq!(t.text("cat"), Some(cat));
        let ten = t.text("10").unwrap();
        assert_eq!(t.int(10), Some(ten));
        assert_eq!(t.len(), 4);
        assert_eq!(t.text("dog"), None, "full");
        assert_eq!(t.int(2), Some(two), "known labels still resolve when full");
        let mut ints = ClassTable::new(10);
        let idx: Vec<u32> = [10, 2, 1].iter().map(|&v| ints.int(v).unwrap()).collect();
        let order: Vec<i64> = ints.sorted(idx).iter().map(|&i| ints.get(i).unwrap().int.unwrap()).collect();
        assert_eq!(order, [1, 2, 10], "numeric, not lexicographic");
    }

    #[test]
    fn declared_classes_answer_to_their_index_and_name_and_no_other_label_is_one() {
        let mut t = ClassTable::new(10);
        let names = ["setosa", "versicolor", "virginica"];
        t.declare(
            names.iter().enumerate().map(|(i, n)| ClassLabel { text: n.to_string(), int: Some(i as i64) }).collect(),
        );
        assert!(t.closed());
        assert_eq!(t.int(0), t.text("setosa"));
        assert_eq!(t.text("2"), t.text("virginica"));
        let one = t.int(1).unwrap();
        assert_eq!(t.get(one).unwrap().text, "versicolor");
        assert_eq!(t.int(7), None);
        assert_eq!(t.text("rose"), None);
        assert_eq!(t.texts(), names);
    }
}
