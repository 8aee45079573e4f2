//! The login-timing check shared by the services' security tests: a login for an unknown
//! account must take as long as one for a known account with a wrong password.

use std::future::Future;
use std::time::Duration;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Times `attempt(known)` against `attempt(unknown)` (each returns one attempt's duration) and
/// panics unless their medians are within 20 % of each other. Up to three rounds of 7
/// interleaved pairs after a warm-up: noise from a busy machine only adds time at random, so
/// one round within 20 % is enough; a real difference fails every round.
pub async fn assert_medians_within_20_percent<F, Fut>(
    attempt: F,
    known: &'static str,
    unknown: &'static str,
) where
    F: Fn(&'static str) -> Fut,
    Fut: Future<Output = Duration>,
{
    // Warm-up: the first unknown account also computes the dummy hash.
    attempt(unknown).await;
    attempt(known).await;
    let mut rounds = Vec::new();
    for _ in 0..3 {
        let (mut k, mut u) = (Vec::new(), Vec::new());
        for _ in 0..7 {
            k.push(attempt(known).await);
            u.push(attempt(unknown).await);
        }
        let (k, u) = (median(k), median(u));
        let diff =
            k.as_secs_f64().max(u.as_secs_f64()) / k.as_secs_f64().min(u.as_secs_f64()) - 1.0;
        rounds.push(format!(
            "median known {k:?}, unknown {u:?}, difference {diff:.2}"
        ));
        if diff <= 0.2 {
            println!("{rounds:#?}");
            return;
        }
    }
    panic!("login timing differs by more than 20 %: {rounds:#?}");
}
