//! "Did you mean": the closest known word to a mistyped one (plan keys, Region codes).

/// The closest of `candidates` to `word`, when it is close enough to be what the admin meant.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word_lower = word.to_lowercase();
    let word_len = word.chars().count();
    let allowed = |candidate_len: usize| candidate_len.max(word_len).div_ceil(3);
    candidates
        .into_iter()
        // The distance is at least the difference in length: a candidate that differs more than
        // the allowed distance cannot match, and skipping it spares an O(n·m) table for a huge
        // value (an untrusted plan may hold one).
        .filter(|c| c.chars().count().abs_diff(word_len) <= allowed(c.chars().count()))
        .map(|c| (edit_distance(&word_lower, &c.to_lowercase()), c))
        .filter(|(distance, c)| *distance <= allowed(c.chars().count()))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

/// Optimal string alignment distance: like Levenshtein, but a swap of two neighbours (`usres`)
/// counts as one edit, which is how people mistype.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::did_you_mean;

    #[test]
    fn a_value_far_longer_than_every_candidate_suggests_nothing() {
        let huge = "x".repeat(4 << 20);
        assert_eq!(did_you_mean(&huge, ["users", "groups"]), None);
        assert_eq!(did_you_mean("grops", ["users", "groups"]), Some("groups"));
        assert_eq!(did_you_mean("us-east-11", ["us-east-1", "eu-west-1"]), Some("us-east-1"));
    }
}
