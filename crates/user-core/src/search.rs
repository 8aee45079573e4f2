//! "Contains" search on a trigram index at ten million rows.
//!
//! `text LIKE '%term%'` on a `gin_trgm_ops` index makes Postgres intersect the posting lists of
//! every trigram of the term. A trigram that nearly every row holds (`ben`, `exa`, `com`, or
//! `han` when every last name is Hansen<n>) has a posting list of nearly every row, and walking
//! those dominates: at 10 000 000 memberships, `bulk4242@bench.example` took 1.4 s, though one
//! row matches. The index only has to narrow the rows down, not decide: so the query gives the
//! index the longest part of the term made of rare trigrams only (`k4242@`: 8 ms), and keeps
//! the exact condition, the whole term, as a filter on the rows the index returns. Which rows
//! match never depends on the choice; only the speed does.
//!
//! Which trigrams are common is read off a sample of the indexed texts ([`TrigramStats`]),
//! taken in the background and renewed every few minutes ([`Sampled`]). Until a sample exists,
//! and whenever the sample is small or the term has no common trigram, the index gets the
//! whole term, as a plain LIKE would.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A trigram held by this share of the sampled texts or more is common.
pub const COMMON_SHARE: f64 = 0.02;
/// The fewest texts a sample needs before it is used (below, shares are noise, and a table
/// that small is fast to search anyway).
pub const MIN_SAMPLE: usize = 1_000;
/// How many texts a sample reads.
pub const SAMPLE_SIZE: usize = 20_000;
/// The part given to the index holds at least this many trigrams (4 characters): a single
/// rare trigram can still stand for hundreds of thousands of rows to recheck.
const MIN_WINDOWS: usize = 2;

type Window = [char; 3];

fn windows(chars: &[char]) -> impl Iterator<Item = Window> + '_ {
    chars.windows(3).map(|w| [w[0], w[1], w[2]])
}

/// How many of the sampled texts hold each three-character window (as the lower-cased text,
/// character by character; close enough to pg_trgm's word trigrams to tell common from rare).
#[derive(Debug, Default)]
pub struct TrigramStats {
    texts: usize,
    counts: HashMap<Window, u32>,
}

impl TrigramStats {
    /// Counts the windows of `texts` (each window once per text).
    pub fn from_texts<I, S>(texts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut stats = Self::default();
        let mut seen = HashSet::new();
        for text in texts {
            let chars: Vec<char> = text.as_ref().chars().collect();
            seen.clear();
            seen.extend(windows(&chars));
            for w in seen.drain() {
                *stats.counts.entry(w).or_insert(0) += 1;
            }
            stats.texts += 1;
        }
        stats
    }

    /// How many texts the sample held.
    pub fn texts(&self) -> usize {
        self.texts
    }

    fn share(&self, w: &Window) -> f64 {
        f64::from(self.counts.get(w).copied().unwrap_or(0)) / self.texts.max(1) as f64
    }

    /// The part of `term` (already lower-cased) to give the index: the longest run of
    /// consecutive rare trigrams (of at least [`MIN_WINDOWS`]; on a tie, the rarer in sum), or
    /// the whole term when the sample is too small, when no trigram is common, or when no run
    /// is long enough. Always a substring of `term`.
    pub fn indexed_part<'a>(&self, term: &'a str) -> &'a str {
        if self.texts < MIN_SAMPLE {
            return term;
        }
        let chars: Vec<(usize, char)> = term.char_indices().collect();
        let plain: Vec<char> = chars.iter().map(|(_, c)| *c).collect();
        let shares: Vec<f64> = windows(&plain).map(|w| self.share(&w)).collect();
        if shares.iter().all(|s| *s < COMMON_SHARE) {
            return term;
        }
        // (windows, sum of shares, first window)
        let mut best: Option<(usize, f64, usize)> = None;
        let mut start = 0;
        while start < shares.len() {
            if shares[start] >= COMMON_SHARE {
                start += 1;
                continue;
            }
            let mut end = start;
            while end < shares.len() && shares[end] < COMMON_SHARE {
                end += 1;
            }
            let (len, sum) = (end - start, shares[start..end].iter().sum::<f64>());
            let better = match best {
                None => true,
                Some((l, s, _)) => len > l || (len == l && sum < s),
            };
            if len >= MIN_WINDOWS && better {
                best = Some((len, sum, start));
            }
            start = end;
        }
        let Some((len, _, first)) = best else {
            return term;
        };
        // windows first..first+len cover characters first..first+len+2
        let from = chars[first].0;
        let to = chars
            .get(first + len + 2)
            .map_or(term.len(), |(offset, _)| *offset);
        &term[from..to]
    }
}

/// A [`TrigramStats`] sample shared by the requests of one process, renewed in the background
/// when older than `max_age` (one renewal at a time; a failed one is logged and retried on a
/// later request). Each replica samples on its own: the sample only steers speed, never which
/// rows match, so replicas need not agree on it.
pub struct Sampled {
    max_age: Duration,
    current: Mutex<(Option<Instant>, Arc<TrigramStats>)>,
    renewing: AtomicBool,
}

impl Sampled {
    pub fn new(max_age: Duration) -> Self {
        Self {
            max_age,
            current: Mutex::new((None, Arc::new(TrigramStats::default()))),
            renewing: AtomicBool::new(false),
        }
    }

    /// The sample now (empty until the first one is taken). When it is missing or stale,
    /// starts `sample` (the texts) on the runtime and counts them on a blocking thread; this
    /// request does not wait for it.
    pub fn get<F, Fut, E>(self: &Arc<Self>, sample: F) -> Arc<TrigramStats>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<String>, E>> + Send + 'static,
        E: std::fmt::Display + Send + 'static,
    {
        let (taken, stats) = {
            let current = self.current.lock().unwrap_or_else(|p| p.into_inner());
            (current.0, current.1.clone())
        };
        let stale = taken.is_none_or(|t| t.elapsed() >= self.max_age);
        if stale && !self.renewing.swap(true, Ordering::AcqRel) {
            let this = self.clone();
            let texts = sample();
            tokio::spawn(async move {
                if let Err(e) = this.renew(texts).await {
                    tracing::warn!(error = %e, "the search's trigram sample failed");
                }
                this.renewing.store(false, Ordering::Release);
            });
        }
        stats
    }

    /// Takes a sample now and waits for it (for tests and tools; requests use [`Self::get`]).
    pub async fn renew<Fut, E>(&self, texts: Fut) -> Result<Arc<TrigramStats>, E>
    where
        Fut: Future<Output = Result<Vec<String>, E>>,
    {
        let texts = texts.await?;
        let stats = tokio::task::spawn_blocking(move || TrigramStats::from_texts(texts))
            .await
            .unwrap_or_default();
        let stats = Arc::new(stats);
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) =
            (Some(Instant::now()), stats.clone());
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 10 000 texts shaped like the bench's: every name is Hansen<n>, every email
    /// bulk<n>@bench.example.
    fn bench_like() -> TrigramStats {
        TrigramStats::from_texts((1..=10_000).map(|n| {
            let first = [
                "kari", "ola", "per", "anne", "lars", "ingrid", "nils", "sofie",
            ][n % 8];
            format!("{first} hansen{n} bulk{n}@bench.example")
        }))
    }

    #[test]
    fn the_index_gets_the_rare_run_of_a_term() {
        let stats = bench_like();
        assert_eq!(stats.texts(), 10_000);
        assert_eq!(stats.indexed_part("bulk4242@bench.example"), "k4242@");
        assert_eq!(stats.indexed_part("bulk4242@"), "k4242@");
        assert_eq!(stats.indexed_part("hansen4242 "), "n4242 ");
    }

    #[test]
    fn the_whole_term_when_nothing_is_gained() {
        let stats = bench_like();
        // every trigram common: nothing rare to give the index
        assert_eq!(stats.indexed_part("kari hansen"), "kari hansen");
        // too short for a trigram, or no trigram common
        assert_eq!(stats.indexed_part("ka"), "ka");
        assert_eq!(stats.indexed_part("zqxw"), "zqxw");
        // a rare run of one trigram only is not enough
        assert_eq!(stats.indexed_part("hansen4x"), "hansen4x");
        // no sample, or too small a sample
        assert_eq!(
            TrigramStats::default().indexed_part("bulk4242@"),
            "bulk4242@"
        );
        let small = TrigramStats::from_texts(["bulk1@bench.example"; 10]);
        assert_eq!(small.indexed_part("bulk4242@"), "bulk4242@");
    }

    #[test]
    fn the_part_is_cut_on_character_boundaries() {
        let stats = TrigramStats::from_texts((0..2_000).map(|n| format!("øystein {n} æøå")));
        let part = stats.indexed_part("øystein 1999x æøå");
        assert!("øystein 1999x æøå".contains(part));
        assert_eq!(part, "1999x æ");
    }

    #[tokio::test]
    async fn a_stale_sample_is_renewed_in_the_background() {
        let sampled = Arc::new(Sampled::new(Duration::from_secs(60)));
        let texts = || async { Ok::<_, String>(vec!["abc".to_owned(); MIN_SAMPLE]) };
        assert_eq!(sampled.get(texts).texts(), 0);
        for _ in 0..100 {
            if sampled.get(texts).texts() == MIN_SAMPLE {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the sample was never taken");
    }
}
